"""The tamper-evident audit log.

Every part of securemsg records security-relevant events through
:func:`record`; readiness checks and status pages ask :func:`sink_health`. Errors are in
:mod:`securemsg.audit.exceptions`; formats and the event catalog in
``docs/audit.md``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from securemsg.audit.exceptions import (
    AuditError,
    AuditFieldError,
    AuditKeyError,
    AuditSinkError,
    AuditUnavailable,
)
from securemsg.audit.internal.health import SinkHealth, SinkStatus

__all__ = [
    "AuditError",
    "AuditFieldError",
    "AuditKeyError",
    "AuditSinkError",
    "AuditUnavailable",
    "PreparedEvent",
    "SinkHealth",
    "SinkStatus",
    "prepare",
    "record",
    "record_prepared",
    "sink_health",
]


def record(event: str, *, actor: Any = None, request: Any = None, **fields: Any) -> int:
    """Append ``event`` to the audit chain and return its sequence number.

    ``actor`` is the user who acted (default: the signed-in user of
    ``request``); ``request`` is an ``HttpRequest`` or an ASGI scope, used for
    the source address and user agent (default: the request being served).
    ``fields`` may hold ``outcome`` (``success``, ``failure``, ``denied``,
    ``error``; default ``success``), ``target_type``, ``target_id``,
    ``details`` (a small JSON object) and ``ip``; any other keyword is added
    to ``details``. Secrets are refused, never stored.

    Runs inside the caller's transaction when there is one, so an audit
    failure rolls the caller's action back.

    Raises:
        AuditFieldError: a field names a secret or is malformed (a bug in the caller).
        AuditUnavailable: the event could not be written; the action must not happen.

    Example::

        record("key.rotated", actor=request.user, request=request,
               target_type="server_key", target_id=new_kid, previous_kid=old_kid)
    """
    # Imported here: this package is imported while Django loads apps,
    # before models may be touched.
    from securemsg.audit.internal.writer import record as _record

    return _record(event, actor=actor, request=request, **fields)


@dataclasses.dataclass(frozen=True)
class PreparedEvent:
    """An event checked and cleaned by :func:`prepare`, ready for :func:`record_prepared`."""

    name: str
    fields: dict[str, Any] = dataclasses.field(repr=False)


def prepare(event: str, *, actor: Any = None, request: Any = None, **fields: Any) -> PreparedEvent:
    """Check and clean an event as :func:`record` would, without writing it.

    Takes the same arguments as :func:`record` and reads the request and
    connection ids bound now, so call it where the event happens (it touches
    no database and may run on the event loop).

    Raises:
        AuditFieldError: a field names a secret or is malformed (a bug in the caller).
    """
    from securemsg.audit.internal.writer import build_fields

    return PreparedEvent(event, build_fields(event, actor, request, fields))


def record_prepared(events: list[PreparedEvent]) -> list[int]:
    """Append prepared events in one transaction (a group commit); return their sequence numbers.

    Each event is chained and written to both sinks as :func:`record` writes
    it; the second sink's lines share one fsync and the rows one commit, so
    a server recording events of many connections at once pays for one
    durable write per group. All or none are written.

    Raises:
        AuditUnavailable: the events could not be written; none of their actions may happen.

    Example::

        events = [prepare("handshake.completed", actor=user, request=scope)]
        seqs = record_prepared(events)
    """
    from securemsg.audit.internal.writer import append_many

    return append_many([event.fields for event in events])


def sink_health() -> SinkHealth:
    """Whether both sinks (the database chain and the JSON Lines file) can take events.

    Reads only, never writes. ``result.ok`` is False when the next event, and
    so the action it records, would be refused; ``result.database`` and
    ``result.file`` are ``SinkStatus(name, ok, detail, last_seq)`` with a
    short ``detail`` fit for an operator (no event field, no secret).
    Opening the audit key here also keeps it for this process, so calling
    it at start-up (a readiness check) loads the key before any event.

    Example::

        health = sink_health()
        if not health.ok:
            return JsonResponse({"audit": health.file.detail}, status=503)
    """
    from securemsg.audit.internal.health import sink_health as _sink_health

    return _sink_health()
