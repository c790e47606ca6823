"""The admin's minimum-version page: preview, typed confirmation, permission, CSRF."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

import keyvault
from keyvault.models import MinimumKeyVersion, ServerKey

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/keyvault/serverkey/"
PAGE = CHANGELIST + "minimum/encryption/"


def _staff(user_factory, client, name, *perms):
    user = user_factory(name, is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)
    return user


def _action(client, action, *kids):
    pks = [str(ServerKey.objects.get(kid=k).pk) for k in kids]
    return client.post(CHANGELIST, {"action": action, "_selected_action": pks})


def _unchanged():
    return (
        list(ServerKey.objects.values_list("kid", "state", "compromised")),
        list(MinimumKeyVersion.objects.values_list("purpose", "version")),
    )


def test_changelist_shows_the_minimum_per_purpose(client, vault, user_factory):
    _staff(user_factory, client, "boss", "destroy_serverkey")
    keyvault.set_minimum_key_version("encryption", 2)
    page = client.get(CHANGELIST).content.decode()
    assert "Minimum usable version:" in page
    assert "signing <strong>1</strong>" in page and "encryption <strong>2</strong>" in page
    assert f'href="{PAGE}"' in page


def test_changelist_tells_keys_below_the_minimum_from_compromised_ones(client, vault, user_factory):
    _staff(user_factory, client, "boss", "destroy_serverkey")
    keyvault.rotate("signing")  # sig-1 retiring, sig-2 active
    keyvault.rotate("encryption")  # enc-1 retiring, enc-2 active
    keyvault.mark_compromised("sig-1")
    keyvault.set_minimum_key_version("encryption", 2)
    cells = {}
    for kid in ("sig-1", "sig-2", "enc-1", "enc-2"):
        row = client.get(CHANGELIST, {"q": kid}).content.decode()
        cells[kid] = row.split('class="field-out_of_service">')[1].split("</td>")[0]
    assert cells == {
        "sig-1": "compromised",
        "sig-2": "-",  # the admin's mark for an empty cell
        "enc-1": "below minimum version 2",
        "enc-2": "-",
    }


def test_action_previews_then_typed_confirmation_sets_it(client, vault, user_factory, audit):
    _staff(user_factory, client, "boss", "destroy_serverkey")
    keyvault.rotate("encryption")  # enc-1 retiring, enc-2 active
    response = _action(client, "raise_minimum_version", "enc-1")
    assert response["Location"] == PAGE + "?minimum=2"
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "<code>enc-1</code> (was retiring) becomes unusable for good" in html
    assert "enc-2" not in html.split("Type")[0].split("does this at once")[1]
    assert "Type <code>encryption 2</code> to confirm" in html
    assert "<script>" not in html and "style=" not in html
    assert ServerKey.objects.get(kid="enc-1").state == "retiring"  # GET changed nothing

    done = client.post(PAGE, {"minimum": "2", "confirm": "encryption 2"})
    assert done.status_code == 302 and done["Location"] == CHANGELIST
    key = ServerKey.objects.get(kid="enc-1")
    assert key.state == "disabled" and key.compromised
    assert keyvault.minimum_key_versions()["encryption"] == 2
    event = audit.of("key.minimum_version_set")[-1]
    assert event["actor"].username == "boss" and event["kids"] == ["enc-1"]
    assert "The minimum encryption version is now 2" in client.get(CHANGELIST).content.decode()


def test_active_key_below_shows_the_rotation_and_rotates(client, vault, user_factory):
    _staff(user_factory, client, "boss", "destroy_serverkey")
    html = client.get(CHANGELIST + "minimum/signing/?minimum=2").content.decode()
    assert "a new signing key is rotated in, not endorsed" in html
    client.post(CHANGELIST + "minimum/signing/", {"minimum": "2", "confirm": "signing 2"})
    assert ServerKey.objects.get(kid="sig-2").state == "active"
    assert ServerKey.objects.get(kid="sig-1").compromised


@pytest.mark.parametrize("typed", ["", "encryption", "encryption 3", "signing 2", "enc-1"])
def test_wrong_confirmation_does_nothing_and_says_so(client, vault, user_factory, audit, typed):
    _staff(user_factory, client, "boss", "destroy_serverkey")
    before = _unchanged()
    response = client.post(PAGE, {"minimum": "2", "confirm": typed})
    assert response.status_code == 200
    assert "You did not type &#x27;encryption 2&#x27;; nothing was done." in response.text
    assert _unchanged() == before and not audit.of("key.minimum_version_set")


@pytest.mark.parametrize(
    ("minimum", "message"),
    [
        ("9", "at most 2"),
        ("1", "already 1"),
        ("0", "can only be raised"),
        ("two", "must be a whole number"),
    ],
)
def test_refused_minimum_shows_why_and_offers_no_confirmation(
    client, vault, user_factory, minimum, message
):
    _staff(user_factory, client, "boss", "destroy_serverkey")
    before = _unchanged()
    for response in (
        client.get(PAGE, {"minimum": minimum}),
        client.post(PAGE, {"minimum": minimum, "confirm": f"encryption {minimum}"}),
    ):
        assert response.status_code == 200 and message in response.text
        assert 'name="confirm"' not in response.text
    assert _unchanged() == before


def test_action_needs_keys_of_one_purpose(client, vault, user_factory):
    _staff(user_factory, client, "boss", "destroy_serverkey")
    response = _action(client, "raise_minimum_version", "enc-1", "sig-1")
    assert "Select keys of one purpose." in client.get(response["Location"]).text


def test_unknown_purpose_is_404(client, vault, user_factory):
    _staff(user_factory, client, "boss", "destroy_serverkey")
    assert client.get(CHANGELIST + "minimum/bogus/?minimum=2").status_code == 404


@pytest.mark.parametrize("perms", [("rotate_serverkey",), ("view_serverkey",), ()])
def test_staff_without_destroy_permission_get_403(client, vault, user_factory, perms):
    _staff(user_factory, client, "op", *perms)
    before = _unchanged()
    assert client.get(PAGE, {"minimum": "2"}).status_code == 403
    assert client.post(PAGE, {"minimum": "2", "confirm": "encryption 2"}).status_code == 403
    if perms:
        page = client.get(CHANGELIST).text
        assert "raise_minimum_version" not in page and f'href="{PAGE}"' not in page
        _action(client, "raise_minimum_version", "enc-1")
    assert _unchanged() == before


def test_post_without_csrf_token_is_refused(vault, user_factory):
    client = Client(enforce_csrf_checks=True)
    _staff(user_factory, client, "boss", "destroy_serverkey")
    assert 'name="csrfmiddlewaretoken"' in client.get(PAGE, {"minimum": "2"}).text
    before = _unchanged()
    response = client.post(PAGE, {"minimum": "2", "confirm": "encryption 2"})
    assert response.status_code == 403
    assert _unchanged() == before
