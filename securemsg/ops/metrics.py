"""The application's own Prometheus metrics and the one-line helpers that move them.

Call sites (the WebSocket consumer, the key vault's cache hook, signal
receivers) call the helper functions below, never the metric objects, so a
metric can be renamed or relabelled here alone. Gauges that describe stored
state (key ages, pending messages) are read from the database at scrape
time by ``securemsg.ops.internal.collector`` instead.

Names and labels are listed in docs/operations.md ("Metrics"). Labels only
ever hold small fixed sets (reason classes, close codes, event names,
purposes, cache kinds): never a user name, an address or an id.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several Daphne processes), each
process writes its values to files there and the scrape adds them up; the
open-sessions gauge then counts live processes only (``livesum``).
"""

from __future__ import annotations

import time
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "AUDIT_EVENTS",
    "HANDSHAKES_COMPLETED",
    "HANDSHAKES_FAILED",
    "HANDSHAKE_SECONDS",
    "LOCKOUTS",
    "MESSAGES_DELIVERED",
    "MESSAGES_STORED",
    "PROXY_HEADER_MISMATCHES",
    "RECORDS",
    "RECORDS_REJECTED",
    "SECURE_SESSIONS",
    "VAULT_CACHE_LOOKUPS",
    "VAULT_UNWRAP_SECONDS",
    "audit_event_committed",
    "connection_failed",
    "handshake_completed",
    "handshake_failed",
    "lockout",
    "message_delivered",
    "message_stored",
    "proxy_header_mismatch",
    "record_received",
    "record_sent",
    "secure_session_ended",
    "start_handshake",
    "vault_cache_event",
]

#: Handshake durations span RSA work in a thread pool plus one round trip.
_HANDSHAKE_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Unwraps are an AES-GCM call (local key) or a token round trip (PKCS#11) plus a key load.
_UNWRAP_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
#: Cache kinds whose fill is an unwrap (the others are metadata look-ups).
_UNWRAPPED_KINDS: Final = frozenset({"private", "data"})

SECURE_SESSIONS = Gauge(
    "securemsg_secure_sessions_open",
    "Secure sessions (handshake completed) currently open",
    multiprocess_mode="livesum",
)
HANDSHAKES_COMPLETED = Counter(
    "securemsg_handshakes_completed", "securemsg/1 handshakes that reached ready"
)
HANDSHAKES_FAILED = Counter(
    "securemsg_handshakes_failed",
    "Handshakes that ended before ready, by reason class",
    ["reason"],
)
HANDSHAKE_SECONDS = Histogram(
    "securemsg_handshake_duration_seconds",
    "Time from client_hello to ready",
    buckets=_HANDSHAKE_BUCKETS,
)
RECORDS = Counter(
    "securemsg_records", "Encrypted records after the handshake, by direction", ["direction"]
)
RECORDS_REJECTED = Counter(
    "securemsg_records_rejected",
    "Sessions closed because of a record, by close code",
    ["close_code"],
)
MESSAGES_STORED = Counter("securemsg_messages_stored", "Chat messages stored (new, not resends)")
MESSAGES_DELIVERED = Counter(
    "securemsg_messages_delivered", "Chat messages acknowledged by their recipient"
)
VAULT_CACHE_LOOKUPS = Counter(
    "securemsg_vault_cache_lookups",
    "Key vault cache look-ups by kind and result (hit or miss)",
    ["kind", "result"],
)
VAULT_UNWRAP_SECONDS = Histogram(
    "securemsg_vault_unwrap_seconds",
    "Cache miss to cached key: row load, master-key unwrap, key load",
    ["kind"],
    buckets=_UNWRAP_BUCKETS,
)
AUDIT_EVENTS = Counter(
    "securemsg_audit_events", "Audit events committed by this process, by event type", ["event"]
)
LOCKOUTS = Counter("securemsg_lockouts", "Sign-in lockouts (django-axes)")
PROXY_HEADER_MISMATCHES = Counter(
    "securemsg_proxy_header_mismatches",
    "Requests whose X-Forwarded-For does not fit SECUREMSG_TRUSTED_PROXY_COUNT, by kind",
    ["kind"],
)

# Bound once: a label look-up per record costs more than the increment.
_RECORDS_IN = RECORDS.labels(direction="in")
_RECORDS_OUT = RECORDS.labels(direction="out")


# --- the consumer ---------------------------------------------------------------


def start_handshake() -> float:
    """Note when a handshake starts; pass the value to ``handshake_completed``."""
    return time.monotonic()


def handshake_completed(started: float | None) -> None:
    """A handshake reached ``ready``: count it, time it, and open a secure session."""
    HANDSHAKES_COMPLETED.inc()
    if started is not None:
        HANDSHAKE_SECONDS.observe(time.monotonic() - started)
    SECURE_SESSIONS.inc()


def handshake_failed(reason: str) -> None:
    """A handshake ended before ``ready`` (reason class: ``timeout``, ``decrypt``...)."""
    HANDSHAKES_FAILED.labels(reason=reason).inc()


def connection_failed(established: bool, close_code: int, reason: str) -> None:
    """A session closed on an error: a failed handshake, or a rejected record after it."""
    if established:
        RECORDS_REJECTED.labels(close_code=str(close_code)).inc()
    else:
        handshake_failed(reason)


def secure_session_ended(established: bool) -> None:
    """A connection ended; it leaves the open-sessions gauge if its handshake completed."""
    if established:
        SECURE_SESSIONS.dec()


def record_received() -> None:
    """One encrypted record arrived from a client."""
    _RECORDS_IN.inc()


def record_sent() -> None:
    """One encrypted record went to a client."""
    _RECORDS_OUT.inc()


def message_stored(created: bool) -> None:
    """A chat message was committed (``created``: new, not an idempotent resend)."""
    if created:
        MESSAGES_STORED.inc()


def message_delivered(newly: bool) -> None:
    """A recipient acknowledged a message (``newly``: the first acknowledgement)."""
    if newly:
        MESSAGES_DELIVERED.inc()


# --- hooks and signals ---------------------------------------------------------------


def vault_cache_event(event: str, kind: str, seconds: float | None) -> None:
    """The key vault cache's observer: ``hit``/``miss`` look-ups and ``fill`` after a miss."""
    if event in ("hit", "miss"):
        VAULT_CACHE_LOOKUPS.labels(kind=kind, result=event).inc()
    elif event == "fill" and seconds is not None and kind in _UNWRAPPED_KINDS:
        VAULT_UNWRAP_SECONDS.labels(kind=kind).observe(seconds)


def audit_event_committed(event: str) -> None:
    """An audit event was committed."""
    AUDIT_EVENTS.labels(event=event).inc()


def lockout() -> None:
    """django-axes locked a (username, address) pair out."""
    LOCKOUTS.inc()


def proxy_header_mismatch(kind: str) -> None:
    """A request's X-Forwarded-For did not fit the trusted proxy count (securemsg.chat.netaddr)."""
    PROXY_HEADER_MISMATCHES.labels(kind=kind).inc()
