"""Group commit of the consumers' audit events (securemsg.chat.auditbatch)."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async

from securemsg import audit
from securemsg.audit import AuditSinkError, AuditUnavailable
from securemsg.audit.internal import filesink
from securemsg.audit.models import AuditEvent
from securemsg.chat import auditbatch

pytestmark = pytest.mark.asyncio


def _event(i: int) -> audit.PreparedEvent:
    return audit.prepare("handshake.completed", target_type="user", target_id=str(i))


@pytest_asyncio.fixture
async def groups(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the second-sink writes, one per group commit, from now on."""
    await auditbatch.record(_event(-1))  # the first event creates the audit key
    sizes: list[int] = []
    real = filesink.writer.write_events

    def write_events(lines: list[bytes]) -> None:
        sizes.append(len(lines))
        real(lines)

    monkeypatch.setattr(filesink.writer, "write_events", write_events)
    return sizes


async def test_events_waiting_together_share_one_commit(groups: list[int]):
    seqs = await asyncio.gather(*(auditbatch.record(_event(i)) for i in range(8)))
    assert sorted(seqs) == list(range(seqs[0], seqs[0] + 8))
    assert groups == [8]
    stored = await sync_to_async(lambda: sorted(AuditEvent.objects.values_list("seq", flat=True)))()
    assert set(seqs) <= set(stored)


async def test_events_arriving_during_a_commit_go_in_the_next_group(groups: list[int]):
    first = asyncio.ensure_future(auditbatch.record(_event(0)))
    await asyncio.sleep(0)  # the first group is on its way to the database thread
    rest = [asyncio.ensure_future(auditbatch.record(_event(i))) for i in range(1, 4)]
    await asyncio.gather(first, *rest)
    assert groups == [1, 3]


async def test_the_follow_up_runs_after_the_commit(transactional_db):
    def stored() -> int:
        return AuditEvent.objects.filter(event="handshake.completed").count()

    assert await auditbatch.record_then(_event(1), stored) == 1


async def test_a_follow_up_error_reaches_its_caller_only(transactional_db):
    def fail() -> None:
        raise LookupError("follow-up failed")

    failing = auditbatch.record_then(_event(1), fail)
    fine = auditbatch.record(_event(2))
    results = await asyncio.gather(failing, fine, return_exceptions=True)
    assert isinstance(results[0], LookupError)
    assert isinstance(results[1], int)


async def test_a_failed_commit_fails_every_event_of_the_group(transactional_db, monkeypatch):
    def refuse(lines: list[bytes]) -> None:
        raise AuditSinkError("the audit file cannot be written (disk full)")

    monkeypatch.setattr(filesink.writer, "write_events", refuse)
    results = await asyncio.gather(
        *(auditbatch.record(_event(i)) for i in range(3)), return_exceptions=True
    )
    assert all(isinstance(result, AuditUnavailable) for result in results)
    assert not await sync_to_async(AuditEvent.objects.exists)()
    # The next group is committed normally once the sink works again.
    monkeypatch.undo()
    assert await auditbatch.record(_event(4)) >= 1
