"""The client address of a connection, as the trusted-proxy configuration resolves it.

One rule for WebSockets (rate limits, audit) and HTTP (django-axes lockouts,
audit, the metrics allow-list), so that both agree on who the client is:
with N trusted proxies in front (``SECUREMSG_TRUSTED_PROXY_COUNT``), the
address is the N-th entry from the right of ``X-Forwarded-For`` (what the
closest trusted proxy saw); entries left of it are written by the client
and ignored. docs/deployment.md's nginx *sets* the header to
``$remote_addr``, so with one proxy it holds exactly the client.

django-ipware is not used for HTTP: with ``proxy_count=1`` it expects the
proxy's own address in the header as well (``<client>, <proxy>``) and falls
back to ``REMOTE_ADDR`` (the proxy, i.e. one address for everybody) on a
header like nginx's, which is the misconfiguration this module avoids.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any, Final

from securemsg.chat.conf import chat_settings
from securemsg.ops import metrics

__all__ = ["MISMATCH_ADVICE", "client_address", "request_client_address"]

logger = logging.getLogger("securemsg.proxy")

#: What each kind of mismatch between the headers and the configuration means.
MISMATCH_ADVICE: Final = {
    "untrusted_header": (
        "a request carries X-Forwarded-For but SECUREMSG_TRUSTED_PROXY_COUNT is 0: if a proxy "
        "is in front, every client shares its address for lockouts, limits and audit (one "
        "attacker can lock everybody out); set the count. Otherwise a client sent the header "
        "and it was ignored"
    ),
    "missing_header": (
        "SECUREMSG_TRUSTED_PROXY_COUNT is set but a request came without enough X-Forwarded-For "
        "entries: a worker is reachable without the proxy, or the proxy does not set the header "
        "(docs/deployment.md, nginx); the socket address was used"
    ),
    "bad_address": (
        "the X-Forwarded-For entry the trusted proxy should have written is not an IP address; "
        "the socket address was used"
    ),
}
_warned: set[str] = set()


def _mismatch(kind: str) -> None:
    """Count a mismatch; log the advice once per kind and process (not per request)."""
    metrics.proxy_header_mismatch(kind)
    if kind not in _warned:
        _warned.add(kind)
        logger.warning("proxy configuration mismatch (%s): %s", kind, MISMATCH_ADVICE[kind])


def _resolve(peer: str, forwarded_for: str | None, proxies: int) -> str:
    """The client address given the peer, the X-Forwarded-For value and the proxy count."""
    if proxies <= 0:
        if forwarded_for:
            _mismatch("untrusted_header")
        return peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    if len(hops) < proxies:
        _mismatch("missing_header")
        return peer
    candidate = hops[-proxies]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        # A trusted proxy never writes this; refuse to key limits or audit rows on it.
        _mismatch("bad_address")
        return peer
    return candidate


def client_address(scope: dict[str, Any]) -> str:
    """Return the client's IP for an ASGI ``scope``."""
    peer = str((scope.get("client") or ("unknown", 0))[0])
    # Several headers count as one list, in order, as Django joins them for HTTP.
    values = [
        value.decode("latin-1")
        for key, value in scope.get("headers", [])
        if key.lower() == b"x-forwarded-for"
    ]
    return _resolve(peer, ",".join(values), chat_settings.trusted_proxy_count)


def request_client_address(request: Any) -> str | None:
    """Return the client's IP for a Django ``HttpRequest`` (``AXES_CLIENT_IP_CALLABLE``)."""
    meta = request.META
    peer = meta.get("REMOTE_ADDR")
    if not peer:
        return None
    return _resolve(str(peer), meta.get("HTTP_X_FORWARDED_FOR"), chat_settings.trusted_proxy_count)
