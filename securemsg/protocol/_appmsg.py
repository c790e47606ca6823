"""Application messages carried in records (protocol.md, "Application messages").

JSON-level faults (a missing required field, a wrong JSON type) raise
MalformedMessageError (4400, the session ends). Values of the right type
that are out of range do not end the session: the parser returns an
``ErrorReply`` that the server seals and sends instead of an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._constants import (
    HISTORY_LIMIT_DEFAULT,
    HISTORY_LIMIT_MAX,
    HISTORY_LIMIT_MIN,
    MAX_BODY_BYTES,
    MAX_ID_LENGTH,
)
from ._framing import require_bool, require_int, require_str
from .exceptions import MalformedMessageError

ERROR_CODES = frozenset(
    {"unknown_user", "body_too_long", "rate_limited", "unknown_message", "bad_request"}
)


@dataclass(frozen=True)
class ErrorReply:
    """An ``error`` answer: a request failed but the session goes on."""

    id: str | None
    code: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """Return the record plaintext of this error."""
        return {"t": "error", "id": self.id, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class SendRequest:
    """``send``: store a message for ``to`` and answer with an ack."""

    id: str
    to: str
    body: str


@dataclass(frozen=True)
class HistoryRequest:
    """``history``: a page of the conversation with ``with_``."""

    id: str | None
    with_: str
    before: str | None
    limit: int


@dataclass(frozen=True)
class PingRequest:
    """``ping``: answered by ``pong``."""

    id: str | None


@dataclass(frozen=True)
class DeliveredNotice:
    """``delivered``: the recipient confirms a ``mid``; it gets no answer."""

    mid: str


ClientRequest = SendRequest | HistoryRequest | PingRequest | DeliveredNotice


def _optional_id(obj: Mapping[str, Any]) -> str | None:
    if "id" not in obj:
        return None
    return require_str(obj, "id")


def body_size_ok(body: str) -> bool:
    """Return whether ``body`` fits the 4,096-byte UTF-8 limit."""
    return len(body.encode("utf-8", "surrogatepass")) <= MAX_BODY_BYTES


def parse_client_request(obj: Mapping[str, Any]) -> ClientRequest | ErrorReply:
    """Validate a client's record plaintext (server side).

    Order: ``t`` and ``id`` types (4400), ``id`` length (bad_request with
    id null), unknown ``t`` (bad_request), fields (4400), ranges (error).
    """
    kind = require_str(obj, "t")
    request_id = _optional_id(obj)
    if request_id is not None and len(request_id) > MAX_ID_LENGTH:
        return ErrorReply(None, "bad_request", f"id longer than {MAX_ID_LENGTH} characters")
    if kind == "send":
        if request_id is None:
            raise MalformedMessageError("send requires an id")
        to, body = require_str(obj, "to"), require_str(obj, "body")
        if not body_size_ok(body):
            return ErrorReply(request_id, "body_too_long", f"body exceeds {MAX_BODY_BYTES} bytes")
        return SendRequest(request_id, to, body)
    if kind == "history":
        return _parse_history(obj, request_id)
    if kind == "ping":
        return PingRequest(request_id)
    if kind == "delivered":
        return DeliveredNotice(require_str(obj, "mid"))
    return ErrorReply(request_id, "bad_request", "unknown message type")


def _parse_history(obj: Mapping[str, Any], request_id: str | None) -> HistoryRequest | ErrorReply:
    with_ = require_str(obj, "with")
    before = obj.get("before")
    if before is not None and not isinstance(before, str):
        raise MalformedMessageError("before must be a string or null")
    limit = require_int(obj, "limit") if "limit" in obj else HISTORY_LIMIT_DEFAULT
    if not HISTORY_LIMIT_MIN <= limit <= HISTORY_LIMIT_MAX:
        return ErrorReply(request_id, "bad_request", "limit must be 1..100")
    return HistoryRequest(request_id, with_, before, limit)


# Builders (client requests and server messages), so that both adapters
# produce exactly the shapes of protocol.md.


def send_request(request_id: str, to: str, body: str) -> dict[str, Any]:
    """Return a ``send`` request."""
    return {"t": "send", "id": request_id, "to": to, "body": body}


def history_request(
    with_: str,
    *,
    before: str | None = None,
    limit: int = HISTORY_LIMIT_DEFAULT,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Return a ``history`` request."""
    message: dict[str, Any] = {"t": "history", "with": with_, "before": before, "limit": limit}
    if request_id is not None:
        message["id"] = request_id
    return message


