"""Request and connection ids that tie a log line, an audit event and a metric together.

``RequestIdMiddleware`` binds a ``request_id`` for each HTTP request and the
WebSocket consumer binds a ``connection_id`` for each connection. Both live
in context variables: every log line written while they are bound carries
them (``securemsg.ops.logs``), and so does every audit event
(``securemsg.audit`` adds ``correlation_fields()`` to the event's details).
This module imports nothing of Django so that settings and the audit writer
can use it at any time.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar, Token
from typing import Final

__all__ = [
    "bind_connection",
    "bind_request",
    "correlation_fields",
    "is_valid_id",
    "new_id",
    "unbind_request",
]

#: Shape of an id accepted from a trusted proxy's ``X-Request-ID`` header.
_ID_RE: Final = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
#: Random bytes per generated id (16 hex characters: unique enough per day of logs).
_ID_BYTES: Final = 8

_request_id: ContextVar[str | None] = ContextVar("securemsg_request_id", default=None)
_connection_id: ContextVar[str | None] = ContextVar("securemsg_connection_id", default=None)


def new_id() -> str:
    """A fresh random id (hex)."""
    return secrets.token_hex(_ID_BYTES)


def is_valid_id(value: str) -> bool:
    """Whether ``value`` may be used as an id (characters and length only)."""
    return bool(_ID_RE.match(value))


def bind_request(request_id: str) -> Token[str | None]:
    """Bind ``request_id`` to the current context; pass the token to ``unbind_request``."""
    return _request_id.set(request_id)


def unbind_request(token: Token[str | None]) -> None:
    """Restore the request id that was bound before ``bind_request``."""
    _request_id.reset(token)


def bind_connection() -> str:
    """Bind a new connection id to the current task (one per WebSocket) and return it.

    The consumer's handlers all run in the task that accepted the socket, so
    the id stays bound until the connection ends.
    """
    connection_id = new_id()
    _connection_id.set(connection_id)
    return connection_id


def correlation_fields() -> dict[str, str]:
    """The ids bound now, as ``{"request_id": ..., "connection_id": ...}`` (only those set)."""
    fields: dict[str, str] = {}
    request_id = _request_id.get()
    if request_id is not None:
        fields["request_id"] = request_id
    connection_id = _connection_id.get()
    if connection_id is not None:
        fields["connection_id"] = connection_id
    return fields
