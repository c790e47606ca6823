"""Rotation with grace and --due, endorsements, compromise, the handshake keyring, usage counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.utils import timezone

import keyvault
from keyvault.internal import usage
from keyvault.models import Endorsement, MasterKeyVersion, ServerKey
from securemsg.protocol import (
    ServerUnavailableError,
    StaleKeyError,
    endorsement_message,
    parse_key_set,
)

pytestmark = pytest.mark.django_db


def _rsa_public(spki):
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    key = load_der_public_key(spki)
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _fingerprint(kid):
    return ServerKey.objects.get(kid=kid).fingerprint


def test_rotate_keeps_the_old_key_retiring_for_the_grace_period(vault, audit):
    new = keyvault.rotate("encryption")
    old = ServerKey.objects.get(kid="enc-1")
    assert (new.kid, new.state, old.state) == ("enc-2", "active", "retiring")
    assert old.retire_after is not None
    assert timedelta(days=6, hours=23) < old.retire_after - timezone.now() <= timedelta(days=7)
    assert audit.of("key.rotated")[-1]["target_id"] == "enc-2"
    assert audit.of("key.rotated")[-1]["previous"] == "enc-1"


def test_signing_rotation_is_endorsed_and_verifies_from_the_first_pin(vault):
    pin = _fingerprint("sig-1")
    keyvault.rotate("signing")
    keyvault.rotate("signing")
    keyset = parse_key_set(keyvault.keys_document())
    assert keyset.trusted_signing_key("sig-3", [pin]) is not None
    # Withdraw sig-1 and sig-2 entirely: the chain still verifies from the pin.
    ServerKey.objects.filter(kid__in=["sig-1", "sig-2"]).update(state="destroyed")
    keyvault.reset_caches()
    document = keyvault.keys_document()
    assert [k["kid"] for k in document["keys"] if k["use"] == "sig"] == ["sig-3"]
    assert len(document["endorsements"]) == 2
    assert parse_key_set(document).trusted_signing_key("sig-3", [pin]) is not None
    assert parse_key_set(document).trusted_signing_key("sig-3", ["0" * 64]) is None


def test_endorsement_signature_is_pss_over_the_domain_separated_digest(vault):
    keyvault.rotate("signing")
    endorsement = Endorsement.objects.get()
    older = ServerKey.objects.get(kid="sig-1")
    _rsa_public(bytes(older.public_key)).verify(
        bytes(endorsement.signature),
        endorsement_message(bytes(endorsement.key.public_key)),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_compromised_signing_key_is_replaced_without_endorsement(vault, audit):
    pin = _fingerprint("sig-1")
    replacement = keyvault.mark_compromised("sig-1")
    assert replacement is not None and replacement.kid == "sig-2"
    old = ServerKey.objects.get(kid="sig-1")
    assert old.state == "disabled" and old.compromised
    assert not Endorsement.objects.exists()
    assert parse_key_set(keyvault.keys_document()).trusted_signing_key("sig-2", [pin]) is None
    assert "key.compromised" in audit.names()
    with pytest.raises(keyvault.IllegalTransitionError):
        keyvault.reenable_key("sig-1")


@pytest.mark.parametrize("failing", ["key.created", "key.activated"])
def test_compromise_of_the_active_key_is_undone_when_its_replacement_fails(vault, audit, failing):
    audit.fail_on = failing
    with pytest.raises(keyvault.AuditFailedError):
        keyvault.mark_compromised("sig-1")
    # One transaction: the purpose still has its active key, not compromised.
    assert list(
        ServerKey.objects.filter(purpose="signing").values_list("kid", "state", "compromised")
    ) == [("sig-1", "active", False)]
    assert keyvault.server_keyring().signing_key()[0] == "sig-1"
    audit.fail_on = None
    replacement = keyvault.mark_compromised("sig-1")
    assert replacement is not None and replacement.kid == "sig-2"
    assert ServerKey.objects.get(kid="sig-1").compromised


def test_compromised_encryption_key_gets_4412(vault):
    keyvault.mark_compromised("enc-1")
    with pytest.raises(StaleKeyError):
        keyvault.server_keyring().decryption_key("enc-1")
    assert keyvault.server_keyring().decryption_key("enc-2").key_size == 2048


def test_keyring_accepts_retiring_key_in_grace_and_refuses_after(vault, audit):
    keyring = keyvault.server_keyring()
    keyvault.rotate("encryption")
    assert keyring.decryption_key("enc-1") is not None
    assert audit.of("key.retiring_used")[-1]["target_id"] == "enc-1"
    ServerKey.objects.filter(kid="enc-1").update(retire_after=timezone.now())
    keyvault.reset_caches()
    with pytest.raises(StaleKeyError):
        keyring.decryption_key("enc-1")
    assert audit.of("key.refused_after_deadline")[-1]["target_id"] == "enc-1"


@pytest.mark.parametrize("kid", ["enc-99", "sig-1", "", "x" * 100])
def test_keyring_unknown_or_wrong_purpose_is_stale(vault, kid):
    with pytest.raises(StaleKeyError):
        keyvault.server_keyring().decryption_key(kid)


def test_keyring_refuses_disabled_and_destroyed(vault):
    keyvault.rotate("encryption")
    keyvault.disable_key("enc-1")
    with pytest.raises(StaleKeyError):
        keyvault.server_keyring().decryption_key("enc-1")


def test_keyring_sees_a_key_created_after_its_cache_was_filled(vault):
    keyring = keyvault.server_keyring()
    keyring.decryption_key("enc-1")
    # Another process rotates: simulate by writing the row without our cache knowing.
    from keyvault.internal.cache import cache

    keyvault.rotate("encryption")
    cache.put("info", "enc-2-not-yet", None)
    assert keyring.decryption_key("enc-2").key_size == 2048


def test_no_active_key_is_4500(db, vault_settings):
    with pytest.raises(ServerUnavailableError) as info:
        keyvault.server_keyring().signing_key()
    assert isinstance(info.value.__cause__, keyvault.KeyVaultError)


def test_sign_checkpoint_uses_the_active_key_and_counts_usage(vault):
    kid, signature = keyvault.sign_checkpoint(b"securemsg/1 checkpoint\x00...")
    _rsa_public(keyvault.public_spki(kid)).verify(
        signature,
        b"securemsg/1 checkpoint\x00...",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    keyvault.server_keyring().signing_key()
    before = ServerKey.objects.get(kid="sig-1").usage_count
    keyvault.flush_usage()
    assert ServerKey.objects.get(kid="sig-1").usage_count == before + 2
    with pytest.raises(TypeError):
        keyvault.sign_checkpoint("text")  # type: ignore[arg-type]


def test_usage_is_batched_not_written_per_operation(vault, django_assert_max_num_queries):
    keyvault.sign_checkpoint(b"warm the cache")
    keyvault.flush_usage()
    with django_assert_max_num_queries(2):
        for _ in range(usage.FLUSH_EVERY - 2):
            keyvault.sign_checkpoint(b"m")


def test_master_usage_counts_data_keys(vault):
    for _ in range(3):
        keyvault.new_data_key("message")
    keyvault.flush_usage()
    assert MasterKeyVersion.objects.get(version=1).wrapped_count == 3


def test_rotate_due_by_age_grace_and_waiting_period(vault, audit):
    assert keyvault.run_due().rotated == []  # fresh keys: nothing due
    now = timezone.now()
    report = keyvault.run_due(now=now + timedelta(days=31))
    assert report.rotated == ["enc-1"]  # encryption keys live 30 days, signing 90
    report = keyvault.run_due(now=now + timedelta(days=31))
    assert report.rotated == [] and report.disabled == []  # idempotent
    report = keyvault.run_due(now=now + timedelta(days=91))
    assert "sig-1" in report.rotated and "enc-1" in report.disabled
    keyvault.schedule_deletion("enc-1")  # scheduled now: destroyed 30 days from now
    report = keyvault.run_due(now=now + timedelta(days=29))
    assert report.destroyed == []
    report = keyvault.run_due(now=now + timedelta(days=200))
    assert report.destroyed == ["enc-1"]
    assert ServerKey.objects.get(kid="enc-1").state == "destroyed"


def test_rotate_due_by_usage(vault, vault_settings):
    vault_settings.KEYVAULT_MAX_USES = 3
    for _ in range(3):
        keyvault.sign_checkpoint(b"m")
    assert keyvault.run_due().rotated == ["sig-1"]


def test_grace_period_setting(vault, vault_settings):
    vault_settings.KEYVAULT_GRACE_DAYS = 1
    keyvault.rotate("encryption")
    old = ServerKey.objects.get(kid="enc-1")
    assert old.retire_after is not None
    assert old.retire_after - timezone.now() <= timedelta(days=1)


def test_vault_failure_is_audited_by_reason_class(vault, audit):
    ServerKey.objects.filter(kid="sig-1").update(
        wrapped_private_key=b"garbage-garbage-garbage-garbage"
    )
    keyvault.reset_caches()
    with pytest.raises(ServerUnavailableError):
        keyvault.server_keyring().signing_key()
    assert audit.of("keyvault.failure")[-1]["reason"] == "corrupted_key"


def test_real_audit_log_accepts_every_vault_event(vault, audit):
    """The audit app refuses secret-looking fields; run the vault's events through it."""
    from securemsg.audit.models import AuditEvent

    audit.passthrough = True
    keyvault.rotate("signing")
    keyvault.rotate("encryption")
    keyvault.server_keyring().decryption_key("enc-1")
    keyvault.disable_key("enc-1")
    keyvault.reenable_key("enc-1")
    keyvault.disable_key("enc-1")
    keyvault.schedule_deletion("enc-1")
    keyvault.cancel_deletion("enc-1")
    keyvault.allow_deletion("sig-1")
    keyvault.mark_compromised("sig-2")
    keyvault.add_master_version()
    keyvault.rewrap()
    stored = set(AuditEvent.objects.values_list("event", flat=True))
    assert {"key.rotated", "key.retiring_used", "key.compromised", "key.rewrapped"} <= stored
    assert "master.version_added" in stored
