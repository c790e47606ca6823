"""Key deletion the KMS way (field-lessons issue, point 1).

Scheduled destruction with a waiting period, visible in the admin with its
date and cancellable there; a compromised key is out of service at once,
replaced, and the data keys a compromised master version protects are
re-wrapped; every step is audited.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

import keyvault
from keyvault.models import DataKey, MasterKeyVersion, ServerKey

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/keyvault/serverkey/"


def _operator(user_factory, client, *perms):
    user = user_factory("op", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return user


def _action(client, action, kid):
    pk = str(ServerKey.objects.get(kid=kid).pk)
    return client.post(CHANGELIST, {"action": action, "_selected_action": [pk]}, follow=True)


def test_admin_shows_pending_deletion_with_its_date_and_cancels_it(client, vault, user_factory):
    _operator(user_factory, client, "rotate_serverkey", "destroy_serverkey")
    keyvault.rotate("encryption")
    keyvault.disable_key("enc-1")
    key = keyvault.schedule_deletion("enc-1")
    assert key.delete_after is not None
    page = client.get(CHANGELIST).content.decode()
    assert f"pending deletion: destroyed after {key.delete_after:%Y-%m-%d %H:%M} UTC" in page
    # Default waiting period: 30 days from scheduling.
    assert key.delete_after.date() == (timezone.now() + timedelta(days=30)).date()

    assert _action(client, "cancel_deletion", "enc-1").status_code == 200
    key.refresh_from_db()
    assert key.state == "disabled" and key.delete_after is None
    assert "pending deletion:" not in client.get(CHANGELIST).content.decode()


def test_admin_refuses_to_schedule_a_signing_key_without_deletion_allowed(
    client, vault, user_factory, audit
):
    _operator(user_factory, client, "rotate_serverkey", "destroy_serverkey")
    keyvault.rotate("signing")
    keyvault.disable_key("sig-1")
    url = "/admin/keyvault/serverkey/sig-1/confirm/schedule-deletion/"
    response = client.post(url, {"confirm_kid": "sig-1"}, follow=True)
    assert "deletion is not allowed for this key" in response.content.decode()
    assert ServerKey.objects.get(kid="sig-1").state == "disabled"
    assert "key.scheduled_for_deletion" not in audit.names()


def test_destruction_happens_only_when_due_and_is_audited(vault, audit):
    keyvault.rotate("encryption")
    keyvault.disable_key("enc-1")
    keyvault.schedule_deletion("enc-1")
    assert keyvault.run_due(now=timezone.now() + timedelta(days=29)).destroyed == []
    assert ServerKey.objects.get(kid="enc-1").state == "pending_deletion"
    report = keyvault.run_due(now=timezone.now() + timedelta(days=30, minutes=1))
    assert report.destroyed == ["enc-1"]
    assert audit.of("key.destroyed")[-1]["target_id"] == "enc-1"


def test_compromised_retiring_key_is_out_of_service_at_once(vault, audit):
    keyvault.rotate("encryption")  # enc-1 retiring, enc-2 active
    assert keyvault.mark_compromised("enc-1") is None  # not active: nothing to replace
    key = ServerKey.objects.get(kid="enc-1")
    assert key.state == "disabled" and key.compromised and key.compromised_at is not None
    published = {k["kid"] for k in keyvault.keys_document()["keys"]}
    assert "enc-1" not in published and "enc-2" in published
    assert audit.of("key.compromised")[-1]["from_state"] == "retiring"


def test_compromised_active_key_is_replaced_at_once(vault, audit):
    replacement = keyvault.mark_compromised("enc-1")
    assert replacement is not None and replacement.state == "active"
    document = keyvault.keys_document()
    active = [k["kid"] for k in document["keys"] if k["use"] == "enc" and k["state"] == "active"]
    assert active == [replacement.kid]
    names = audit.names()
    assert names.index("key.compromised") < len(names) - 1 - names[::-1].index("key.rotated")
    assert audit.of("key.rotated")[-1]["reason"] == "compromised"


def test_compromised_master_version_rewraps_every_data_key(vault, audit):
    handle = keyvault.new_data_key("audit", "chain-from:1")
    other = keyvault.new_data_key("message", "conversation-7")
    report = keyvault.compromise_master_version(1)
    assert report.version == 2 and report.data_keys == 2
    assert set(DataKey.objects.values_list("master_version", flat=True)) == {2}
    assert set(ServerKey.objects.values_list("master_version", flat=True)) == {2}
    version = MasterKeyVersion.objects.get(version=1)
    assert version.compromised and version.disabled
    keyvault.reset_caches()  # prove the keys open from their new wraps, not the cache
    assert keyvault.open_data_key(handle.key_id, purpose="audit") == handle.key
    assert keyvault.open_data_key(other.key_id, purpose="message") == other.key
    rewrapped = {f["target_id"] for f in audit.of("key.rewrapped")}
    assert {handle.key_id, other.key_id} <= rewrapped
    assert "master.compromised" in audit.names()
    assert "master.version_disabled" in audit.names()
