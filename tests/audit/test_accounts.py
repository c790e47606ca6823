"""Account events wired from Django and django-axes, and the fail-closed sign-in."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.test import Client

from securemsg.audit.models import AuditEvent
from tests.support.db_faults import block_inserts, unblock_inserts

LOGIN = "/accounts/login/"


def _events() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("event", flat=True))


def test_sign_in_and_out_are_recorded(client: Client, user_factory, password):
    alice = user_factory("alice")
    client.post(LOGIN, {"username": "alice", "password": password}, REMOTE_ADDR="10.2.3.4")
    row = AuditEvent.objects.get(event="auth.login_succeeded")
    assert (row.actor_id, row.actor_username, row.ip) == (alice.pk, "alice", "10.2.3.4")
    assert (row.target_type, row.target_id) == ("user", str(alice.pk))
    client.post("/accounts/logout/")
    assert _events()[-2:] == ["auth.login_succeeded", "auth.logout"]


def test_failed_sign_in_records_the_username_only(client: Client, user_factory):
    user_factory("alice")
    client.post(LOGIN, {"username": "alice", "password": "wrong-password-123"})
    row = AuditEvent.objects.get(event="auth.login_failed")
    assert row.outcome == "failure"
    # Correlation ids (docs/operations.md) may be added; nothing else.
    details = {k: v for k, v in row.details.items() if k not in ("request_id", "connection_id")}
    assert details == {"username": "alice", "locked_out": False}


def test_lockout_and_unlock(client: Client, user_factory):
    user_factory("alice")
    admin = user_factory("root", is_staff=True, is_superuser=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "alice", "password": "wrong-password-123"})
    locked = AuditEvent.objects.get(event="auth.locked_out")
    assert (locked.outcome, locked.details["username"]) == ("denied", "alice")
    attempt = AccessAttempt.objects.get(username="alice")
    staff = Client()
    staff.force_login(admin)
    staff.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    unlocked = AuditEvent.objects.get(event="auth.unlocked")
    assert (unlocked.actor_username, unlocked.details["username"]) == ("root", "alice")


def test_password_change_is_recorded_but_hash_upgrade_is_not(
    client: Client, user_factory, password
):
    alice = user_factory("alice")
    client.force_login(alice)
    new = "another-long-passphrase-77"
    response = client.post(
        "/accounts/password/",
        {"old_password": password, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    row = AuditEvent.objects.get(event="auth.password_changed")
    assert (row.actor_username, row.target_id) == ("alice", str(alice.pk))
    # Re-hashing the same password (as a sign-in upgrade does) is not a change.
    alice.refresh_from_db()
    alice.set_password(new)
    alice.save()
    assert AuditEvent.objects.filter(event="auth.password_changed").count() == 1


def test_user_lifecycle_and_permissions(user_factory):
    bob = user_factory("bob")
    assert "user.created" in _events()
    bob.is_staff = True
    bob.save()
    group = Group.objects.create(name="operators")
    bob.groups.add(group)
    bob.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    bob.groups.clear()
    bob.is_active = False
    bob.save()
    rows = AuditEvent.objects.filter(target_id=str(bob.pk)).order_by("seq")
    assert [(r.event, r.details) for r in rows][1:] == [
        ("user.permissions_changed", {"is_staff": [False, True]}),
        ("user.permissions_changed", {"groups_added": ["operators"]}),
        (
            "user.permissions_changed",
            {"user_permissions_added": ["Audit log | audit event | Can view audit event"]},
        ),
        ("user.permissions_changed", {"groups_removed": ["operators"]}),
        ("user.deactivated", {}),
    ]


def test_last_login_update_is_not_a_user_change(client: Client, user_factory, password):
    user_factory("alice")
    before = len(_events())
    client.post(LOGIN, {"username": "alice", "password": password})
    assert _events()[before:] == ["auth.login_succeeded"]


def test_sign_in_fails_closed(client: Client, user_factory, password, make_unwritable):
    user_factory("alice")
    make_unwritable()
    response = client.post(LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 503
    assert b"Sign-in is unavailable, the audit log cannot be written." in response.content
    assert b"Traceback" not in response.content
    assert "sessionid" not in response.cookies
    assert client.get("/").status_code == 302  # still signed out


def test_failed_sign_in_also_fails_closed(client: Client, user_factory, make_unwritable):
    user_factory("alice")
    make_unwritable()
    response = client.post(LOGIN, {"username": "alice", "password": "wrong-password-123"})
    assert response.status_code == 503


def test_admin_changes_fail_closed(client: Client, user_factory, make_unwritable):
    from django.contrib.auth import get_user_model

    root = user_factory("root", is_staff=True, is_superuser=True)
    bob = user_factory("bob")
    client.force_login(root)
    make_unwritable()
    new = "another-long-passphrase-77"
    response = client.post(
        "/admin/accounts/user/add/",
        {"username": "carol", "password1": new, "password2": new, "usable_password": "true"},
    )
    assert response.status_code == 503
    assert not get_user_model().objects.filter(username="carol").exists()
    response = client.post(
        f"/admin/accounts/user/{bob.pk}/password/", {"password1": new, "password2": new}
    )
    assert response.status_code == 503
    bob.refresh_from_db()
    assert not bob.check_password(new)


def test_sign_out_completes_even_when_unrecorded(client: Client, user_factory, sql):
    alice = user_factory("alice")
    client.force_login(alice)
    block_inserts("audit_auditevent", "ro")
    try:
        assert client.post("/accounts/logout/").status_code == 302
        assert client.get("/").status_code == 302
    finally:
        unblock_inserts("audit_auditevent", "ro")
