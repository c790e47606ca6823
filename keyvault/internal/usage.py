"""Usage counters, batched: private operations per RSA key, data keys per master version.

A write per handshake would put a database write on the hot path; instead
counts accumulate in memory and are flushed every ``FLUSH_EVERY``
operations or ``FLUSH_SECONDS`` seconds (and by ``keyvault status`` and
``rotate --due``). A crash loses at most one unflushed batch, which only
makes usage-based rotation a little later.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from django.db import DatabaseError
from django.db.models import F

from ..models import MasterKeyVersion, ServerKey

__all__ = ["FLUSH_EVERY", "FLUSH_SECONDS", "count_master_wrap", "count_private_op", "flush"]

FLUSH_EVERY = 100
FLUSH_SECONDS = 10.0

_lock = threading.Lock()
_keys: Counter[str] = Counter()
_masters: Counter[int] = Counter()
_last_flush = time.monotonic()


def _maybe_flush() -> None:
    total = sum(_keys.values()) + sum(_masters.values())
    if total >= FLUSH_EVERY or time.monotonic() - _last_flush >= FLUSH_SECONDS:
        flush()


def count_private_op(kid: str) -> None:
    """Count one signature or decryption with the private key ``kid``."""
    with _lock:
        _keys[kid] += 1
    _maybe_flush()


def count_master_wrap(version: int) -> None:
    """Count one data key wrapped under master ``version``."""
    with _lock:
        _masters[version] += 1
    _maybe_flush()


def flush() -> None:
    """Write the pending counts; on a database error keep them for the next flush."""
    global _last_flush
    with _lock:
        keys, masters = dict(_keys), dict(_masters)
        _keys.clear()
        _masters.clear()
        _last_flush = time.monotonic()
    try:
        for kid, n in keys.items():
            ServerKey.objects.filter(kid=kid).update(usage_count=F("usage_count") + n)
        for version, n in masters.items():
            MasterKeyVersion.objects.filter(version=version).update(
                wrapped_count=F("wrapped_count") + n
            )
    except DatabaseError:
        with _lock:
            _keys.update(keys)
            _masters.update(masters)


def discard() -> None:
    """Forget pending counts (tests)."""
    with _lock:
        _keys.clear()
        _masters.clear()
