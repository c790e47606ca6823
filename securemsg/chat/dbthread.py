"""One long-lived thread for the WebSocket side's database work, with a connection kept open.

The shipped settings keep ``CONN_MAX_AGE = 0``: under ASGI, Django serves
each HTTP request's synchronous code on a thread made for that request, so
persistent connections there would pile up until garbage collection (Django's
own warning). Channels' ``database_sync_to_async`` follows the setting and
opens and closes a connection around every call, which cost a WebSocket
handshake more than its RSA work (docs/performance.md).

The consumers, their session loading and the redelivery sweep run their
database work here instead, on one thread that lives as long as the process,
one call at a time in submission order (as Channels' single shared thread
did). Its connection stays open between calls and is closed

- after a call that left it unusable (a database error and a failed
  health check) or inside a transaction (never reused in that state),
- after :data:`IDLE_SECONDS` without a call, and
- :data:`MAX_AGE_SECONDS` after it was opened (the server may recycle it),

and :func:`close_connections` closes it on demand (tests, before the test
database is dropped). Each call runs in a copy of the caller's context, so
the connection id bound by the consumer reaches the audit event.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Final, ParamSpec, TypeVar

from django.db import connections

__all__ = ["IDLE_SECONDS", "MAX_AGE_SECONDS", "close_connections", "run"]

#: An open connection nobody used for this long is closed.
IDLE_SECONDS: Final = 10.0
#: A connection is closed this long after it was opened, at the end of a call.
MAX_AGE_SECONDS: Final = 300.0

_P = ParamSpec("_P")
_T = TypeVar("_T")
_Job = tuple[Future[Any], Callable[[], Any]]


def _release(opened_at: float | None) -> float | None:
    """Close what must not be reused; return when the kept connection was opened."""
    now = time.monotonic()
    kept = False
    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        # The checks of Django's close_if_unusable_or_obsolete, without its
        # CONN_MAX_AGE deadline (0 would close it after every call).
        autocommit = connection.settings_dict["AUTOCOMMIT"]
        if connection.in_atomic_block or connection.get_autocommit() != autocommit:
            connection.close()
            continue
        if connection.errors_occurred:
            if not connection.is_usable():
                connection.close()
                continue
            connection.errors_occurred = False
        if opened_at is not None and now - opened_at >= MAX_AGE_SECONDS:
            connection.close()
            continue
        kept = True
    if not kept:
        return None
    return now if opened_at is None else opened_at


def _close_all() -> None:
    for connection in connections.all(initialized_only=True):
        connection.close()


class _DatabaseThread:
    """A single worker thread with a job queue (started on first use)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._jobs.put((future, job))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="securemsg-db", daemon=True)
                self._thread.start()
        return future

    def _work(self) -> None:
        opened_at: float | None = None
        while True:
            try:
                future, job = self._jobs.get(timeout=IDLE_SECONDS if opened_at else None)
            except queue.Empty:
                _close_all()
                opened_at = None
                continue
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = job()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)
            finally:
                opened_at = _release(opened_at)


_thread = _DatabaseThread()


async def run(func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``func(*args, **kwargs)`` on the database thread and return its result."""
    context = contextvars.copy_context()
    future = _thread.submit(lambda: context.run(func, *args, **kwargs))
    result: _T = await asyncio.wrap_future(future)
    return result


def close_connections() -> None:
    """Close the database thread's connections now (blocks until done; not from the loop)."""
    _thread.submit(_close_all).result()
