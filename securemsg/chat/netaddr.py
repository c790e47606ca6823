"""The client address of a connection, as the trusted-proxy configuration resolves it."""

from __future__ import annotations

from typing import Any

from securemsg.chat.conf import chat_settings


def client_address(scope: dict[str, Any]) -> str:
    """Return the client's IP for ``scope``.

    With N trusted proxies in front, the address is the N-th entry from the
    right of ``X-Forwarded-For`` (what the closest trusted proxy saw); the
    entries left of it are written by the client and ignored.
    """
    peer = (scope.get("client") or ("unknown", 0))[0]
    proxies = chat_settings.trusted_proxy_count
    if proxies <= 0:
        return str(peer)
    for key, value in scope.get("headers", []):
        if key.lower() == b"x-forwarded-for":
            hops = [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
            if len(hops) >= proxies:
                return str(hops[-proxies])
    return str(peer)
