"""ASGI wrappers that refuse a WebSocket with a close code the client can read.

Channels' own validators reject the upgrade with HTTP 403, which a browser
cannot tell apart from a network error. securemsg/1 accepts the upgrade and
closes at once with 4403 (origin) or 4401 (no sign-in), and logs why. The
origin is checked first, before the session is even loaded.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from securemsg.chat.conf import chat_settings
from securemsg.chat.netaddr import client_address
from securemsg.protocol import CloseCode

logger = logging.getLogger("securemsg.chat")

Scope = dict[str, Any]
ASGIApp = Any


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Whether a WebSocket ``Origin`` may connect (protocol.md, "Transport")."""
    if not origin:
        return False
    origin = origin.strip().lower()
    allowed = [o.strip().lower().rstrip("/") for o in chat_settings.allowed_origins]
    if allowed:
        return origin in allowed
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
        return False
    if not validate_host(parts.hostname, settings.ALLOWED_HOSTS):
        return False
    return host is not None and parts.netloc == host.strip().lower()


async def accept_and_close(receive: Any, send: Any, code: int) -> None:
    """Complete the WebSocket handshake, then close with ``code``."""
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": int(code)})


class OriginGuard:
    """Close with 4403 unless the ``Origin`` is allowed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            origin = _header(scope, b"origin")
            if not origin_allowed(origin, _header(scope, b"host")):
                logger.warning(
                    "websocket refused: origin not allowed (origin %r, host %r, client %s)",
                    (origin or "")[:100],
                    (_header(scope, b"host") or "")[:100],
                    client_address(scope),
                )
                await accept_and_close(receive, send, CloseCode.ORIGIN_NOT_ALLOWED)
                return
        await self.app(scope, receive, send)


class SignedInGuard:
    """Close with 4401 unless the session belongs to an active, signed-in user.

    Must sit inside Channels' ``AuthMiddlewareStack`` so ``scope["user"]`` is set.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            user = scope.get("user")
            if user is None or not user.is_authenticated or not user.is_active:
                signed_in = user is not None and user.is_authenticated
                why = "account inactive" if signed_in else "no signed-in session"
                logger.warning(
                    "websocket refused: not signed in (%s, client %s)", why, client_address(scope)
                )
                await accept_and_close(receive, send, CloseCode.NOT_LOGGED_IN)
                return
        await self.app(scope, receive, send)
