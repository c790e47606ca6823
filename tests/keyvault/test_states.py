"""The state machine: every (state, action) pair is legal exactly when the table says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import keyvault
from keyvault.exceptions import IllegalTransitionError
from keyvault.internal.states import ACTIONS, TRANSITIONS, check_transition
from keyvault.models import ServerKey, State

NOW = timezone.now()

EXPECTED = {
    ("pending", "activate"): "active",
    ("pending", "disable"): "disabled",
    ("active", "retire"): "retiring",
    ("active", "compromise"): "disabled",
    ("retiring", "disable"): "disabled",
    ("retiring", "compromise"): "disabled",
    ("disabled", "reenable"): "retiring",
    ("disabled", "compromise"): "disabled",
    ("disabled", "schedule_deletion"): "pending_deletion",
    ("pending_deletion", "cancel_deletion"): "disabled",
    ("pending_deletion", "compromise"): "pending_deletion",
    ("pending_deletion", "destroy"): "destroyed",
}


def _key(state, **fields):
    defaults = {"kid": "k-1", "deletion_allowed": True, "delete_after": NOW - timedelta(seconds=1)}
    return ServerKey(state=state, **{**defaults, **fields})


def test_table_is_the_documented_one():
    assert {(str(s), a): str(t) for (s, a), t in TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize("state", State.values)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_pair(state, action):
    key = _key(state)
    if (state, action) in EXPECTED:
        assert check_transition(key, action, now=NOW) == EXPECTED[(state, action)]
    else:
        with pytest.raises(IllegalTransitionError) as info:
            check_transition(key, action, now=NOW)
        assert info.value.state == state and info.value.action == action


def test_destroyed_is_final():
    for action in ACTIONS:
        with pytest.raises(IllegalTransitionError):
            check_transition(_key("destroyed"), action, now=NOW)


def test_compromised_key_cannot_be_reenabled():
    with pytest.raises(IllegalTransitionError, match="compromised"):
        check_transition(_key("disabled", compromised=True), "reenable", now=NOW)


def test_deletion_needs_permission_flag():
    with pytest.raises(IllegalTransitionError, match="not allowed"):
        check_transition(_key("disabled", deletion_allowed=False), "schedule_deletion", now=NOW)


def test_destroy_waits_for_the_waiting_period():
    later = _key("pending_deletion", delete_after=NOW + timedelta(days=1))
    with pytest.raises(IllegalTransitionError, match="waiting period"):
        check_transition(later, "destroy", now=NOW)


# -- through the services, with the database ----------------------------------------


@pytest.mark.django_db
def test_service_lifecycle_of_an_encryption_key(vault, audit):
    keyvault.rotate("encryption")
    assert ServerKey.objects.get(kid="enc-1").state == "retiring"
    with pytest.raises(IllegalTransitionError):
        keyvault.disable_key("enc-2")  # the active key: rotate instead
    keyvault.disable_key("enc-1")
    keyvault.reenable_key("enc-1")
    key = ServerKey.objects.get(kid="enc-1")
    assert key.state == "retiring"
    assert key.retire_after is not None and key.retire_after > timezone.now()
    keyvault.disable_key("enc-1")
    key = keyvault.schedule_deletion("enc-1")
    assert key.state == "pending_deletion"
    assert key.delete_after is not None and key.deletion_scheduled_at is not None
    assert key.delete_after - key.deletion_scheduled_at == timedelta(days=30)
    keyvault.cancel_deletion("enc-1")
    assert ServerKey.objects.get(kid="enc-1").delete_after is None
    keyvault.schedule_deletion("enc-1")
    with pytest.raises(IllegalTransitionError):
        keyvault.destroy_key("enc-1")  # not yet due
    key = keyvault.destroy_key("enc-1", now=timezone.now() + timedelta(days=31))
    assert key.state == "destroyed" and bytes(key.wrapped_dek) == b""
    assert bytes(key.wrapped_private_key) == b""
    assert keyvault.public_spki("enc-1") == bytes(key.public_key)
    names = audit.names()
    for event in (
        "key.disabled",
        "key.reenabled",
        "key.scheduled_for_deletion",
        "key.deletion_cancelled",
        "key.destroyed",
    ):
        assert event in names
    assert all(
        f.get("target_type") == "server_key" for n, f in audit.events if n.startswith("key.")
    )


@pytest.mark.django_db
def test_signing_keys_refuse_deletion_until_allowed(vault):
    keyvault.rotate("signing")
    keyvault.disable_key("sig-1")
    with pytest.raises(IllegalTransitionError, match="not allowed"):
        keyvault.schedule_deletion("sig-1")
    keyvault.allow_deletion("sig-1")
    assert keyvault.schedule_deletion("sig-1").state == "pending_deletion"


@pytest.mark.django_db
def test_deletion_wait_is_configurable_with_a_minimum(vault, vault_settings):
    keyvault.rotate("encryption")
    keyvault.disable_key("enc-1")
    vault_settings.KEYVAULT_DELETION_WAIT_DAYS = 3
    with pytest.raises(keyvault.ConfigurationError):
        keyvault.schedule_deletion("enc-1")
    vault_settings.KEYVAULT_DELETION_WAIT_DAYS = 8
    key = keyvault.schedule_deletion("enc-1")
    assert key.delete_after is not None and key.deletion_scheduled_at is not None
    assert key.delete_after - key.deletion_scheduled_at == timedelta(days=8)


@pytest.mark.django_db
def test_exactly_one_active_key_per_purpose_is_a_database_constraint(vault):
    from django.db import IntegrityError, transaction

    keyvault.rotate("signing")
    with pytest.raises(IntegrityError), transaction.atomic():
        ServerKey.objects.filter(kid="sig-1").update(state="active")


@pytest.mark.django_db
def test_failing_audit_rolls_the_change_back(vault, audit):
    keyvault.rotate("encryption")
    audit.fail_on = "key.disabled"
    with pytest.raises(keyvault.AuditFailedError):
        keyvault.disable_key("enc-1")
    assert ServerKey.objects.get(kid="enc-1").state == "retiring"
    audit.fail_on = "key.activated"
    with pytest.raises(keyvault.AuditFailedError):
        keyvault.rotate("signing")
    assert list(ServerKey.objects.filter(purpose="signing").values_list("kid", "state")) == [
        ("sig-1", "active")
    ]
