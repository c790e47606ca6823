"""Bench-only settings: persistent connections, and consumer database calls on a thread pool.

Channels' ``database_sync_to_async`` is thread-sensitive: every database
call of every consumer in a process runs on one shared thread. This module
(the shipped settings plus ``CONN_MAX_AGE=600`` from
bench/settings_persistent_db.py) makes ``DatabaseSyncToAsync`` default to
``thread_sensitive=False`` before any consumer is imported, so the calls run
on a pool of :data:`DB_THREADS` threads, each with its own connection. The
benchmarks' ``--db-threads`` variant uses it to measure what the proposed
consumer change would bring. Not used by the application.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import channels.db

from bench.settings_persistent_db import *  # noqa: F403

#: Threads for the consumers' database calls (SQLite still serialises writers).
DB_THREADS = 8
_POOL = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="bench-db")
_init = channels.db.DatabaseSyncToAsync.__init__


def _pooled_init(self: Any, func: Any, thread_sensitive: bool = True, **kwargs: Any) -> None:
    kwargs.pop("executor", None)
    _init(self, func, thread_sensitive=False, executor=_POOL, **kwargs)


channels.db.DatabaseSyncToAsync.__init__ = _pooled_init
