"""``manage.py audit``: exit statuses, export and offline verification, prune rules."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from securemsg.audit.models import AuditEvent, Checkpoint
from tests.support.db_faults import block_inserts, unblock_inserts


def _run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("audit", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue() + str(exc)
    return 0, out.getvalue()


def test_verify_ok_and_recorded(events):
    events(3)
    status, output = _run("verify")
    assert status == 0
    assert "OK: 3 rows" in output
    verified = AuditEvent.objects.get(event="audit.verified")
    assert verified.outcome == "success"
    assert verified.details["ok"] is True and verified.details["rows"] == 3


def test_verify_broken_exits_1_and_records_the_failure(events, sql):
    events(3)
    sql("UPDATE audit_auditevent SET event = 'auth.logout' WHERE seq = 2")
    status, output = _run("verify")
    assert status == 1
    assert "BROKEN at row 2: edited" in output
    verified = AuditEvent.objects.get(event="audit.verified")
    assert (verified.outcome, verified.details["kind"]) == ("failure", "edited")


def test_checkpoint_command(vault, events):
    events(2)
    assert _run("checkpoint")[0] == 0
    assert Checkpoint.objects.get().seq == 2


def test_checkpoint_without_vault_exits_5(vault, events):
    events(1)
    vault.broken = True
    assert _run("checkpoint")[0] == 5


def test_unwritable_log_exits_3(events, unwritable):
    assert _run("verify")[0] == 3


def test_usage_errors_exit_2():
    with pytest.raises(CommandError):
        call_command("audit", "prune")
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--from", "0")


def test_export_then_verify_offline(vault, events, tmp_path: Path):
    events(5)
    path = tmp_path / "audit.jsonl"
    status, output = _run("export", "--output", str(path))
    assert status == 0, output
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [lines[0]["type"], lines[-1]["type"]] == ["header", "end"]
    assert {item["type"] for item in lines} == {"header", "key", "checkpoint", "event", "end"}
    assert lines[0]["to_seq"] == 5  # ends on the checkpoint taken for the export
    exported = AuditEvent.objects.get(event="audit.exported")
    assert exported.details["to_seq"] == 5 and len(exported.details["sha256"]) == 64
    # Offline: nothing from the database or the vault is needed.
    AuditEvent.objects.all().delete()
    vault.keys.clear()
    status, output = _run("verify", "--file", str(path))
    assert status == 0, output
    assert "OK: 5 rows" in output and "SPKI SHA-256" in output


@pytest.mark.parametrize(
    ("edit", "kind"),
    [
        (lambda lines: lines[-3].replace('"outcome":"failure"', '"outcome":"success"'), "edited"),
        (lambda lines: "", "deleted"),
    ],
)
def test_tampered_export_is_detected(vault, events, tmp_path: Path, edit, kind):
    events(5)
    path = tmp_path / "audit.jsonl"
    _run("export", "--output", str(path))
    lines = path.read_text().splitlines(keepends=True)
    lines[-3] = edit(lines)  # the event at row 4
    path.write_text("".join(lines))
    status, output = _run("verify", "--file", str(path))
    assert status == 1
    assert f": {kind}:" in output


def test_truncated_export_file(vault, events, tmp_path: Path):
    events(4)
    path = tmp_path / "audit.jsonl"
    _run("export", "--output", str(path))
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]))
    status, output = _run("verify", "--file", str(path))
    assert (status, "truncated" in output) == (1, True)


def test_unreadable_file_exits_6(db, tmp_path: Path):
    assert _run("verify", "--file", str(tmp_path / "missing.jsonl"))[0] == 6
    (tmp_path / "junk.jsonl").write_text("not json\n")
    assert _run("verify", "--file", str(tmp_path / "junk.jsonl"))[0] == 6


def test_export_is_refused_when_it_cannot_be_recorded(vault, events, tmp_path: Path, sql):
    events(2)
    path = tmp_path / "audit.jsonl"
    block_inserts("audit_auditevent", "no_export", when_event="audit.exported")
    try:
        assert _run("export", "--output", str(path))[0] == 3
        assert not path.exists()
    finally:
        unblock_inserts("audit_auditevent", "no_export")


def test_prune_rules(vault, events, tmp_path: Path):
    events(4)
    status, output = _run("prune", "--before", "3")
    assert status == 4 and "no checkpoint" in output
    _run("checkpoint")  # checkpoint at 4, its event is row 5
    status, output = _run("prune", "--before", "5")
    assert status == 4 and "not in a recorded export" in output
    assert _run("export", "--output", str(tmp_path / "a.jsonl"))[0] == 0
    status, output = _run("prune", "--before", "3")
    assert status == 4 and "use --before 5" in output
    status, output = _run("prune", "--before", "5")
    assert status == 0, output
    assert AuditEvent.objects.order_by("seq").values_list("seq", flat=True)[0] == 5
    assert AuditEvent.objects.filter(event="audit.pruned").get().details["before"] == 5
    # The pruned chain still verifies from its anchor checkpoint.
    assert _run("verify")[0] == 0


def test_prune_refused_on_a_broken_chain(vault, events, tmp_path: Path, sql):
    events(3)
    _run("export", "--output", str(tmp_path / "a.jsonl"))
    sql("UPDATE audit_auditevent SET outcome = 'denied' WHERE seq = 1")
    status, output = _run("prune", "--before", "4")
    assert status == 4 and "does not verify" in output
    assert AuditEvent.objects.filter(seq=1).exists()
