"""System checks: bad audit configuration stops start-up (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.db import connections


@register()
def check_audit_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``audit.E001``: the checkpoint interval; ``audit.E002``: SQLite must serialize writers."""
    errors: list[CheckMessage] = []
    every = getattr(settings, "SECUREMSG_AUDIT_CHECKPOINT_EVERY", 1000)
    if not isinstance(every, int) or isinstance(every, bool) or every < 0:
        errors.append(
            Error(
                "SECUREMSG_AUDIT_CHECKPOINT_EVERY must be an integer >= 0",
                hint="0 turns automatic checkpoints off; the default is 1000.",
                id="audit.E001",
            )
        )
    connection = connections["default"]
    if connection.vendor == "sqlite":
        mode = connection.settings_dict.get("OPTIONS", {}).get("transaction_mode")
        if mode != "IMMEDIATE":
            errors.append(
                Error(
                    "SQLite must run with OPTIONS transaction_mode='IMMEDIATE'",
                    hint="The audit chain relies on it to serialize writers.",
                    id="audit.E002",
                )
            )
    return errors
