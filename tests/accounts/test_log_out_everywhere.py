"""The administrator's "log out everywhere" (accounts/admin.py, accounts/sessions.py).

Every sign-in session of the selected user ends, other users' sessions stay,
the action is audited in the same transaction (no audit, no log-out), and
``sessions_ended`` is sent only after the commit. tests/chat/test_log_out_everywhere.py
shows the user's WebSockets closing with 4401; tests/scaleout/tls/ does it
through nginx across two server processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.sessions import log_out_everywhere, session_keys_of
from accounts.signals import sessions_ended
from securemsg.audit.models import AuditEvent
from tests.support.db_faults import block_inserts, unblock_inserts

CHANGELIST = "/admin/accounts/user/"
ACTION = "log_out_everywhere_selected"


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sent(db: None) -> Iterator[list[dict[str, Any]]]:
    """What ``sessions_ended`` carried, in order."""
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    sessions_ended.connect(receiver, dispatch_uid="test-log-out-everywhere")
    yield seen
    sessions_ended.disconnect(dispatch_uid="test-log-out-everywhere")


def _staff(user_factory: Any, *codenames: str) -> Any:
    staff = user_factory("helpdesk", is_staff=True)
    for codename in codenames:
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    return staff


def test_admin_action_ends_every_session_of_the_user_only(
    user_factory, sent, django_capture_on_commit_callbacks
):
    alice, bob = user_factory("alice"), user_factory("bob")
    phone, laptop, other = _signed_in(alice), _signed_in(alice), _signed_in(bob)
    assert len(session_keys_of(alice.pk)) == 2
    admin = _signed_in(_staff(user_factory, "view_user", "change_user"))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(CHANGELIST, {"action": ACTION, "_selected_action": [alice.pk]})
    assert response.status_code == 302
    assert session_keys_of(alice.pk) == []
    assert len(session_keys_of(bob.pk)) == 1
    for client in (phone, laptop):
        assert client.get("/").status_code == 302  # back to the sign-in page
    assert other.get("/").status_code == 200
    event = AuditEvent.objects.get(event="auth.logged_out_everywhere")
    assert (event.actor_username, event.target_type, event.target_id) == (
        "helpdesk",
        "user",
        str(alice.pk),
    )
    assert (event.details["sessions"], event.details["via"]) == (2, "admin")
    assert sent == [
        {"signal": sessions_ended, "user_id": alice.pk, "reason": "logged_out_everywhere"}
    ]


def test_the_action_needs_the_change_permission(user_factory, sent):
    alice = user_factory("alice")
    phone = _signed_in(alice)
    viewer = _signed_in(_staff(user_factory, "view_user"))
    page = viewer.get(CHANGELIST).content.decode()
    assert ACTION not in page
    viewer.post(CHANGELIST, {"action": ACTION, "_selected_action": [alice.pk]})
    assert phone.get("/").status_code == 200
    assert not AuditEvent.objects.filter(event="auth.logged_out_everywhere").exists()
    assert sent == []


def test_no_audit_no_log_out(user_factory, sent, django_capture_on_commit_callbacks):
    alice = user_factory("alice")
    phone = _signed_in(alice)
    admin = _signed_in(_staff(user_factory, "view_user", "change_user"))
    block_inserts(
        "audit_auditevent", "no_logout_everywhere", when_event="auth.logged_out_everywhere"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin.post(
                CHANGELIST, {"action": ACTION, "_selected_action": [alice.pk]}, follow=True
            )
    finally:
        unblock_inserts("audit_auditevent", "no_logout_everywhere")
    assert "audit log is unavailable" in response.content.decode()
    assert phone.get("/").status_code == 200
    assert sent == []


def test_flow_counts_only_the_users_live_sessions(user_factory):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.session_store import SessionStore, stored_key

    alice = user_factory("alice")
    _signed_in(alice)
    expired = _signed_in(alice).session.session_key
    assert expired is not None
    Session.objects.filter(session_key=stored_key(expired)).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    anonymous = SessionStore()
    anonymous["cart"] = "not a user"
    anonymous.create()
    assert log_out_everywhere(alice, via="test") == 1
    assert log_out_everywhere(alice, via="test") == 0
    assert anonymous.session_key is not None
    assert Session.objects.filter(session_key=stored_key(anonymous.session_key)).exists()
