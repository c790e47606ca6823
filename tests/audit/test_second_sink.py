"""The second sink (field-lessons issue, point 2): a JSON Lines file of every event.

Fail closed on both sinks, deletions from the database found by comparing
with the file, rotation, and the health function other code calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client

from securemsg.audit import AuditSinkError, AuditUnavailable, record, sink_health
from securemsg.audit.internal.filesink import sink_files
from securemsg.audit.internal.sources import verify_database
from securemsg.audit.internal.verify import BreakKind
from securemsg.audit.models import AuditEvent


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sink_files(path) for line in f.read_text().splitlines()]


def _unwritable(settings, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.SECUREMSG_AUDIT_FILE = str(blocker / "audit.jsonl")


def _broken(kind: BreakKind, seq: int) -> str:
    result = verify_database()
    assert result.broken is not None, "deletion went unnoticed"
    assert (result.broken.kind, result.broken.seq) == (kind, seq), result.broken.message
    return result.broken.message


@pytest.mark.django_db(transaction=True)
def test_every_event_is_in_the_file_with_its_links_and_a_commit_line(events, audit_sinks):
    events(3)
    lines = _lines(audit_sinks)
    stored = {row.seq: row for row in AuditEvent.objects.all()}
    written = [line for line in lines if line["type"] == "event"]
    assert [line["seq"] for line in written] == [1, 2, 3]
    for line in written:
        row = stored[line["seq"]]
        assert (line["hash"], line["prev_hash"], line["mac"]) == (row.hash, row.prev_hash, row.mac)
        assert line["event"] == "auth.login_failed" and line["details"]["n"] == line["seq"] - 1
    assert [(c["seq"], c["hash"]) for c in lines if c["type"] == "commit"] == [
        (seq, stored[seq].hash) for seq in (1, 2, 3)
    ]
    assert oct(audit_sinks.stat().st_mode & 0o777) == "0o600"


@pytest.mark.django_db
def test_unwritable_file_refuses_the_event_and_rolls_the_database_back(events, settings, tmp_path):
    events(1)
    _unwritable(settings, tmp_path)
    with pytest.raises(AuditSinkError) as caught:
        record("auth.login_failed", outcome="failure")
    assert isinstance(caught.value, AuditUnavailable)
    assert AuditEvent.objects.count() == 1
    health = sink_health()
    assert not health.ok and not health.file.ok and health.database.ok
    assert health.file.detail == "last write failed: FileExistsError: File exists"


@pytest.mark.django_db
def test_sign_in_fails_closed_when_only_the_file_fails(
    client: Client, user_factory, password, settings, tmp_path
):
    user_factory("alice")
    _unwritable(settings, tmp_path)
    response = client.post("/accounts/login/", {"username": "alice", "password": password})
    assert response.status_code == 503
    assert "sessionid" not in response.cookies
    assert not AuditEvent.objects.filter(event="auth.login_succeeded").exists()


@pytest.mark.django_db(transaction=True)
def test_rolled_back_event_is_not_mistaken_for_a_deletion(events, audit_sinks):
    events(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        record("user.created", target_type="user", target_id="9")
        raise RuntimeError("the caller's action failed after the event")
    events(2)
    result = verify_database()
    assert result.ok, result.broken
    # The rolled-back attempt is in the file, without a commit line.
    seqs = [line["seq"] for line in _lines(audit_sinks) if line["type"] == "event"]
    assert seqs == [1, 2, 3, 3, 4]


@pytest.mark.django_db(transaction=True)
def test_emptied_table_is_detected(events, sql):
    events(4)
    sql("DELETE FROM audit_auditevent")
    sql("DELETE FROM audit_chainhead")
    assert "the table was emptied" in _broken(BreakKind.TRUNCATED, 1)


@pytest.mark.django_db(transaction=True)
def test_deleted_tail_with_a_fixed_head_is_detected(events, sql):
    events(6)
    last_kept = AuditEvent.objects.get(seq=4).hash
    sql("DELETE FROM audit_auditevent WHERE seq > 4")
    sql("UPDATE audit_chainhead SET seq = 4, hash = %s", [last_kept])
    assert "rows 5..6 committed to the second sink" in _broken(BreakKind.TRUNCATED, 5)


@pytest.mark.django_db(transaction=True)
def test_chain_written_again_after_a_deletion_is_detected(events, sql):
    events(3)
    sql("DELETE FROM audit_auditevent")
    sql("DELETE FROM audit_chainhead")
    events(3)  # seqs 1..3 again, with other contents
    assert "committed twice" in _broken(BreakKind.DELETED, 1)


@pytest.mark.django_db(transaction=True)
def test_a_missing_file_is_detected(events, audit_sinks):
    events(3)
    audit_sinks.unlink()
    assert "not in the second sink" in _broken(BreakKind.SINK_MISMATCH, 1)


@pytest.mark.django_db(transaction=True)
def test_rotation_keeps_every_event(events, settings, audit_sinks):
    settings.SECUREMSG_AUDIT_FILE = str(audit_sinks)
    settings.SECUREMSG_AUDIT_FILE_MAX_BYTES = 2000
    events(20)
    files = sink_files(audit_sinks)
    assert len(files) > 2
    assert [f.name for f in files[:2]] == ["audit.jsonl.1", "audit.jsonl.2"]
    seqs = [line["seq"] for line in _lines(audit_sinks) if line["type"] == "event"]
    assert seqs == list(range(1, 21))
    assert verify_database().ok


@pytest.mark.django_db(transaction=True)
def test_sink_health_when_all_is_well(events, audit_sinks):
    events(3)
    health = sink_health()
    assert health.ok
    assert health.database.last_seq == 3 and health.file.last_seq == 3
    assert health.database.detail.startswith("audit key dk-")


@pytest.mark.django_db(transaction=True)
def test_sink_health_notices_a_file_behind_the_database(events, audit_sinks):
    events(3)
    audit_sinks.write_text("")
    health = sink_health()
    assert not health.ok and health.database.ok
    assert "ends at row 0 but the database at row 3" in health.file.detail


@pytest.mark.django_db(transaction=True)
def test_verify_command_reports_the_deletion_with_exit_1(events, sql, capsys):
    events(3)
    sql("DELETE FROM audit_auditevent WHERE seq = 3")
    kept = AuditEvent.objects.get(seq=2).hash
    sql("UPDATE audit_chainhead SET seq = 2, hash = %s", [kept])
    with pytest.raises(CommandError) as exited:
        call_command("audit", "verify")
    assert exited.value.returncode == 1
    assert "committed to the second sink" in capsys.readouterr().out
