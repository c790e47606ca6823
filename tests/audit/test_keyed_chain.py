"""The keyed chain (field-lessons issue, point 2): a MAC a database writer cannot recompute."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.core.management import call_command

import keyvault
from keyvault.models import DataKey
from securemsg.audit import AuditKeyError, AuditUnavailable, record
from securemsg.audit.internal import auditkey
from securemsg.audit.internal.sources import verify_database
from securemsg.audit.internal.verify import BreakKind
from securemsg.audit.models import AuditEvent

from .test_tamper import recompute_hashes

pytestmark = pytest.mark.django_db


def _broken(kind: BreakKind, seq: int) -> str:
    result = verify_database()
    assert result.broken is not None, "tampering went unnoticed"
    assert (result.broken.kind, result.broken.seq) == (kind, seq), result.broken.message
    return result.broken.message


def test_every_row_carries_the_documented_mac(events, keyed_chain):
    events(3)
    key = keyvault.open_data_key(keyed_chain.key_id, purpose="audit")
    for row in AuditEvent.objects.order_by("seq"):
        expected = hmac.new(key, bytes.fromhex(row.hash), hashlib.sha256).hexdigest()
        assert (row.mac, row.audit_key_id) == (expected, keyed_chain.key_id)
    # The key itself is only stored wrapped by the master key.
    stored = bytes(DataKey.objects.get(key_id=keyed_chain.key_id).wrapped_key)
    assert key not in stored


def test_edited_row_with_recomputed_hashes_is_caught_by_its_mac(events, sql):
    events(5)
    sql("UPDATE audit_auditevent SET actor_username = 'mallory' WHERE seq = 2")
    recompute_hashes(sql, 2)
    assert "MAC" in _broken(BreakKind.EDITED, 2)


def test_stripped_mac_is_reported(events, sql):
    events(5)
    sql("UPDATE audit_auditevent SET mac = NULL WHERE seq = 4")
    assert "has no MAC" in _broken(BreakKind.MAC_MISSING, 4)


def test_mac_copied_from_another_row_does_not_match(events, sql):
    events(5)
    mac = AuditEvent.objects.get(seq=1).mac
    sql("UPDATE audit_auditevent SET mac = %s WHERE seq = 3", [mac])
    _broken(BreakKind.EDITED, 3)


def test_deleted_audit_key_is_reported(events, sql):
    events(3)
    sql("DELETE FROM keyvault_datakey WHERE purpose = 'audit'")
    auditkey.reset()
    assert "no usable audit key" in _broken(BreakKind.MAC_MISSING, 1)


def test_moved_keyed_chain_start_makes_the_key_unusable(events, sql):
    """Editing the key's context to exempt rows from the MAC breaks the key's wrap."""
    events(3)
    sql("UPDATE keyvault_datakey SET context = 'chain-from:99' WHERE purpose = 'audit'")
    auditkey.reset()
    keyvault.reset_caches()
    assert "cannot be opened (key vault: corrupted_key)" in _broken(BreakKind.MAC_MISSING, 1)


def test_kept_key_lets_a_vault_failure_be_recorded(
    events, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        events(1)  # committed: this process now holds the audit key

    def broken(*args, **kwargs):
        raise keyvault.MasterKeyMissingError("master key file is gone")

    monkeypatch.setattr(keyvault, "open_data_key", broken)
    monkeypatch.setattr(keyvault, "list_data_keys", broken)
    monkeypatch.setattr(keyvault, "new_data_key", broken)
    seq = record("keyvault.failure", outcome="error", operation="unwrap", reason="master_missing")
    assert AuditEvent.objects.get(seq=seq).mac is not None


def test_without_the_key_no_event_is_written(events, monkeypatch, audit_sinks):
    """A process that cannot open the audit key refuses the event (fail closed)."""
    auditkey.reset()

    def broken(*args, **kwargs):
        raise keyvault.MasterKeyMissingError("master key file is gone")

    monkeypatch.setattr(keyvault, "open_data_key", broken)
    keyvault.reset_caches()
    with pytest.raises(AuditKeyError) as caught:
        record("auth.login_failed", outcome="failure")
    assert isinstance(caught.value, AuditUnavailable)
    assert not AuditEvent.objects.exists()
    assert not audit_sinks.exists() or '"type":"event"' not in audit_sinks.read_text()


def test_rewrap_carries_the_audit_key(events):
    events(2)
    call_command("keyvault", "master-add", verbosity=0)
    call_command("keyvault", "rewrap", verbosity=0)
    assert set(DataKey.objects.values_list("master_version", flat=True)) == {2}
    auditkey.reset()
    keyvault.reset_caches()
    events(1)
    assert verify_database().ok


def test_verify_says_which_protections_it_checked(events, vault, capsys, tmp_path):
    from securemsg.audit.internal.checkpoints import take_checkpoint

    events(4)
    take_checkpoint()
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert "hash chain (5 rows)" in out
    assert "MACs (5 rows, audit key dk-" in out
    assert "checkpoint signatures (1)" in out
    assert "second sink (5 rows" in out
    call_command("audit", "export", "--output", str(tmp_path / "e.jsonl"))
    capsys.readouterr()
    call_command("audit", "verify", "--file", str(tmp_path / "e.jsonl"))
    out = capsys.readouterr().out
    assert "hash chain" in out and "checkpoint signatures" in out
    assert "MACs not checked" in out


class TestFirstEvent:
    """Without the test fixture's key: the first event creates the audit key itself."""

    @pytest.fixture
    def keyed_chain(self) -> None:
        return None

    def test_first_event_creates_the_key_and_macs_the_vaults_own_event(self, db, audit_sinks):
        assert keyvault.list_data_keys("audit") == []
        record("auth.login_failed", outcome="failure")
        (info,) = keyvault.list_data_keys("audit")
        assert info.context == "chain-from:1"
        rows = list(AuditEvent.objects.order_by("seq").values_list("event", "audit_key_id"))
        # The vault saw the test's master version for the first time and said so.
        assert rows == [
            ("master.version_added", info.key_id),
            ("auth.login_failed", info.key_id),
        ]
        assert verify_database().ok
        assert audit_sinks.read_text().count('"type":"event"') == 2
