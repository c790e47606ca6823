"""A growing delay per username for sign-in failures spread over many addresses.

django-axes locks a (username, address) pair after ``SECUREMSG_LOCKOUT_FAILURES``
failures, so one attacker cannot lock a user out for everybody. An attacker
with many addresses gets that many tries per pair, though; this module
counts a username's failures from *all* addresses within the lockout window
and, past ``SECUREMSG_USERNAME_DELAY_AFTER`` of them, refuses attempts for
that username for a short, growing cooldown (1 s, 2 s, 4 s … at most
``SECUREMSG_USERNAME_DELAY_MAX_SECONDS``). It never locks permanently, and
an address the user has signed in from before (django-axes' access log) is
never delayed, so the owner is not locked out by someone else's failures.
Attempts refused by a cooldown or an axes lock check no password and do not
count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import UsernameThrottle

__all__ = [
    "cooldown_remaining",
    "delay_after",
    "max_delay",
    "normalize",
    "record_failure",
    "reset",
    "window",
]


def normalize(username: str) -> str:
    """The throttle key of ``username``: trimmed, lower-cased, at most 150 characters."""
    return username.strip().lower()[:150]


def delay_after() -> int:
    """Failures from any address before the delays start."""
    return int(getattr(settings, "SECUREMSG_USERNAME_DELAY_AFTER", 10))


def max_delay() -> int:
    """The longest cooldown, in seconds."""
    return int(getattr(settings, "SECUREMSG_USERNAME_DELAY_MAX_SECONDS", 60))


def window() -> timedelta:
    """Failures older than this are forgotten (the lockout cool-off time)."""
    value = getattr(settings, "AXES_COOLOFF_TIME", timedelta(minutes=15))
    return value if isinstance(value, timedelta) else timedelta(hours=float(value))


def _delay(failures: int) -> int:
    if failures < delay_after():
        return 0
    return int(min(2 ** min(failures - delay_after(), 30), max_delay()))


def _known_address(username: str, ip: str | None) -> bool:
    """Whether the user has signed in from ``ip`` before (no delay for them there)."""
    if not ip:
        return False
    from axes.models import AccessLog

    return bool(AccessLog.objects.filter(username__iexact=username, ip_address=ip).exists())


def cooldown_remaining(username: str, ip: str | None = None, *, now: datetime | None = None) -> int:
    """Seconds before ``username`` may try again from ``ip`` (0: now)."""
    now = now or timezone.now()
    row = UsernameThrottle.objects.filter(username=normalize(username)).first()
    if row is None or row.next_allowed_at is None or row.next_allowed_at <= now:
        return 0
    if row.last_failure_at < now - window():
        return 0
    if _known_address(username, ip):
        return 0
    return max(1, int((row.next_allowed_at - now).total_seconds() + 0.999))


def record_failure(username: str, *, now: datetime | None = None) -> UsernameThrottle:
    """Count one checked failure of ``username`` and set its next cooldown."""
    now = now or timezone.now()
    key = normalize(username)
    with transaction.atomic():
        # Forget usernames whose failures have aged out (keeps the table small).
        UsernameThrottle.objects.filter(last_failure_at__lt=now - window()).delete()
        row, created = UsernameThrottle.objects.select_for_update().get_or_create(
            username=key,
            defaults={"window_started_at": now, "last_failure_at": now},
        )
        row.failures = 1 if created else row.failures + 1
        row.last_failure_at = now
        delay = _delay(row.failures)
        row.next_allowed_at = now + timedelta(seconds=delay) if delay else None
        row.save()
    return row


def reset(username: str) -> int:
    """Forget the failures of ``username``; return how many rows were deleted (0 or 1)."""
    deleted, _ = UsernameThrottle.objects.filter(username=normalize(username)).delete()
    return deleted
