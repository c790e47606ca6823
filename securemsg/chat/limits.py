"""Fixed-window rate limits and the open-session count, shared through Django's cache.

With one process the local-memory cache is enough; with several processes
the settings point the cache at Redis, so the limits hold across all of
them. Windows are fixed 60-second windows (a burst of at most twice the
limit can straddle a boundary; documented in the README). Every call may do
network I/O (Redis): call from a thread, never from the event loop. A failing
store raises ``LimitsUnavailableError`` (the consumer closes with 4500).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from securemsg.chat.exceptions import LimitsUnavailableError

WINDOW_SECONDS = 60

_local = threading.local()
#: Bumped when the CACHES setting changes (tests), so every thread makes a new client.
_generation = 0


def _cache() -> BaseCache:
    """This thread's client of the default cache, made once per thread and kept.

    ``django.core.cache.cache`` is context-local (asgiref ``Local``), not
    thread-local: every WebSocket's context, and every copy of it that runs on
    the database thread, built its own backend, which with Redis meant a new
    TCP connection per handshake and per message. Not every backend is
    thread-safe (memcached's are not), so one client per thread; the threads
    that call here (the database and RSA threads) live as long as the process.
    """
    held = getattr(_local, "held", None)
    if held is None or held[0] != _generation:
        held = _local.held = (_generation, caches.create_connection(DEFAULT_CACHE_ALIAS))
    client: BaseCache = held[1]
    return client


@contextmanager
def _store() -> Iterator[BaseCache]:
    """This thread's cache client; any failure of it becomes ``LimitsUnavailableError``."""
    try:
        yield _cache()
    except Exception as exc:
        # The backend's own errors (redis-py's, memcached's...) share no base
        # class; only the class name is kept: messages may carry the URL.
        raise LimitsUnavailableError(f"the rate-limit store failed ({type(exc).__name__})") from exc


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    global _generation
    if setting == "CACHES":
        _generation += 1


def hit(bucket: str, limit: int, *, now: float | None = None) -> bool:
    """Count one event in ``bucket``; return False when it is over ``limit`` (0 = no limit)."""
    if limit <= 0:
        return True
    window = int((time.time() if now is None else now) // WINDOW_SECONDS)
    key = f"securemsg:rl:{bucket}:{window}"
    with _store() as cache:
        # The first event of a window (the usual case for a per-user or
        # per-address handshake bucket) creates the counter at 1: one command.
        if cache.add(key, 1, timeout=WINDOW_SECONDS * 2):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:
                # The key expired between add and incr: start the window again.
                cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
                count = 1
    return count <= limit


def open_session(user_id: int, limit: int) -> bool:
    """Count a new connection of ``user_id``; False (and not counted) past ``limit``."""
    key = f"securemsg:sessions:{user_id}"
    with _store() as cache:
        try:
            # The count outlives connections (no expiry): it nearly always exists.
            count = cache.incr(key)
        except ValueError:
            count = 1 if cache.add(key, 1, timeout=None) else cache.incr(key)
        if limit > 0 and count > limit:
            cache.decr(key)
            return False
    return True


def close_session(user_id: int) -> None:
    """Forget one connection of ``user_id``."""
    key = f"securemsg:sessions:{user_id}"
    with _store() as cache:
        try:
            if cache.decr(key) < 0:
                cache.set(key, 0, timeout=None)
        except ValueError:
            pass
