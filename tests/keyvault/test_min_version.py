"""Minimum usable version per purpose: effects, rotation, refusals, audit, CLI, processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

import keyvault
from keyvault.exceptions import IllegalTransitionError, InvalidMinimumVersionError
from keyvault.internal.states import check_transition
from keyvault.models import Endorsement, MinimumKeyVersion, ServerKey, VaultGeneration
from securemsg.protocol import StaleKeyError, parse_key_set
from tests.support.db_faults import shared_database_url

from .conftest import private_der

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _states() -> dict[str, tuple[str, bool]]:
    return {k.kid: (k.state, k.compromised) for k in ServerKey.objects.all()}


def _published(use: str) -> list[str]:
    return [k["kid"] for k in keyvault.keys_document()["keys"] if k["use"] == use]


def _generation() -> int:
    return VaultGeneration.objects.get(pk=1).generation


def _snapshot() -> tuple[object, ...]:
    """Everything the operation could change, to show that a refusal changed nothing."""
    return (
        _states(),
        list(MinimumKeyVersion.objects.values_list("purpose", "version")),
        Endorsement.objects.count(),
        _generation(),
    )


# -- effects -----------------------------------------------------------------------------


def test_older_keys_become_unusable_at_once(vault, audit):
    keyvault.rotate("encryption")
    keyvault.rotate("encryption")  # enc-1, enc-2 retiring; enc-3 active
    keyring = keyvault.server_keyring()
    assert keyring.decryption_key("enc-2") is not None  # cached in this process
    before = _generation()

    report = keyvault.set_minimum_key_version("encryption", 3)

    assert (report.previous, report.minimum, report.unusable) == (1, 3, ("enc-1", "enc-2"))
    assert not report.rotates and report.replacement == ""
    assert _states() == {
        "enc-1": ("disabled", True),
        "enc-2": ("disabled", True),
        "enc-3": ("active", False),
        "sig-1": ("active", False),
    }
    assert keyvault.minimum_key_versions() == {"signing": 1, "encryption": 3}
    assert _generation() > before
    assert _published("enc") == ["enc-3"]
    for kid in ("enc-1", "enc-2"):
        with pytest.raises(StaleKeyError):
            keyring.decryption_key(kid)
    assert keyring.decryption_key("enc-3").key_size == 2048


def test_active_key_below_is_replaced_without_endorsement(vault, audit):
    pin = ServerKey.objects.get(kid="sig-1").fingerprint
    keyvault.rotate("signing")  # sig-2 active, endorsed by sig-1
    assert keyvault.sign_checkpoint(b"x")[0] == "sig-2"

    report = keyvault.set_minimum_key_version("signing", 3)

    assert report.unusable == ("sig-1", "sig-2") and report.rotates
    assert report.replacement == "sig-3"
    assert ServerKey.objects.get(kid="sig-3").state == "active"
    assert keyvault.sign_checkpoint(b"x")[0] == "sig-3"
    assert not Endorsement.objects.filter(key__kid="sig-3").exists()
    assert _published("sig") == ["sig-3"]
    keyset = parse_key_set(keyvault.keys_document())
    assert keyset.trusted_signing_key("sig-3", [pin]) is None  # clients re-pin out of band
    rotated = audit.of("key.rotated")[-1]
    assert (rotated["target_id"], rotated["reason"], rotated["endorsed_by"]) == (
        "sig-3",
        "minimum_version",
        "",
    )


def test_newest_plus_one_replaces_every_key(vault):
    report = keyvault.set_minimum_key_version("encryption", 2)
    assert report.unusable == ("enc-1",) and report.replacement == "enc-2"
    with pytest.raises(StaleKeyError):
        keyvault.server_keyring().decryption_key("enc-1")
    assert keyvault.server_keyring().decryption_key("enc-2") is not None


@pytest.mark.parametrize("failing", ["key.rotated", "key.minimum_version_set"])
def test_rotation_is_in_the_same_transaction(vault, audit, failing):
    before = _snapshot()
    audit.fail_on = failing
    with pytest.raises(keyvault.AuditFailedError):
        keyvault.set_minimum_key_version("signing", 2)
    assert _snapshot() == before
    assert not ServerKey.objects.filter(kid="sig-2").exists()
    assert keyvault.sign_checkpoint(b"x")[0] == "sig-1"


def test_keys_already_out_of_service_are_not_listed(vault):
    keyvault.mark_compromised("enc-1")  # enc-2 active
    report = keyvault.set_minimum_key_version("encryption", 2)
    assert report.changed and report.unusable == () and not report.rotates
    assert keyvault.minimum_key_versions()["encryption"] == 2


def test_pending_deletion_key_below_stays_pending_and_never_comes_back(vault):
    keyvault.rotate("encryption")
    keyvault.disable_key("enc-1")
    keyvault.schedule_deletion("enc-1")
    report = keyvault.set_minimum_key_version("encryption", 2)
    assert report.unusable == ("enc-1",) and report.from_states == ("pending_deletion",)
    keyvault.cancel_deletion("enc-1")
    with pytest.raises(IllegalTransitionError, match="below the minimum"):
        keyvault.reenable_key("enc-1")


def test_setting_the_same_minimum_again_does_nothing(vault, audit):
    keyvault.set_minimum_key_version("encryption", 2)
    before, events = _snapshot(), len(audit.events)
    report = keyvault.set_minimum_key_version("encryption", 2)
    assert not report.changed and report.unusable == ()
    assert _snapshot() == before and len(audit.events) == events


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "minimum", "message"),
    [
        ("encryption", 1, "can only be raised"),
        ("encryption", 0, "can only be raised"),
        ("encryption", -3, "can only be raised"),
        ("encryption", 4, "beyond the newest encryption key \\(version 2\\); at most 3"),
        ("signing", 3, "beyond the newest signing key \\(version 1\\); at most 2"),
        ("bogus", 2, "unknown purpose 'bogus'"),
        ("", 2, "unknown purpose"),
    ],
)
def test_invalid_minimum_is_refused_and_changes_nothing(vault, audit, purpose, minimum, message):
    keyvault.set_minimum_key_version("encryption", 2)
    before, events = _snapshot(), len(audit.events)
    with pytest.raises(InvalidMinimumVersionError, match=message) as info:
        keyvault.set_minimum_key_version(purpose, minimum)
    assert isinstance(info.value, ValueError) and info.value.exit_status == 2
    assert (info.value.purpose, info.value.minimum) == (purpose, minimum)
    assert _snapshot() == before and len(audit.events) == events


@pytest.mark.parametrize("minimum", ["2", 2.0, True, None])
def test_minimum_of_the_wrong_type_is_a_type_error(vault, minimum):
    before = _snapshot()
    with pytest.raises(TypeError, match="minimum must be an int"):
        keyvault.set_minimum_key_version("encryption", minimum)
    assert _snapshot() == before


def test_preview_says_what_would_happen_and_changes_nothing(vault):
    keyvault.rotate("encryption")
    before = _snapshot()
    preview = keyvault.preview_minimum_key_version("encryption", 3)
    assert preview.unusable == ("enc-1", "enc-2") and preview.rotates
    assert preview.from_states == ("retiring", "active") and preview.replacement == ""
    assert _snapshot() == before
    with pytest.raises(InvalidMinimumVersionError):
        keyvault.preview_minimum_key_version("encryption", 4)


def test_reenabling_a_key_below_the_minimum_is_refused(vault):
    keyvault.rotate("encryption")
    keyvault.set_minimum_key_version("encryption", 2)
    with pytest.raises(IllegalTransitionError) as info:
        keyvault.reenable_key("enc-1")
    assert "version 1 is below the minimum usable encryption version 2" in str(info.value)
    assert ServerKey.objects.get(kid="enc-1").state == "disabled"


def test_state_machine_refuses_reenable_below_the_minimum_even_if_not_flagged():
    key = ServerKey(kid="enc-1", purpose="encryption", version=1, state="disabled")
    now = timezone.now()
    with pytest.raises(IllegalTransitionError, match="below the minimum"):
        check_transition(key, "reenable", now=now, minimum_version=2)
    assert check_transition(key, "reenable", now=now, minimum_version=1) == "retiring"


# -- audit -----------------------------------------------------------------------------------


def test_one_event_with_purpose_minimums_and_kids_and_no_secret(vault, audit):
    keyvault.rotate("encryption")
    secrets = [private_der(kid).hex()[64:128] for kid in ("enc-1", "enc-2")]
    audit.events.clear()
    keyvault.set_minimum_key_version("encryption", 3, actor="ops")
    (event,) = audit.of("key.minimum_version_set")
    assert event == {
        "actor": "ops",
        "target_type": "key_purpose",
        "target_id": "encryption",
        "purpose": "encryption",
        "previous_minimum": 1,
        "minimum": 3,
        "kids": ["enc-1", "enc-2"],
        "from_states": ["retiring", "active"],
        "replacement": "enc-3",
    }
    text = json.dumps(audit.events, default=str)
    assert not any(secret in text for secret in secrets) and "PRIVATE" not in text
    names = audit.names()
    assert names.count("key.minimum_version_set") == 1 and "key.compromised" not in names


def test_real_audit_log_accepts_the_event(vault, audit):
    from securemsg.audit.models import AuditEvent

    audit.passthrough = True
    keyvault.set_minimum_key_version("signing", 2)
    stored = AuditEvent.objects.get(event="key.minimum_version_set")
    assert stored.target_type == "key_purpose" and stored.target_id == "signing"
    assert stored.details["kids"] == ["sig-1"] and stored.details["replacement"] == "sig-2"


# -- command line --------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("keyvault", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fails(*args: str) -> CommandError:
    with pytest.raises(CommandError) as info:
        run(*args)
    return info.value


def test_cli_min_version_and_status(vault):
    keyvault.rotate("encryption")
    out = run("min-version", "--purpose", "encryption", "3")
    assert "Minimum encryption version 1 -> 3; unusable for good now: enc-1, enc-2." in out
    assert "enc-3 is active (clients that wrapped to an old key get 4412" in out
    assert "already 3; nothing done" in run("min-version", "--purpose", "encryption", "3")
    assert "Minimum usable version: signing 1, encryption 3" in run("status")
    assert "not endorsed" in run("min-version", "--purpose", "signing", "2")


def test_cli_exit_statuses(vault, audit):
    run("min-version", "--purpose", "encryption", "2")
    before = _snapshot()
    lower = fails("min-version", "--purpose", "encryption", "1")
    assert lower.returncode == 2 and "can only be raised" in str(lower)
    beyond = fails("min-version", "--purpose", "encryption", "9")
    assert beyond.returncode == 2 and "at most 3" in str(beyond)
    audit.fail_on = "key.minimum_version_set"
    refused = fails("min-version", "--purpose", "encryption", "3")
    assert refused.returncode == 9
    assert _snapshot() == before


def test_cli_unknown_purpose_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "keyvault", "min-version", "--purpose", "bogus", "2"],
        cwd=ROOT,
        env=dict(os.environ, SECUREMSG_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid choice: 'bogus'" in result.stderr and "Traceback" not in result.stderr


# -- another process -----------------------------------------------------------------------

WATCHER = """
import sys, time, django
django.setup()
import keyvault
print(keyvault.sign_checkpoint(b"x")[0], flush=True)
sys.stdin.readline()
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    kid = keyvault.sign_checkpoint(b"x")[0]
    if kid != "sig-1":
        break
    time.sleep(0.05)
published = [k["kid"] for k in keyvault.keys_document()["keys"] if k["use"] == "sig"]
print(kid, round(5 - (deadline - time.monotonic()), 2), ",".join(published), flush=True)
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_second_process_stops_using_keys_below_the_minimum_within_seconds(vault, settings):
    env = dict(
        os.environ,
        DATABASE_URL=shared_database_url(),
        SECUREMSG_KMS_BACKEND="local",
        SECUREMSG_MASTER_KEY_FILE=settings.KEYVAULT_MASTER_KEY_FILE,
        SECUREMSG_KEY_ALGORITHM="RSA-2048",
        DJANGO_SETTINGS_MODULE="securemsg.settings",
    )
    with subprocess.Popen(
        [sys.executable, "-c", WATCHER],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "sig-1"  # cached in the other process
        keyvault.set_minimum_key_version("signing", 2)
        proc.stdin.write("\n")
        proc.stdin.flush()
        kid, seconds, published = proc.stdout.readline().split()
        proc.wait(timeout=10)
    assert (kid, published) == ("sig-2", "sig-2")
    assert float(seconds) <= 2.0
