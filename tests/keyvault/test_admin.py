"""The ServerKey admin: actions, typed-kid confirmation, permissions, no private bytes."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth.models import Permission

import keyvault
from keyvault.internal.envelope import Binding, server_key_aad
from keyvault.internal.master import unwrap_checked
from keyvault.kms import get_backend
from keyvault.models import ServerKey

from .conftest import private_der

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/keyvault/serverkey/"


def _staff(user_factory, client, name, *perms):
    user = user_factory(name, is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return user


def _action(client, action, *kids):
    pks = [str(ServerKey.objects.get(kid=k).pk) for k in kids]
    return client.post(CHANGELIST, {"action": action, "_selected_action": pks})


def test_operator_rotates_disables_and_reenables(client, vault, user_factory, audit):
    _staff(user_factory, client, "op", "rotate_serverkey")
    assert client.get(CHANGELIST).status_code == 200
    response = _action(client, "rotate_now", "enc-1")
    assert response.status_code == 302
    assert ServerKey.objects.get(kid="enc-2").state == "active"
    _action(client, "disable", "enc-1")
    assert ServerKey.objects.get(kid="enc-1").state == "disabled"
    _action(client, "reenable", "enc-1")
    assert ServerKey.objects.get(kid="enc-1").state == "retiring"
    _action(client, "retire", "sig-1")
    assert ServerKey.objects.get(kid="sig-1").state == "retiring"
    rotated = audit.of("key.rotated")[-1]
    assert rotated["actor"].username == "op"


def test_illegal_action_shows_an_error_and_changes_nothing(client, vault, user_factory):
    _staff(user_factory, client, "op", "rotate_serverkey")
    response = _action(client, "disable", "sig-1")  # the active key
    assert ServerKey.objects.get(kid="sig-1").state == "active"
    page = client.get(response["Location"]).content.decode()
    assert "Cannot disable sig-1: not allowed from state active" in page


def test_destruction_requires_typing_the_kid(client, vault, user_factory):
    _staff(user_factory, client, "boss", "rotate_serverkey", "destroy_serverkey")
    keyvault.rotate("encryption")
    keyvault.disable_key("enc-1")
    response = _action(client, "schedule_destruction", "enc-1")
    confirm = response["Location"]
    assert confirm.endswith("/enc-1/confirm/schedule-deletion/")
    page = client.get(confirm)
    assert page.status_code == 200 and b"Type <code>enc-1</code>" in page.content
    assert b"<script>" not in page.content and b"style=" not in page.content
    wrong = client.post(confirm, {"confirm_kid": "enc-2"})
    assert wrong.status_code == 200 and b"does not match" in wrong.content
    assert ServerKey.objects.get(kid="enc-1").state == "disabled"
    client.post(confirm, {"confirm_kid": "enc-1"})
    assert ServerKey.objects.get(kid="enc-1").state == "pending_deletion"
    _action(client, "cancel_deletion", "enc-1")
    assert ServerKey.objects.get(kid="enc-1").state == "disabled"


def test_mark_compromised_through_confirmation(client, vault, user_factory):
    _staff(user_factory, client, "boss", "destroy_serverkey")
    url = "/admin/keyvault/serverkey/sig-1/confirm/compromised/"
    client.post(url, {"confirm_kid": "sig-1"})
    assert ServerKey.objects.get(kid="sig-1").compromised
    assert ServerKey.objects.get(kid="sig-2").state == "active"


def test_rewrap_action(client, vault, user_factory):
    _staff(user_factory, client, "op", "rotate_serverkey")
    keyvault.add_master_version()
    _action(client, "rewrap_newest", "sig-1")
    assert set(ServerKey.objects.values_list("master_version", flat=True)) == {2}


def test_viewer_cannot_rotate_or_destroy(client, vault, user_factory):
    _staff(user_factory, client, "viewer", "view_serverkey")
    page = client.get(CHANGELIST)
    assert page.status_code == 200 and b"sig-1" in page.content
    assert b"rotate_now" not in page.content
    _action(client, "rotate_now", "sig-1")
    _action(client, "disable", "sig-1")
    assert list(ServerKey.objects.values_list("kid", "state")) == [
        ("enc-1", "active"),
        ("sig-1", "active"),
    ]
    assert client.get("/admin/keyvault/serverkey/sig-1/confirm/compromised/").status_code == 403
    response = client.post(
        "/admin/keyvault/serverkey/sig-1/confirm/compromised/", {"confirm_kid": "sig-1"}
    )
    assert response.status_code == 403
    assert not ServerKey.objects.get(kid="sig-1").compromised


def test_rotator_cannot_destroy(client, vault, user_factory):
    _staff(user_factory, client, "op", "rotate_serverkey")
    keyvault.rotate("encryption")
    keyvault.disable_key("enc-1")
    page = client.get(CHANGELIST).content
    assert b"rotate_now" in page and b"schedule_destruction" not in page
    _action(client, "schedule_destruction", "enc-1")
    url = "/admin/keyvault/serverkey/enc-1/confirm/schedule-deletion/"
    assert client.post(url, {"confirm_kid": "enc-1"}).status_code == 403
    assert ServerKey.objects.get(kid="enc-1").state == "disabled"


def test_staff_without_any_vault_permission_sees_nothing(client, vault, user_factory):
    _staff(user_factory, client, "nobody")
    assert client.get(CHANGELIST).status_code == 403


def test_no_add_no_delete_and_read_only_change_form(client, vault, user_factory):
    user = _staff(user_factory, client, "boss", "rotate_serverkey", "destroy_serverkey")
    user.is_superuser = True
    user.save()
    assert client.get(CHANGELIST + "add/").status_code == 403
    pk = ServerKey.objects.get(kid="sig-1").pk
    assert client.get(f"{CHANGELIST}{pk}/delete/").status_code == 403
    page = client.get(f"{CHANGELIST}{pk}/change/")
    assert page.status_code == 200
    assert b"<input" not in page.content.split(b'id="content-main"')[1].split(b"</form>")[0] or (
        b'name="kid"' not in page.content
    )
    assert b"bytes, SHA-256" in page.content


def _secret_encodings(kid):
    der = private_der(kid)
    row = ServerKey.objects.get(kid=kid)
    dek = unwrap_checked(
        get_backend(),
        bytes(row.wrapped_dek),
        version=row.master_version,
        aad=server_key_aad("dek", Binding.of(row)),
        what=kid,
    )
    from keyvault.internal.access import private_key

    pem = private_key(kid).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    needles = []
    for secret in (der, dek):
        needles += [
            base64.b64encode(secret)[8:48],
            base64.urlsafe_b64encode(secret).rstrip(b"=")[8:48],
            secret.hex().encode()[16:80],
            secret.hex().upper().encode()[16:80],
        ]
    needles += [pem.splitlines()[3], b"PRIVATE KEY"]
    return needles


def test_no_private_bytes_on_any_admin_page(client, vault, user_factory):
    user = _staff(user_factory, client, "boss", "rotate_serverkey", "destroy_serverkey")
    user.is_superuser = True
    user.save()
    keyvault.rotate("signing")
    pages = [CHANGELIST, CHANGELIST + "?state=retiring", "/admin/", "/admin/keyvault/"]
    for row in ServerKey.objects.all():
        pages.append(f"{CHANGELIST}{row.pk}/change/")
        pages.append(f"{CHANGELIST}{row.kid}/confirm/compromised/")
    html = b"".join(client.get(url).content for url in pages)
    assert b"sig-2" in html
    for kid in ("sig-1", "sig-2", "enc-1"):
        for needle in _secret_encodings(kid):
            assert needle not in html, kid
