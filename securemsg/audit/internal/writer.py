"""Appending to the chain: the implementation behind ``securemsg.audit.record``.

Writers are serialized so the chain never forks: on SQLite the connection's
``transaction_mode = IMMEDIATE`` takes the database write lock at ``BEGIN``
(checked by the ``audit.E002`` system check); on PostgreSQL a transaction
advisory lock is taken; elsewhere the head row is locked ``FOR UPDATE``. The
append runs in ``transaction.atomic()``, a savepoint of the caller's
transaction when there is one, so a failed write rolls the caller back too.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from django.db import DatabaseError, connections, router, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from securemsg.audit.app_settings import app_settings
from securemsg.audit.exceptions import AuditFieldError, AuditUnavailable
from securemsg.audit.internal import auditkey, filesink
from securemsg.audit.internal.canonical import chain_hash, format_ts
from securemsg.audit.internal.catalog import EVENT_NAME_RE, OUTCOMES
from securemsg.audit.internal.context import Origin, normalize_ip, origin_of
from securemsg.audit.internal.sanitize import clean_details, clean_text, is_secret_name
from securemsg.ops.correlation import correlation_fields

logger = logging.getLogger("securemsg.audit")

#: Key of the PostgreSQL advisory lock that serializes chain writers ("AUDT").
_PG_LOCK_KEY: Final = 0x41554454
#: Keyword arguments of ``record`` stored in their own columns; any other
#: keyword goes into ``details``.
_COLUMN_FIELDS: Final = frozenset({"outcome", "target_type", "target_id", "details", "ip"})
#: Attribute on the request listing the events already recorded for it.
_RECORDED_ATTR: Final = "_securemsg_audit_recorded"


def build_fields(event: str, actor: Any, request: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """Validate and clean everything ``record`` was given; raises ``AuditFieldError``."""
    if not isinstance(event, str) or not EVENT_NAME_RE.match(event) or len(event) > 64:
        raise AuditFieldError(f"audit event name {event!r} is not of the form area.event")
    details = dict(fields.pop("details", None) or {})
    for name in list(fields):
        if name not in _COLUMN_FIELDS:
            if is_secret_name(name):
                raise AuditFieldError(f"audit field {name!r} names a secret; never recorded")
            details[name] = fields.pop(name)
    # The request or connection id ties the event to its log lines (docs/operations.md).
    for name, value in correlation_fields().items():
        details.setdefault(name, value)
    outcome = fields.get("outcome", "success")
    if outcome not in OUTCOMES:
        raise AuditFieldError(f"audit outcome {outcome!r} is not one of {OUTCOMES}")
    origin: Origin = origin_of(actor, request)
    ip = normalize_ip(fields["ip"]) if fields.get("ip") else origin.ip
    return {
        "event": event,
        "outcome": outcome,
        "actor_id": origin.actor_id,
        "actor_username": origin.actor_username,
        "ip": ip,
        "user_agent": origin.user_agent,
        "target_type": clean_text(fields.get("target_type", ""), 64),
        "target_id": clean_text(fields.get("target_id", ""), 128),
        "details": clean_details(details),
    }


def _lock_chain(using: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])


def append(fields: dict[str, Any]) -> int:
    """Write one event at the head of the chain, to both sinks, and return its ``seq``.

    The row gets its plain hash and its MAC under the audit key (created on
    the first event); its line is fsync'd to the second sink before the
    commit. Raises ``AuditUnavailable`` (or its ``AuditKeyError`` /
    ``AuditSinkError``) when either sink or the audit key fails; the
    transaction then rolls back.
    """
    return append_many([fields])[0]


def append_many(batch: list[dict[str, Any]]) -> list[int]:
    """Write several events in one transaction (a group commit); return their ``seq`` in order.

    Each event is chained, MAC'd and stored exactly as ``append`` would
    store it, one after the other; their lines go to the second sink in one
    write and one fsync before the one commit. All or none are written: on
    any failure the whole batch rolls back and ``AuditUnavailable`` is raised.
    """
    from securemsg.audit.models import AuditEvent

    if not batch:
        return []
    using = router.db_for_write(AuditEvent)
    pending = auditkey.creating()
    try:
        with transaction.atomic(using=using):
            _lock_chain(using)
            if pending is not None:
                # The key vault records this while the audit key is being
                # created (a master version seen for the first time): the
                # row gets its MAC and its file line once the key exists.
                head = _head(using)
                rows = _insert(batch, using, None, head)
                head.save(using=using)
                pending.extend(rows)
                return [int(row["seq"]) for row in rows]
            key = auditkey.cached(using) or _key_for(using)
            head = _head(using)
            rows = _insert(batch, using, key, head)
            head.save(using=using)
            filesink.writer.write_events([filesink.event_line(row) for row in rows])
            for row in rows:
                _on_commit(row, using)
    except DatabaseError as exc:
        # Never log the fields: the reason class is enough to diagnose.
        logger.error("audit event %s could not be written: %s", _names(batch), type(exc).__name__)
        raise AuditUnavailable(f"the audit log cannot be written ({type(exc).__name__})") from exc
    except AuditUnavailable as exc:
        logger.error("audit event %s could not be written: %s", _names(batch), exc)
        raise
    return [int(row["seq"]) for row in rows]


def _names(batch: list[dict[str, Any]]) -> str:
    return ", ".join(str(fields["event"]) for fields in batch)


def _key_for(using: str) -> auditkey.AuditKey:
    """The stored audit key, or a new one whose chain starts at the next row."""
    from securemsg.audit.models import AuditEvent

    key = auditkey.load(using)
    if key is not None:
        return key
    head = _head(using)
    key, written = auditkey.create(using, head.seq + 1)
    for row in written:
        row["mac"], row["audit_key_id"] = key.mac(row["hash"]), key.key_id
        AuditEvent.objects.using(using).filter(seq=row["seq"]).update(
            mac=row["mac"], audit_key_id=key.key_id
        )
        filesink.writer.write_event(filesink.event_line(row))
        _on_commit(row, using)
    return key


def _head(using: str) -> Any:
    from securemsg.audit.models import GENESIS_HASH, AuditEvent, ChainHead

    head = ChainHead.objects.using(using).select_for_update().filter(pk=1).first()
    if head is None:
        # First write, or after a test flush: start from the last row.
        last = AuditEvent.objects.using(using).order_by("-seq").first()
        head = ChainHead(
            pk=1,
            seq=last.seq if last else 0,
            hash=last.hash if last else GENESIS_HASH,
        )
    return head


def _insert(
    batch: list[dict[str, Any]], using: str, key: auditkey.AuditKey | None, head: Any
) -> list[dict[str, Any]]:
    """Insert the rows after ``head`` (locked by the caller; advanced here, saved by the caller).

    Each row is chained to the one before it, then all are inserted with one
    statement (a group commit of many connections' events costs one INSERT,
    not one per event). Returns the rows as the file shows them.
    """
    from securemsg.audit.models import AuditEvent

    models, rows = [], []
    for fields in batch:
        prev_hash = head.hash
        row = dict(fields, seq=head.seq + 1, ts=timezone.now())
        digest = chain_hash(prev_hash, dict(row, ts=format_ts(row["ts"])))
        links = {
            "prev_hash": prev_hash,
            "hash": digest,
            "mac": key.mac(digest) if key is not None else None,
            "audit_key_id": key.key_id if key is not None else None,
        }
        models.append(AuditEvent(**row, **links))
        rows.append(dict(row, ts=format_ts(row["ts"]), **links))
        head.seq, head.hash = row["seq"], digest
    AuditEvent.objects.using(using).bulk_create(models)
    # bulk_create sends no post_save; receivers (the ops metric of committed
    # events) get the one a save() would have sent.
    for model in models:
        post_save.send(
            AuditEvent, instance=model, created=True, update_fields=None, raw=False, using=using
        )
    return rows


def _on_commit(row: dict[str, Any], using: str) -> None:
    seq, digest = int(row["seq"]), str(row["hash"])
    transaction.on_commit(lambda: filesink.writer.write_commit(seq, digest), using=using)
    _after_commit(seq, str(row["event"]), using)


def _after_commit(seq: int, event: str, using: str) -> None:
    every = app_settings.CHECKPOINT_EVERY
    # The checkpoint's own event never triggers another one (no loop at N=1).
    if every <= 0 or seq % every != 0 or event == "audit.checkpoint":
        return
    from securemsg.audit.internal.checkpoints import checkpoint_after_commit

    # Signing happens after the commit, outside the chain lock: it cannot
    # fork the chain (it only reads a committed row) nor deadlock with a key
    # vault that records events of its own.
    transaction.on_commit(lambda: checkpoint_after_commit(seq), using=using, robust=True)


def mark_recorded(request: Any, event: str) -> None:
    """Remember on ``request`` that ``event`` was recorded for it (see ``already_recorded``)."""
    if request is not None and not isinstance(request, dict):
        recorded: set[str] = getattr(request, _RECORDED_ATTR, set())
        recorded.add(event)
        setattr(request, _RECORDED_ATTR, recorded)


def already_recorded(request: Any, event: str) -> bool:
    """True when ``event`` was already recorded for ``request`` (avoids double sign-in events)."""
    return event in getattr(request, _RECORDED_ATTR, set())


def record(event: str, *, actor: Any = None, request: Any = None, **fields: Any) -> int:
    """Validate, clean and append one event; see ``securemsg.audit.record``."""
    built = build_fields(event, actor, request, fields)
    seq = append(built)
    mark_recorded(request, event)
    return seq
