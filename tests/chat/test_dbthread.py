"""The WebSocket side's database thread: one thread, a connection kept open, closed when it must."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.db import connection, transaction

from accounts.models import User
from securemsg.chat import dbthread
from securemsg.ops import correlation

pytestmark = pytest.mark.asyncio


def _raw_connection() -> Any:
    connection.ensure_connection()
    return connection.connection


def _state() -> tuple[str, Any]:
    return threading.current_thread().name, connection.connection


async def test_calls_run_in_order_on_one_named_thread():
    seen: list[tuple[int, str]] = []

    def note(i: int) -> int:
        seen.append((i, threading.current_thread().name))
        return i * 2

    results = [await dbthread.run(note, i) for i in range(5)]
    assert results == [0, 2, 4, 6, 8]
    assert seen == [(i, "securemsg-db-0") for i in range(5)]


async def test_exceptions_reach_the_caller():
    def fail() -> None:
        raise LookupError("nope")

    with pytest.raises(LookupError, match="nope"):
        await dbthread.run(fail)


async def test_the_callers_context_goes_along():
    connection_id = correlation.bind_connection()
    fields = await dbthread.run(correlation.correlation_fields)
    assert fields["connection_id"] == connection_id


async def test_the_connection_stays_open_between_calls(transactional_db):
    first = await dbthread.run(_raw_connection)
    assert await dbthread.run(User.objects.count) == 0
    name, second = await dbthread.run(_state)
    assert name == "securemsg-db-0" and second is first
    await dbthread.run(lambda: connection.close())  # a job may close it too
    assert (await dbthread.run(_state))[1] is None


async def test_a_connection_left_in_a_transaction_is_closed(transactional_db):
    await dbthread.run(_raw_connection)

    def leave_transaction_open() -> None:
        transaction.set_autocommit(False)
        User.objects.count()

    await dbthread.run(leave_transaction_open)
    assert (await dbthread.run(_state))[1] is None
    # The next call opens a fresh connection in autocommit.
    assert await dbthread.run(lambda: (User.objects.count(), connection.get_autocommit())) == (
        0,
        True,
    )


async def test_an_unusable_connection_is_closed_after_an_error(transactional_db):
    await dbthread.run(_raw_connection)

    def break_it() -> None:
        connection.errors_occurred = True
        connection.is_usable = lambda: False  # type: ignore[method-assign]

    await dbthread.run(break_it)
    assert (await dbthread.run(_state))[1] is None


async def test_close_connections_closes_the_kept_connection(transactional_db):
    await dbthread.run(_raw_connection)
    dbthread.close_connections()
    assert (await dbthread.run(_state))[1] is None


async def test_an_idle_connection_is_closed(transactional_db, monkeypatch):
    monkeypatch.setattr(dbthread, "IDLE_SECONDS", 0.2)
    # The thread reads IDLE_SECONDS each time it starts waiting for a job.
    await dbthread.run(_raw_connection)
    await asyncio.sleep(0.6)
    assert (await dbthread.run(_state))[1] is None


async def test_several_threads_share_the_work(settings):
    settings.SECUREMSG_DB_THREADS = 2
    pool = dbthread._Pool()
    release = threading.Event()
    blocked = pool.submit(lambda: release.wait(10) and threading.current_thread().name)
    # The first thread is busy: the next job goes to the other one.
    assert pool.submit(lambda: threading.current_thread().name).result(10) == "securemsg-db-1"
    release.set()
    assert blocked.result(10) == "securemsg-db-0"
    assert [f.result(10) for f in pool.submit_to_each(lambda: 1)] == [1, 1]


async def test_a_clean_exit_closes_the_connections(transactional_db):
    await dbthread.run(_raw_connection)
    await asyncio.to_thread(dbthread._pool.close_at_exit)
    assert (await dbthread.run(_state))[1] is None


async def test_a_failing_connection_check_does_not_end_the_thread(monkeypatch):
    # E.g. the check after a call cannot reach the database: the thread closes the
    # connection and keeps serving (it used to end, and every later call hung).
    calls = 0
    real = dbthread._release

    def failing_once(opened_at: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database unreachable")
        return real(opened_at)

    monkeypatch.setattr(dbthread, "_release", failing_once)
    assert await dbthread.run(lambda: 1) == 1
    # The check runs after the result is handed over: the later calls prove it ran.
    assert await asyncio.wait_for(dbthread.run(lambda: 2), timeout=10) == 2
    assert await asyncio.wait_for(dbthread.run(lambda: 3), timeout=10) == 3
    assert calls >= 2
