"""Automatic and on-demand checkpoints, and what happens when signing fails."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from securemsg.audit import record
from securemsg.audit.internal import signer
from securemsg.audit.internal.checkpoints import take_checkpoint
from securemsg.audit.internal.sources import verify_database
from securemsg.audit.models import AuditEvent, Checkpoint


def test_message_format():
    head = bytes(range(32)).hex()
    message = signer.checkpoint_message(258, head)
    assert message == b"securemsg/1 checkpoint\x00" + b"\x00" * 6 + b"\x01\x02" + bytes(range(32))
    with pytest.raises(ValueError):
        signer.checkpoint_message(0, head)
    with pytest.raises(ValueError):
        signer.checkpoint_message(1, "00")


def test_every_n_events(settings, vault, events, django_capture_on_commit_callbacks):
    settings.SECUREMSG_AUDIT_CHECKPOINT_EVERY = 3
    with django_capture_on_commit_callbacks(execute=True):
        events(7)
    # 3 -> checkpoint (its event is 4), 6 -> checkpoint (7), then rows 8, 9 ...
    assert sorted(Checkpoint.objects.values_list("seq", flat=True)) == [3, 6]
    assert AuditEvent.objects.filter(event="audit.checkpoint").count() == 2
    assert verify_database().ok


def test_signing_failure_keeps_the_event_and_records_it(
    settings, vault, events, django_capture_on_commit_callbacks
):
    settings.SECUREMSG_AUDIT_CHECKPOINT_EVERY = 2
    vault.broken = True
    with django_capture_on_commit_callbacks(execute=True):
        events(2)
    assert not Checkpoint.objects.exists()
    failure = AuditEvent.objects.get(event="keyvault.failure")
    assert (failure.outcome, failure.target_type, failure.target_id) == (
        "error",
        "audit_checkpoint",
        "2",
    )
    assert AuditEvent.objects.filter(event="auth.login_failed").count() == 2


def test_on_demand_checkpoint_is_idempotent(vault, events):
    events(2)
    first = take_checkpoint()
    assert (first.seq, first.kid) == (2, "test-sig-1")
    assert take_checkpoint(2).pk == first.pk
    assert vault.signed == [signer.checkpoint_message(2, first.head_hash)]


def test_signature_is_pss_over_the_message(vault, events):
    events(1)
    cp = take_checkpoint()
    spki = vault.keys["test-sig-1"]
    assert signer.verify_signature(
        spki, bytes(cp.signature), signer.checkpoint_message(1, cp.head_hash)
    )
    assert not signer.verify_signature(
        spki, bytes(cp.signature), signer.checkpoint_message(1, "11" * 32)
    )


def test_rotated_key_still_verifies_old_checkpoints(vault, events):
    events(1)
    take_checkpoint()
    # The vault rotates: a new key signs, the old public key stays published.
    from cryptography.hazmat.primitives import serialization

    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    vault.keys["test-sig-2"] = new.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record("key.rotated", target_type="server_key", target_id="test-sig-2")
    assert verify_database().ok
