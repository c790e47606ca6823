"""In-process cache of unwrapped keys, invalidated by the vault generation.

Unwrapping costs a KMS call (a token round trip for PKCS#11) and an RSA key
load, so every process keeps what it unwrapped for at most ``KEY_TTL``
seconds. Every state change bumps ``VaultGeneration``; each process reads
that one row at most every ``GENERATION_CHECK_INTERVAL`` seconds and drops
everything when it changed. So a rotation in any process is seen by every
other within about a second, and never later than the TTL (protocol.md
wants 60 s), without a database query per message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F

from ..models import VaultGeneration

__all__ = [
    "GENERATION_CHECK_INTERVAL",
    "KEY_TTL",
    "KeyInfo",
    "bump_generation",
    "cache",
]

#: Seconds between two reads of the generation row in one process.
GENERATION_CHECK_INTERVAL = 1.0
#: Seconds an unwrapped key stays cached even when nothing changed.
KEY_TTL = 60.0

#: Metrics hook, set by ``securemsg.ops``: called as ``observer(event, kind, seconds)``
#: with ``"hit"``/``"miss"`` for each look-up and ``"fill"`` when a value is stored,
#: ``seconds`` being the time since this thread missed that entry (the load and
#: unwrap), else None. It only observes; the cache behaves the same without it.
observer: Callable[[str, str, float | None], None] | None = None
_missed = threading.local()


@dataclass(frozen=True)
class KeyInfo:
    """A snapshot of a server key's public metadata (no key material)."""

    kid: str
    purpose: str
    state: str
    version: int
    algorithm: str
    retire_after: datetime | None
    compromised: bool


class _Cache:
    """Thread-safe store of key metadata and unwrapped keys for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._checked_at = float("-inf")
        self.values: dict[tuple[str, str], tuple[float, Any]] = {}

    def clear(self) -> None:
        """Forget everything (tests, and after a generation change)."""
        with self._lock:
            self.values.clear()
            self._generation = None
            self._checked_at = float("-inf")

    def _refresh(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < GENERATION_CHECK_INTERVAL:
            return
        generation = (
            VaultGeneration.objects.filter(pk=1).values_list("generation", flat=True).first()
        )
        with self._lock:
            if generation != self._generation:
                self.values.clear()
                self._generation = generation
            self._checked_at = now

    def get(self, kind: str, name: str, *, force_check: bool = False) -> Any | None:
        """Return a cached value if fresh and the generation is unchanged, else None."""
        value = self._lookup(kind, name, force_check=force_check)
        if observer is not None:
            _missed.entry = None if value is not None else ((kind, name), time.monotonic())
            observer("miss" if value is None else "hit", kind, None)
        return value

    def _lookup(self, kind: str, name: str, *, force_check: bool) -> Any | None:
        self._refresh(force=force_check)
        with self._lock:
            entry = self.values.get((kind, name))
            if entry is None:
                return None
            stored_at, value = entry
            if time.monotonic() - stored_at > KEY_TTL:
                del self.values[(kind, name)]
                return None
            return value

    def put(self, kind: str, name: str, value: Any) -> None:
        """Cache ``value`` under (kind, name)."""
        with self._lock:
            self.values[(kind, name)] = (time.monotonic(), value)
        if observer is not None:
            entry = getattr(_missed, "entry", None)
            since = time.monotonic() - entry[1] if entry and entry[0] == (kind, name) else None
            observer("fill", kind, since)


cache = _Cache()


def bump_generation() -> None:
    """Mark every process's cache stale; call inside the transaction of the change."""
    updated = VaultGeneration.objects.filter(pk=1).update(generation=F("generation") + 1)
    if not updated:
        VaultGeneration.objects.get_or_create(pk=1, defaults={"generation": 1})
    # This process sees its own change at once.
    cache.clear()
