"""Bench-only settings: the shipped ones with persistent database connections.

``securemsg/settings.py`` parses ``DATABASE_URL`` with ``conn_max_age=0``.
The WebSocket side keeps its own connection open on its database thread
(``securemsg.chat.dbthread``) either way; this setting changes the other
threads: HTTP requests, and the RSA pool's key-vault reads and usage-counter
flushes, which otherwise open and close a connection each time (with SQLite
in WAL mode the close of the last connection also checkpoints the WAL). The
benchmarks' ``--persistent-db`` runs the servers with this module to measure
what keeping those open would change. Not used by the application.
"""

from __future__ import annotations

from securemsg.settings import *  # noqa: F403
from securemsg.settings import DATABASES

#: Seconds a connection is kept (Django closes it at the end of a request or
#: a database_sync_to_async call only when older than this).
DATABASES["default"]["CONN_MAX_AGE"] = 600
