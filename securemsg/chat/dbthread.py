"""Long-lived threads for the WebSocket side's database work, with connections kept open.

The shipped settings keep ``CONN_MAX_AGE = 0``: under ASGI, Django serves
each HTTP request's synchronous code on a thread made for that request, so
persistent connections there would pile up until garbage collection (Django's
own warning). Channels' ``database_sync_to_async`` follows the setting and
opens and closes a connection around every call, which cost a WebSocket
handshake more than its RSA work (docs/performance.md).

The consumers, their session loading and the redelivery sweep run their
database work here instead: on ``SECUREMSG_DB_THREADS`` threads (default 1,
as Channels' single shared thread; more did not help on SQLite) that live as
long as the process. A call goes to the thread with the fewest jobs waiting,
the first of equals, so calls one after another reuse one connection. Each
thread's connection stays open between calls and is closed

- after a call that left it unusable (a database error and a failed
  health check) or inside a transaction (never reused in that state),
- after :data:`IDLE_SECONDS` without a call, and
- :data:`MAX_AGE_SECONDS` after it was opened (the server may recycle it),

and :func:`close_connections` closes them on demand, as does a clean exit of the
process (SQLite then checkpoints its WAL). Each call runs in a
copy of the caller's context, so the connection id bound by the consumer
reaches the audit event.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Final, ParamSpec, TypeVar

from django.db import connections

from securemsg.chat.conf import chat_settings

logger = logging.getLogger("securemsg.chat")

__all__ = ["IDLE_SECONDS", "MAX_AGE_SECONDS", "close_connections", "run"]

#: An open connection nobody used for this long is closed.
IDLE_SECONDS: Final = 10.0
#: A connection is closed this long after it was opened, at the end of a call.
MAX_AGE_SECONDS: Final = 300.0
#: At interpreter exit, how long to wait for the threads to close their connections.
EXIT_WAIT_SECONDS: Final = 5.0

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


def _close_quietly() -> None:
    """Close every connection of this thread, whatever fails on the way."""
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(Exception):
            connection.close()


class _Worker:
    """One database thread with its own job queue and connection."""

    def __init__(self, name: str, pool: _Pool) -> None:
        self.pool = pool
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        #: Jobs submitted and not finished (read and written under the pool's lock).
        self.pending = 0
        self.thread = threading.Thread(target=self._work, name=name, daemon=True)

    def _work(self) -> None:
        opened_at: float | None = None
        while True:
            try:
                future, job = self.jobs.get(timeout=IDLE_SECONDS if opened_at else None)
            except queue.Empty:
                _close_quietly()
                opened_at = None
                continue
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(job())
                    except BaseException as exc:
                        future.set_exception(exc)
            finally:
                opened_at = self._housekeeping(opened_at)
                self.pool.finished(self)

    @staticmethod
    def _housekeeping(opened_at: float | None) -> float | None:
        """``_release``, but a failure closes the connection instead of ending the thread.

        The thread must outlive anything its connection does: if it ended,
        every later call would wait for it forever.
        """
        try:
            return _release(opened_at)
        except Exception as exc:
            logger.warning(
                "database thread: could not check its connection (%s); closed it",
                type(exc).__name__,
            )
            _close_quietly()
            return None


class _Pool:
    """The database threads, started on first use; a job goes to the least busy one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []

    def _started(self) -> list[_Worker]:
        if not self._workers:
            count = chat_settings.db_threads
            self._workers = [_Worker(f"securemsg-db-{i}", self) for i in range(count)]
            for worker in self._workers:
                worker.thread.start()
            # A clean stop closes the connections (SQLite then checkpoints its WAL).
            atexit.register(self.close_at_exit)
        return self._workers

    def submit(self, job: Callable[[], Any], worker: _Worker | None = None) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            # min() keeps the first of equals: sequential calls reuse one connection.
            chosen = worker or min(self._started(), key=lambda w: w.pending)
            chosen.pending += 1
        chosen.jobs.put((future, job))
        return future

    def finished(self, worker: _Worker) -> None:
        with self._lock:
            worker.pending -= 1

    def submit_to_each(self, job: Callable[[], Any]) -> list[Future[Any]]:
        with self._lock:
            workers = list(self._workers)
        return [self.submit(job, worker) for worker in workers]

    def close_at_exit(self) -> None:
        """Close every thread's connection, waiting at most :data:`EXIT_WAIT_SECONDS` in all."""
        futures = self.submit_to_each(_close_all)
        deadline = time.monotonic() + EXIT_WAIT_SECONDS
        for future in futures:
            with contextlib.suppress(Exception):
                future.result(timeout=max(0.0, deadline - time.monotonic()))


_pool = _Pool()


async def run(func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run ``func(*args, **kwargs)`` on a database thread and return its result."""
    context = contextvars.copy_context()
    future = _pool.submit(lambda: context.run(func, *args, **kwargs))
    result: _T = await asyncio.wrap_future(future)
    return result


def close_connections() -> None:
    """Close every database thread's connection now (blocks until done; not from the loop)."""
    for future in _pool.submit_to_each(_close_all):
        future.result()
