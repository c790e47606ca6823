"""Fixed-window rate limits and the open-session count, shared through Django's cache.

With one process the local-memory cache is enough; with several processes
the settings point the cache at Redis, so the limits hold across all of
them. Windows are fixed 60-second windows (a burst of at most twice the
limit can straddle a boundary; documented in the README).
"""

from __future__ import annotations

import time

from django.core.cache import cache

WINDOW_SECONDS = 60


def hit(bucket: str, limit: int, *, now: float | None = None) -> bool:
    """Count one event in ``bucket``; return False when it is over ``limit`` (0 = no limit)."""
    if limit <= 0:
        return True
    window = int((time.time() if now is None else now) // WINDOW_SECONDS)
    key = f"securemsg:rl:{bucket}:{window}"
    cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
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
    cache.add(key, 0, timeout=None)
    count = cache.incr(key)
    if limit > 0 and count > limit:
        cache.decr(key)
        return False
    return True


def close_session(user_id: int) -> None:
    """Forget one connection of ``user_id``."""
    key = f"securemsg:sessions:{user_id}"
    try:
        if cache.decr(key) < 0:
            cache.set(key, 0, timeout=None)
    except ValueError:
        pass
