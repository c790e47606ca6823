"""Malformed and oversized input to every form and HTTP endpoint: refused, never a 500."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from accounts.models import User

BIG = "A" * 1_000_000


@pytest.mark.parametrize(
    "data",
    [
        {"username": BIG, "password": "x"},
        {"username": "alice", "password": BIG},
        {"username": "alice\x00", "password": "x"},
        "username=%ED%A0%80&password=%FF%FE",
        {"username": ["a", "b"], "password": ["x", "y"]},
        {},
    ],
    ids=["huge-username", "huge-password", "nul", "not-utf8", "repeated", "empty"],
)
def test_sign_in_form_refuses_bad_input_without_error(data: Any, db: None) -> None:
    if isinstance(data, str):  # raw body: bytes that are not UTF-8 (a lone surrogate)
        form = "application/x-www-form-urlencoded"
        response = Client().post("/accounts/login/", data, content_type=form)
    else:
        response = Client().post("/accounts/login/", data)
    assert response.status_code in (200, 400, 403), response.status_code
    assert b"sessionid" not in b"".join(v.output().encode() for v in response.cookies.values())


def test_sign_in_without_csrf_token_is_refused(user_factory: Any, password: str) -> None:
    user_factory("alice")
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "alice", "password": password})
    assert response.status_code == 403
    assert "sessionid" not in response.cookies


def test_password_change_refuses_mismatch_and_empty_and_bounds_oversize(
    user_factory: Any, password: str
) -> None:
    client = Client()
    client.force_login(user_factory("alice"))
    for new1, new2 in (("a-new-Password-123", "another-Password-456"), ("", ""), (BIG, "x")):
        response = client.post(
            "/accounts/password/",
            {"old_password": password, "new_password1": new1, "new_password2": new2},
        )
        assert response.status_code == 200  # the form again, with errors
    assert User.objects.get(username="alice").check_password(password)
    # There is no maximum length (Argon2 pre-hashes the password with BLAKE2b,
    # and Django caps a request body at 2.5 MB), so a 1 MB password costs
    # about what a short one does.
    started = time.monotonic()
    response = client.post(
        "/accounts/password/",
        {"old_password": password, "new_password1": BIG, "new_password2": BIG},
    )
    assert response.status_code == 302 and time.monotonic() - started < 5


def test_request_body_over_the_limit_is_refused(db: None) -> None:
    response = Client().post("/accounts/login/", {"username": "a" * 3_000_000, "password": "x"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/chat/?x=" + "%FF" * 100,
        "/.well-known/securemsg/keys.json?" + "a=1&" * 2000,
        "/accounts/login/?next=//evil.example/",
        "/accounts/login/?next=javascript:alert(1)",
        "/admin/audit/auditevent/?q=%00",
        "/static/../securemsg/settings.py",
        "/static/..%2f..%2fsecuremsg%2fsettings.py",
        "/%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_hostile_urls_are_answered_without_a_server_error(
    path: str, vault: dict[str, Any], user_factory: Any
) -> None:
    client = Client()
    client.force_login(user_factory("root", is_staff=True, is_superuser=True))
    response = client.get(path)
    assert response.status_code < 500, (path, response.status_code)
    assert b"SECRET_KEY" not in response.content
    assert b"root:x:0:0" not in response.content


def test_open_redirect_after_sign_in_is_refused(user_factory: Any, password: str) -> None:
    user_factory("alice")
    for target in ("//evil.example/", "https://evil.example/", "javascript:alert(1)"):
        response = Client().post(
            f"/accounts/login/?next={target}", {"username": "alice", "password": password}
        )
        assert response.status_code == 302
        assert "evil.example" not in response["Location"]
        assert not response["Location"].startswith("javascript:")
