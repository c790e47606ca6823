"""Group commit of the WebSocket side's audit events, on the database thread.

Every handshake commits its ``handshake.completed`` event (database row and
fsync'd second-sink line) before ``ready`` (docs/audit.md). One commit per
event costs two fsyncs each, one after another, on the one database thread:
with many clients connecting at once, those waits, not the RSA work, set the
pace. Events that arrive while a commit is running wait for it to end and
are then committed together (``securemsg.audit.record_prepared``: one
transaction, one write and one fsync of the second sink), so a quiet server
commits each event at once and a busy one pays for one durable write per
group. Each caller still gets control back only after its own event is
committed; a failed commit fails every event of its group.

A caller may pass a follow-up (``record_then``) that runs on the database
thread right after the commit, in the same trip, in the caller's context.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from securemsg import audit
from securemsg.chat import dbthread

__all__ = ["MAX_GROUP", "record", "record_then"]

#: Events committed together at most (bounds one transaction and one write).
MAX_GROUP: Final = 256

_T = TypeVar("_T")


@dataclass
class _Waiting:
    event: audit.PreparedEvent
    then: Callable[[], Any] | None
    context: contextvars.Context
    future: asyncio.Future[Any]


def _commit(group: list[_Waiting]) -> list[tuple[Any, BaseException | None]]:
    """Runs on the database thread: commit the group, then each follow-up."""
    seqs = audit.record_prepared([item.event for item in group])
    results: list[tuple[Any, BaseException | None]] = []
    for seq, item in zip(seqs, group, strict=True):
        if item.then is None:
            results.append((seq, None))
            continue
        try:
            results.append((item.context.run(item.then), None))
        except Exception as exc:
            results.append((None, exc))
    return results


class _GroupCommitter:
    """Queues events of one event loop and commits them in groups."""

    def __init__(self) -> None:
        self._waiting: list[_Waiting] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False
        self._task: asyncio.Task[None] | None = None

    async def submit(self, event: audit.PreparedEvent, then: Callable[[], Any] | None) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A server process has one loop; a new one (tests) starts afresh.
            self._waiting, self._loop, self._draining, self._task = [], loop, False, None
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append(_Waiting(event, then, contextvars.copy_context(), future))
        if not self._draining:
            self._draining = True
            # An empty context: the group's writes belong to no one connection.
            self._task = loop.create_task(self._drain(), context=contextvars.Context())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                try:
                    results = await dbthread.run(_commit, group)
                except Exception as exc:
                    for item in group:
                        if not item.future.done():
                            item.future.set_exception(exc)
                    continue
                for item, (value, error) in zip(group, results, strict=True):
                    if item.future.done():  # the caller was cancelled (disconnect)
                        continue
                    if error is not None:
                        item.future.set_exception(error)
                    else:
                        item.future.set_result(value)
        finally:
            self._draining = False


_committer = _GroupCommitter()


async def record(event: audit.PreparedEvent) -> int:
    """Commit ``event`` (with whatever else is waiting) and return its sequence number.

    Raises what ``securemsg.audit.record_prepared`` raises (``AuditUnavailable``).
    """
    return cast(int, await _committer.submit(event, None))


async def record_then(event: audit.PreparedEvent, then: Callable[[], _T]) -> _T:
    """Commit ``event``, then run ``then()`` on the database thread; return its result.

    ``then`` runs only once the event is committed; its exception is raised here.
    """
    return cast(_T, await _committer.submit(event, then))
