"""``manage.py securemsg doctor``: the readiness table, what to do, and the exit status."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

from django.core.management import call_command

import keyvault


def _doctor(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("securemsg", "doctor", *args, stdout=out, no_color=True)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_all_green_exits_zero(vault):
    status, output = _doctor()
    assert status == 0, output
    lines = output.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "DETAIL"]
    for title in ("Database", "Channel layer", "Key vault", "Audit log"):
        assert any(line.startswith(title) and " OK " in line for line in lines), title
    assert "What to do" not in output
    assert lines[-1] == "Overall: OK"


def test_failing_row_says_what_to_do_and_exits_two(vault, settings):
    Path(settings.KEYVAULT_MASTER_KEY_FILE).unlink()
    keyvault.reset_caches()
    status, output = _doctor()
    assert status == 2
    row = next(line for line in output.splitlines() if line.startswith("Key vault"))
    assert "FAIL" in row and "MasterKeyMissingError" in row
    todo = output.split("What to do:")[1]
    assert "Key vault: Restore the master keyring" in todo
    assert "Database" not in todo
    assert output.rstrip().endswith("Overall: FAIL")


def test_warning_exits_one(vault):
    from datetime import timedelta

    from django.utils import timezone

    from keyvault.conf import app_settings
    from keyvault.models import ServerKey

    due = timezone.now() - app_settings.max_age("encryption") - timedelta(hours=2)
    ServerKey.objects.filter(purpose="encryption", state="active").update(activated_at=due)
    status, output = _doctor()
    assert status == 1
    assert "keyvault rotate --due" in output


def test_json_output(vault, audit_insert_blocked):
    status, output = _doctor("--json")
    assert status == 2
    body = json.loads(output)
    assert body["status"] == "fail"
    assert body["checks"]["audit_log"]["status"] == "fail"
    assert "trigger" in body["checks"]["audit_log"]["remedy"]
    assert body["checks"]["key_vault"]["status"] == "ok"


def test_output_holds_no_master_key(vault, settings):
    keyring = json.loads(Path(settings.KEYVAULT_MASTER_KEY_FILE).read_text())
    status, output = _doctor("--json")
    assert status == 0
    for value in _strings(keyring):
        if len(value) >= 32:
            assert value not in output


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
