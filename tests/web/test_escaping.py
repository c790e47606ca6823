"""Hostile text (HTML and script) in usernames and sign-in attempts is rendered escaped.

Usernames that Django's validator refuses can still reach the database
(created by a script, an import, a future sign-up rule), so the tests
create them with the ORM and then render every server-side page that shows
them: the chat page's conversation list, the admin user list and change
page, the sign-in form that echoes a failed username, and the audit admin
list and detail page (where a failed sign-in's attempted username lands).
Message bodies are never rendered by the server: the chat page fills them
in with ``textContent`` (static/js), which the JavaScript tests cover.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from securemsg.audit.models import AuditEvent

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "'-alert(3)-'",
    "</li><svg/onload=alert(4)>",
]
RAW_MARKERS = [b"<script>alert(1)", b"<img src=x", b"<svg/onload", b"'-alert(3)-'"]


def _assert_escaped(content: bytes) -> None:
    for marker in RAW_MARKERS:
        assert marker not in content, marker


@pytest.fixture
def hostile_users(user_factory: Any) -> list[Any]:
    return [user_factory(name) for name in HOSTILE]


@pytest.fixture
def root(user_factory: Any) -> Client:
    client = Client()
    client.force_login(user_factory("root", is_staff=True, is_superuser=True))
    return client


def test_chat_page_lists_hostile_usernames_escaped(
    vault: dict[str, Any], hostile_users: list[Any], user_factory: Any
) -> None:
    client = Client()
    client.force_login(user_factory("viewer"))
    response = client.get("/chat/")
    assert response.status_code == 200
    _assert_escaped(response.content)
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content
    assert b"&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in response.content


def test_admin_user_list_and_change_page_escape_usernames(
    hostile_users: list[Any], root: Client
) -> None:
    listing = root.get("/admin/accounts/user/")
    assert listing.status_code == 200
    _assert_escaped(listing.content)
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in listing.content
    for user in hostile_users:
        page = root.get(f"/admin/accounts/user/{user.pk}/change/")
        assert page.status_code == 200
        _assert_escaped(page.content)


def test_failed_sign_in_with_hostile_username_is_escaped_in_form_and_audit_admin(
    root: Client,
) -> None:
    for name in HOSTILE:
        response = Client().post("/accounts/login/", {"username": name, "password": "x"})
        assert response.status_code == 200
        _assert_escaped(response.content)
    failed = AuditEvent.objects.filter(event="auth.login_failed")
    assert failed.count() == len(HOSTILE)
    listing = root.get("/admin/audit/auditevent/?q=" + "%3Cscript%3E")
    assert listing.status_code == 200
    _assert_escaped(listing.content)
    for row in failed:
        page = root.get(f"/admin/audit/auditevent/{row.pk}/change/")
        assert page.status_code == 200
        _assert_escaped(page.content)
    # The attempted name did reach the detail page, escaped.
    first = failed.order_by("seq").first()
    assert first is not None
    page = root.get(f"/admin/audit/auditevent/{first.pk}/change/")
    assert b"&lt;script&gt;" in page.content
