"""Sign-in, sign-out, hashes, CSRF and sign-up through the real views."""

from __future__ import annotations

import re

from django.contrib.auth.hashers import make_password
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import User

LOGIN = "/accounts/login/"


def _normalised(page: bytes, username: str) -> bytes:
    """The page without the per-request CSRF token and the echoed username."""
    page = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", page)
    return page.replace(username.encode(), b"USER")


def test_login_success_sets_session_and_redirects(client: Client, user_factory, password):
    user_factory("alice")
    response = client.post(LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert "sessionid" in response.cookies
    home = client.get("/")
    assert home.status_code == 200
    assert b"alice" in home.content


def test_login_failure_shows_form_again(client: Client, user_factory):
    user_factory("alice")
    response = client.post(LOGIN, {"username": "alice", "password": "wrong-password-123"})
    assert response.status_code == 200
    assert b"did not match" in response.content
    assert "sessionid" not in response.cookies


def test_unknown_user_gets_the_same_message(client: Client, user_factory):
    user_factory("alice")
    known = client.post(LOGIN, {"username": "alice", "password": "wrong-password-123"})
    unknown = client.post(LOGIN, {"username": "nobody", "password": "wrong-password-123"})
    assert known.status_code == unknown.status_code == 200
    assert _normalised(known.content, "alice") == _normalised(unknown.content, "nobody")


def test_home_requires_sign_in(client: Client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_stored_hash_is_argon2id(user_factory):
    user = user_factory("alice")
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")
    # Parameters at or above OWASP's minimum (m=19 MiB, t=2, p=1).
    params = dict(p.split("=") for p in user.password.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024
    assert int(params["t"]) >= 2
    assert int(params["p"]) >= 1


def test_pbkdf2_hash_is_upgraded_on_login(client: Client, db, password):
    User.objects.create(username="legacy", password=make_password(password, hasher="pbkdf2_sha256"))
    assert User.objects.get(username="legacy").password.startswith("pbkdf2_sha256$")
    response = client.post(LOGIN, {"username": "legacy", "password": password})
    assert response.status_code == 302
    assert User.objects.get(username="legacy").password.startswith("argon2$argon2id$")


def test_logout_requires_post(client: Client, user_factory):
    user = user_factory("alice")
    client.force_login(user)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_csrf_is_enforced_on_login(user_factory, password):
    user_factory("alice")
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 403
    page = strict.get(LOGIN)
    token = page.cookies["csrftoken"].value
    ok = strict.post(
        LOGIN, {"username": "alice", "password": password, "csrfmiddlewaretoken": token}
    )
    assert ok.status_code == 302


def test_password_change_enforces_validators(client: Client, user_factory, password):
    client.force_login(user_factory("longusername-alice"))
    url = "/accounts/password/"
    for weak in ("short-pw", "123456789012345", "password1234", "longusername-alice1"):
        response = client.post(
            url, {"old_password": password, "new_password1": weak, "new_password2": weak}
        )
        assert response.status_code == 200, weak
    strong = "a-much-better-passphrase-77"
    response = client.post(
        url, {"old_password": password, "new_password1": strong, "new_password2": strong}
    )
    assert response.status_code == 302
    assert User.objects.get(username="longusername-alice").check_password(strong)


def test_signup_is_off_by_default(client: Client, db):
    assert client.get("/accounts/signup/").status_code == 404
    response = client.post(
        "/accounts/signup/",
        {"username": "eve", "password1": "x-long-passphrase-1", "password2": "x-long-passphrase-1"},
    )
    assert response.status_code == 404
    assert not User.objects.filter(username="eve").exists()


@override_settings(SECUREMSG_ALLOW_SIGNUP=True)
def test_signup_when_enabled(client: Client, db):
    secret = "a-long-enough-passphrase-9"
    response = client.post(
        "/accounts/signup/", {"username": "carol", "password1": secret, "password2": secret}
    )
    assert response.status_code == 302
    assert User.objects.get(username="carol").password.startswith("argon2$argon2id$")
