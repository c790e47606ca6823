"""System checks of the operations settings (``manage.py check``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core import checks

__all__ = ["check_metrics_allow", "register"]


def check_metrics_allow(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every ``SECUREMSG_METRICS_ALLOW`` entry is an address or network."""
    errors: list[checks.CheckMessage] = []
    for entry in getattr(settings, "SECUREMSG_METRICS_ALLOW", []):
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            errors.append(
                checks.Error(
                    f"SECUREMSG_METRICS_ALLOW: {entry!r} is not an IP address or network",
                    hint="Use CIDR notation, e.g. 10.0.0.0/8,127.0.0.1",
                    id="ops.E001",
                )
            )
    return errors


def register() -> None:
    """Register the checks (called from ``OpsConfig.ready``)."""
    checks.register(check_metrics_allow, checks.Tags.security)
