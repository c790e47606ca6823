"""Bench-only settings: persistent connections, and the consumers' database work on 4 threads.

The shipped settings run the WebSocket side's database work on one thread
with a connection kept open (``securemsg.chat.dbthread``,
``SECUREMSG_DB_THREADS = 1``). This module (the shipped settings plus
``CONN_MAX_AGE=600`` from bench/settings_persistent_db.py) gives it
:data:`SECUREMSG_DB_THREADS` threads, each with its own connection; the
benchmarks' "persistent + DB thread pool" variant uses it to measure what
more threads bring. Not used by the application.
"""

from __future__ import annotations

from bench.settings_persistent_db import *  # noqa: F403

#: Threads for the consumers' database work (SQLite still serialises writers).
SECUREMSG_DB_THREADS = 4