def ping_request(request_id: str | None = None) -> dict[str, Any]:
    """Return a ``ping`` request."""
    return {"t": "ping"} if request_id is None else {"t": "ping", "id": request_id}


def delivered_notice(mid: str) -> dict[str, Any]:
    """Return a ``delivered`` notice."""
    return {"t": "delivered", "mid": mid}


def ack_message(request_id: str, mid: str, ts: str) -> dict[str, Any]:
    """Return the ``ack`` of a stored ``send``."""
    return {"t": "ack", "id": request_id, "mid": mid, "ts": ts}


def chat_message(*, mid: str, sender: str, to: str, body: str, ts: str) -> dict[str, Any]:
    """Return a ``msg`` delivery."""
    return {"t": "msg", "mid": mid, "from": sender, "to": to, "body": body, "ts": ts}


def receipt_message(mid: str) -> dict[str, Any]:
    """Return a ``receipt`` (the only state is ``delivered``)."""
    return {"t": "receipt", "mid": mid, "state": "delivered"}


def history_message(
    request_id: str | None, with_: str, messages: list[dict[str, Any]], more: bool
) -> dict[str, Any]:
    """Return a ``history`` answer; ``messages`` are oldest first, each with ``delivered``."""
    message: dict[str, Any] = {"t": "history", "with": with_, "messages": messages, "more": more}
    if request_id is not None:
        message["id"] = request_id
    return message


def pong_message(request_id: str | None) -> dict[str, Any]:
    """Return the ``pong`` answering a ``ping`` (echoing its ``id`` if it had one)."""
    return {"t": "pong"} if request_id is None else {"t": "pong", "id": request_id}


# Server messages as the client reads them.


@dataclass(frozen=True)
class ServerMessage:
    """A validated server message: ``t`` plus its checked fields as given."""

    t: str
    fields: dict[str, Any]


_MSG_FIELDS = ("mid", "from", "to", "body", "ts")
_SERVER_STR_FIELDS: dict[str, tuple[str, ...]] = {
    "ready": ("session",),
    "ack": ("id", "mid", "ts"),
    "msg": _MSG_FIELDS,
    "receipt": ("mid", "state"),
    "history": ("with",),
    "pong": (),
    "error": ("code", "message"),
}


def parse_server_message(obj: Mapping[str, Any]) -> ServerMessage | None:
    """Validate a server's record plaintext (client side).

    Returns None for an unknown ``t``, which a client ignores so that a
    newer server can add message types. Raises MalformedMessageError for
    a missing or mistyped field of a known type.
    """
    kind = require_str(obj, "t")
    if kind not in _SERVER_STR_FIELDS:
        return None
    for name in _SERVER_STR_FIELDS[kind]:
        require_str(obj, name)
    if kind in ("pong", "error", "history") and obj.get("id") is not None:
        require_str(obj, "id")
    if kind == "history":
        require_bool(obj, "more")
        items = obj.get("messages")
        if not isinstance(items, list):
            raise MalformedMessageError("messages must be a list")
        for item in items:
            if not isinstance(item, dict):
                raise MalformedMessageError("history messages must be objects")
            for name in _MSG_FIELDS:
                require_str(item, name)
            require_bool(item, "delivered")
    return ServerMessage(kind, dict(obj))
