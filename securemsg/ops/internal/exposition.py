"""Which registry a scrape reads, and who may scrape.

Per-process mode (no ``PROMETHEUS_MULTIPROC_DIR``): the default registry of
this process (django-prometheus, our metrics, process metrics). Multiprocess
mode: a fresh registry that adds up the files every process wrote in that
directory. Either way the database-state gauges are added.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from enum import Enum

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

from securemsg.ops.internal.collector import DatabaseStateCollector

__all__ = ["Access", "check_access", "multiprocess_dir", "registry"]

_registered = False


def multiprocess_dir() -> str | None:
    """The multiprocess directory, when that mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def registry() -> CollectorRegistry:
    """The registry to expose for this scrape."""
    global _registered
    if multiprocess_dir():
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        combined.register(DatabaseStateCollector())
        return combined
    if not _registered:
        REGISTRY.register(DatabaseStateCollector())
        _registered = True
    return REGISTRY


class Access(Enum):
    """Outcome of the access check; the value is the HTTP status to answer."""

    ALLOWED = 200
    NO_CREDENTIALS = 401
    FORBIDDEN = 403
    DISABLED = 404


def _token() -> str:
    value = getattr(settings, "SECUREMSG_METRICS_TOKEN", "")
    return value.reveal() if hasattr(value, "reveal") else str(value or "")


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(entry.strip(), strict=False)
        for entry in getattr(settings, "SECUREMSG_METRICS_ALLOW", [])
        if entry.strip()
    ]


def _client_ip(request: HttpRequest) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # The same resolution as the lockout and the audit log (trusted proxy count).
    from axes.helpers import get_client_ip_address

    try:
        return ipaddress.ip_address(str(get_client_ip_address(request) or "").strip())
    except ValueError:
        return None


def check_access(request: HttpRequest) -> Access:
    """Token and/or network allow-list; nothing configured means metrics are off (404).

    When both are set, a scrape needs both (the allow-list is checked first).
    """
    token = _token()
    try:
        networks = _networks()
    except ValueError:
        # A bad entry (system check ops.E001) must not open the endpoint.
        return Access.FORBIDDEN
    if not token and not networks:
        return Access.DISABLED
    if networks:
        address = _client_ip(request)
        if address is None or not any(address in network for network in networks):
            return Access.FORBIDDEN
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return Access.NO_CREDENTIALS
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return Access.FORBIDDEN
    return Access.ALLOWED
