"""What the admin status page shows: readiness, keys against policy, audit state, counts.

Each section is a small function returning plain values, so the view only
decides who may see what.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from securemsg.ops.internal.live import open_sessions


@dataclasses.dataclass(frozen=True)
class KeyRow:
    """One server key against the rotation policy."""

    kid: str
    purpose: str
    state: str
    age_days: int
    max_age_days: int | None
    due: str
    overdue: bool
    master_version: int | None


@dataclasses.dataclass(frozen=True)
class EventRef:
    """When an audited operation last happened, and by whom."""

    ts: datetime
    actor: str
    target: str
    outcome: str
    details: dict[str, Any]


def _due(row: Any, now: datetime, max_age: timedelta, grace: timedelta) -> tuple[str, bool]:
    """What ``keyvault rotate --due`` will do with this key, and whether it is late."""
    if row.state == "active" and row.activated_at is not None:
        at = row.activated_at + max_age
        if at <= now:
            return f"rotation due since {at:%Y-%m-%d}", now > at + grace
        return f"rotation in {(at - now).days} d ({at:%Y-%m-%d})", False
    if row.state == "retiring" and row.retire_after is not None:
        verb = "disable due" if row.retire_after <= now else "disabled on"
        return f"{verb} {row.retire_after:%Y-%m-%d}", False
    if row.state == "pending_deletion" and row.delete_after is not None:
        verb = "destruction due" if row.delete_after <= now else "destroyed on"
        return f"{verb} {row.delete_after:%Y-%m-%d}", False
    return "", False


def key_rows(now: datetime) -> list[KeyRow]:
    """Every key that still has a private half, by purpose and version."""
    from keyvault.conf import app_settings
    from keyvault.models import ServerKey, State

    rows = []
    for key in ServerKey.objects.exclude(state=State.DESTROYED).order_by("purpose", "-version"):
        max_age = app_settings.max_age(key.purpose)
        due, overdue = _due(key, now, max_age, app_settings.grace)
        rows.append(
            KeyRow(
                kid=key.kid,
                purpose=key.purpose,
                state=key.state,
                age_days=(now - (key.activated_at or key.created_at)).days,
                max_age_days=max_age.days if key.state == State.ACTIVE else None,
                due=due,
                overdue=overdue,
                master_version=key.master_version if key.wrapped_dek else None,
            )
        )
    return rows


def last_event(*names: str) -> EventRef | None:
    """The newest audit event among ``names``."""
    from securemsg.audit.models import AuditEvent

    row = AuditEvent.objects.filter(event__in=names).order_by("-seq").first()
    if row is None:
        return None
    actor = row.actor_username or "system"
    return EventRef(row.ts, actor, row.target_id, row.outcome, row.details)


def master_versions() -> list[dict[str, Any]]:
    """Master key versions the database knows, with their flags."""
    from keyvault.models import MasterKeyVersion

    rows = MasterKeyVersion.objects.order_by("version").values(
        "version", "backend", "created_at", "disabled", "compromised", "wrapped_count"
    )
    return [dict(row) for row in rows]


def audit_state() -> dict[str, Any]:
    """Chain head, last checkpoint and the last full verification."""
    from securemsg.audit.models import ChainHead, Checkpoint

    head = ChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
    checkpoint = Checkpoint.objects.order_by("-seq").first()
    return {
        "head": head,
        "checkpoint": checkpoint,
        "unsigned": head - (checkpoint.seq if checkpoint else 0),
        "verified": last_event("audit.verified"),
    }


def live_counts(now: datetime) -> dict[str, Any]:
    """Open sessions (metrics), messages today, undelivered messages, handshakes today."""
    from securemsg.audit.models import AuditEvent
    from securemsg.chat.models import Message

    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    sessions, scope = open_sessions()
    counts: dict[str, Any] = {"open_sessions": sessions, "sessions_scope": scope}
    try:
        counts["messages_today"] = Message.objects.filter(created_at__gte=midnight).count()
        counts["messages_pending"] = Message.objects.filter(delivered_at__isnull=True).count()
        counts["handshakes_today"] = AuditEvent.objects.filter(
            event="handshake.completed", ts__gte=midnight
        ).count()
    except DatabaseError:
        counts["unavailable"] = True
    return counts


def now() -> datetime:
    """The page's reference time (UTC)."""
    return timezone.now()
