"""Unlocking sign-ins by user, address or both (admin and ``manage.py unlock``), audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts import throttle
from securemsg.audit import record

__all__ = ["UnlockReport", "unlock"]


@dataclass(frozen=True)
class UnlockReport:
    """What an unlock removed."""

    username: str | None
    ip: str | None
    lockouts: int
    delays: int


def unlock(
    *,
    username: str | None = None,
    ip: str | None = None,
    actor: Any = None,
    request: Any = None,
    via: str = "admin",
) -> UnlockReport:
    """Lift django-axes lockouts and the username delay for ``username`` and/or ``ip``.

    With both, only that pair's lockout is lifted (and the username's delay);
    with a username alone, every address's lockout of that user; with an
    address alone, every user's lockout from that address. Recorded as
    ``auth.unlocked`` in the same transaction (fail closed).
    """
    username = (username or "").strip() or None
    ip = (ip or "").strip() or None
    if username is None and ip is None:
        raise ValueError("give a username, an address or both")
    from axes.models import AccessAttempt

    with transaction.atomic():
        attempts = AccessAttempt.objects.all()
        if username is not None:
            attempts = attempts.filter(username__iexact=username)
        if ip is not None:
            attempts = attempts.filter(ip_address=ip)
        lockouts, _ = attempts.delete()
        delays = throttle.reset(username) if username is not None else 0
        record(
            "auth.unlocked",
            actor=actor,
            request=request,
            target_type="user" if username is not None else "address",
            target_id=username or ip or "",
            details={
                "username": username,
                "address": ip,
                "lockouts": lockouts,
                "delays": delays,
                "via": via,
            },
        )
    return UnlockReport(username, ip, lockouts, delays)
