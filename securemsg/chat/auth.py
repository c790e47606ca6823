"""Channels' session and user middleware, with the user load on the database thread.

Channels' ``AuthMiddleware`` loads the session and the user through
``database_sync_to_async``, which opens and closes a database connection per
call under the shipped ``CONN_MAX_AGE = 0``. This one runs Channels' own
``get_user`` (same session checks, same ``scope["user"]``) on the WebSocket
side's database thread (:mod:`securemsg.chat.dbthread`), whose connection
stays open.
"""

from __future__ import annotations

from typing import Any

from channels.auth import AuthMiddleware, get_user
from channels.sessions import CookieMiddleware, SessionMiddleware

from securemsg.chat import dbthread

__all__ = ["DatabaseThreadAuthMiddleware", "auth_middleware_stack"]

#: Channels' ``get_user`` without its ``database_sync_to_async`` wrapper.
_load_user = get_user.__wrapped__


class DatabaseThreadAuthMiddleware(AuthMiddleware):  # type: ignore[misc]
    """Populates ``scope["user"]`` from the Django session, on the database thread."""

    async def resolve_scope(self, scope: dict[str, Any]) -> None:
        scope["user"]._wrapped = await dbthread.run(_load_user, scope)


def auth_middleware_stack(inner: Any) -> Any:
    """Cookies, the Django session and the signed-in user, like ``AuthMiddlewareStack``."""
    return CookieMiddleware(SessionMiddleware(DatabaseThreadAuthMiddleware(inner)))
