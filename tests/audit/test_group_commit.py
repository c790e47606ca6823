"""Group commit: ``prepare`` + ``record_prepared`` write several events as ``record`` would."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from securemsg import audit
from securemsg.audit import AuditFieldError, AuditSinkError, AuditUnavailable
from securemsg.audit.internal import filesink
from securemsg.audit.internal.sources import verify_database
from securemsg.audit.models import AuditEvent, ChainHead


def _prepared(n: int) -> list[audit.PreparedEvent]:
    return [
        audit.prepare("auth.login_failed", outcome="failure", target_id=str(i), details={"n": i})
        for i in range(n)
    ]


def test_a_group_is_one_write_and_one_fsync(transactional_db, audit_sinks: Path, monkeypatch):
    writes: list[int] = []
    fsyncs: list[int] = []
    real_write, real_fsync = filesink.writer.write_events, os.fsync

    def write_events(lines: list[bytes]) -> None:
        writes.append(len(lines))
        real_write(lines)

    def fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(filesink.writer, "write_events", write_events)
    monkeypatch.setattr(os, "fsync", fsync)
    seqs = audit.record_prepared(_prepared(5))
    assert seqs == [1, 2, 3, 4, 5]
    assert writes == [5] and len(fsyncs) == 1
    lines = [json.loads(line) for line in audit_sinks.read_text().splitlines()]
    assert [line["seq"] for line in lines if line["type"] == "event"] == seqs
    assert [line["seq"] for line in lines if line["type"] == "commit"] == seqs


def test_group_rows_form_the_same_chain_as_single_records(db):
    audit.record("auth.login_failed", outcome="failure")
    assert audit.record_prepared(_prepared(3)) == [2, 3, 4]
    audit.record("auth.login_failed", outcome="failure")
    rows = list(AuditEvent.objects.order_by("seq"))
    for before, row in itertools.pairwise(rows):
        assert row.prev_hash == before.hash
    assert all(row.mac for row in rows)
    head = ChainHead.objects.get()
    assert (head.seq, head.hash) == (5, rows[-1].hash)
    assert verify_database().ok


def test_a_group_is_one_insert_statement(db):
    audit.record("auth.login_failed", outcome="failure")  # the audit key exists from here
    with CaptureQueriesContext(connection) as queries:
        audit.record_prepared(_prepared(4))
    inserts = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1 and "audit" in inserts[0].lower()
    assert AuditEvent.objects.count() == 5
    assert verify_database().ok


def test_a_failed_group_writes_none_of_its_events(db, monkeypatch):
    def refuse(lines: list[bytes]) -> None:
        raise AuditSinkError("the audit file cannot be written (disk full)")

    monkeypatch.setattr(filesink.writer, "write_events", refuse)
    with pytest.raises(AuditUnavailable):
        audit.record_prepared(_prepared(3))
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(("event", "fields"), [("Not An Event", {}), ("auth.login", {"pw": "x"})])
def test_prepare_checks_fields_like_record(db, event: str, fields: dict[str, Any]):
    with pytest.raises(AuditFieldError):
        audit.prepare(event, password="secret", **fields)


def test_an_empty_group_writes_nothing(db):
    assert audit.record_prepared([]) == []
    assert not AuditEvent.objects.exists()


def test_each_row_of_a_group_sends_post_save(db):
    saved: list[tuple[str, bool]] = []

    def receiver(sender: Any, instance: AuditEvent, created: bool, **kwargs: Any) -> None:
        saved.append((instance.event, created))

    post_save.connect(receiver, sender=AuditEvent, dispatch_uid="test.group_post_save")
    try:
        audit.record_prepared(_prepared(3))
    finally:
        post_save.disconnect(dispatch_uid="test.group_post_save", sender=AuditEvent)
    assert saved == [("auth.login_failed", True)] * 3
