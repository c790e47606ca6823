"""Lockout without account denial of service (field-lessons issue, point 4).

django-axes locks a (username, address) pair; failures spread over many
addresses earn the username a short, growing delay, never a lock, and never
for an address the user signed in from before. Administrators unlock by
user, address or both, in the admin and with ``manage.py unlock``, audited.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.models import UsernameThrottle
from securemsg.audit.models import AuditEvent

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.SECUREMSG_USERNAME_DELAY_AFTER = 3
    settings.SECUREMSG_USERNAME_DELAY_MAX_SECONDS = 4


def _try(client: Client, addr: str, password: str = "wrong-password-123", user: str = "alice"):
    return client.post(LOGIN, {"username": user, "password": password}, REMOTE_ADDR=addr)


def _spread_failures(client: Client, n: int, first: int = 1, user: str = "alice") -> None:
    for i in range(first, first + n):
        assert _try(client, f"10.0.0.{i}", user=user).status_code == 200


def _cooldown_over(username: str = "alice") -> None:
    UsernameThrottle.objects.filter(username=username).update(
        next_allowed_at=timezone.now() - timedelta(seconds=1)
    )


def test_failures_from_many_addresses_earn_a_growing_delay(client, user_factory, password):
    user_factory("alice")
    _spread_failures(client, 3)  # no pair reaches the axes limit
    refused = _try(client, "10.0.1.1", password=password)  # even the right password waits
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    assert b"many failed sign-ins for this account" in refused.content
    assert "sessionid" not in refused.cookies
    delays = []
    for i in range(4):
        _cooldown_over()
        assert _try(client, f"10.0.2.{i}").status_code == 200
        delays.append(int(_try(client, f"10.0.3.{i}")["Retry-After"]))
    assert delays == [2, 4, 4, 4]  # 2^k seconds, capped at the maximum
    assert UsernameThrottle.objects.get(username="alice").failures == 7


def test_refused_attempts_do_not_count_and_the_delay_ends(client, user_factory, password):
    user_factory("alice")
    _spread_failures(client, 3)
    for i in range(5):
        assert _try(client, f"10.0.4.{i}").status_code == 429
    assert UsernameThrottle.objects.get(username="alice").failures == 3
    _cooldown_over()
    assert _try(client, "10.0.5.1", password=password).status_code == 302


def test_an_address_the_user_signed_in_from_is_never_delayed(client, user_factory, password):
    user_factory("alice")
    assert _try(Client(), "192.0.2.50", password=password).status_code == 302
    _spread_failures(client, 3)
    assert _try(client, "10.0.6.1", password=password).status_code == 429
    assert _try(Client(), "192.0.2.50", password=password).status_code == 302


def test_unknown_usernames_are_delayed_too(client):
    """Otherwise the delay would tell which accounts exist."""
    _spread_failures(client, 3, user="nobody")
    assert _try(client, "10.0.7.1", user="nobody").status_code == 429


def test_the_delay_is_audited(client, user_factory):
    user_factory("alice")
    _spread_failures(client, 3)
    _try(client, "10.0.8.1")
    row = AuditEvent.objects.filter(event="ratelimit.hit").get()
    assert (row.outcome, row.target_id, row.ip) == ("denied", "alice", "10.0.8.1")
    assert row.details["limit"] == "username_delay"


def _lock_pair(client: Client, addr: str, user: str = "alice") -> None:
    from django.conf import settings

    for _ in range(settings.AXES_FAILURE_LIMIT):
        _try(client, addr, user=user)


def test_unlock_command_by_user_address_or_both(client, user_factory, capsys, settings):
    settings.SECUREMSG_USERNAME_DELAY_AFTER = 100  # let both pairs reach the axes lock
    user_factory("alice")
    user_factory("bob")
    _lock_pair(client, "10.1.0.1")
    _lock_pair(client, "10.1.0.2")
    _lock_pair(client, "10.1.0.1", user="bob")
    assert UsernameThrottle.objects.filter(username="alice").exists()

    call_command("unlock", "--user", "alice", "--ip", "10.1.0.1")
    assert set(AccessAttempt.objects.values_list("username", "ip_address")) == {
        ("alice", "10.1.0.2"),
        ("bob", "10.1.0.1"),
    }
    call_command("unlock", "--ip", "10.1.0.1")
    assert set(AccessAttempt.objects.values_list("username", "ip_address")) == {
        ("alice", "10.1.0.2")
    }
    call_command("unlock", "--user", "ALICE")
    assert not AccessAttempt.objects.exists()
    assert not UsernameThrottle.objects.filter(username="alice").exists()
    out = capsys.readouterr().out
    assert "unlock alice from 10.1.0.1: 1 lockout(s) and 1 username delay(s) lifted" in out
    summaries = AuditEvent.objects.filter(event="auth.unlocked", details__via__startswith="manage")
    assert [(e.target_type, e.target_id) for e in summaries.order_by("seq")] == [
        ("user", "alice"),
        ("address", "10.1.0.1"),
        ("user", "ALICE"),
    ]


def test_unlock_command_needs_a_user_or_an_address():
    with pytest.raises(CommandError) as error:
        call_command("unlock")
    assert error.value.returncode == 2


def test_admin_unlocks_by_user_or_address_with_the_permission(client, user_factory, password):
    user_factory("alice")
    _lock_pair(client, "10.2.0.1")
    admin = Client()
    staff = user_factory("helpdesk", is_staff=True)
    admin.force_login(staff)
    url = "/admin/accounts/usernamethrottle/unlock/"
    assert admin.post(url, {"username": "alice"}).status_code == 403
    assert AccessAttempt.objects.exists()

    staff.user_permissions.add(Permission.objects.get(codename="unlock_signin"))
    assert admin.get(url).status_code == 200
    assert admin.post(url, {}).status_code == 200  # neither field: the form says so
    response = admin.post(url, {"username": "alice", "ip": "10.2.0.1"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    event = AuditEvent.objects.filter(event="auth.unlocked", details__via="admin").get()
    assert event.actor_username == "helpdesk"
    assert _try(client, "10.2.0.1", password=password).status_code == 302


def test_admin_action_unlocks_selected_usernames(client, user_factory):
    user_factory("alice")
    _spread_failures(client, 3)
    staff = user_factory("helpdesk", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="unlock_signin"))
    admin = Client()
    admin.force_login(staff)
    changelist = "/admin/accounts/usernamethrottle/"
    page = admin.get(changelist).content.decode()
    assert "alice" in page and "Unlock by user or address" in page
    row = UsernameThrottle.objects.get(username="alice")
    admin.post(changelist, {"action": "unlock_selected", "_selected_action": [row.pk]})
    assert not UsernameThrottle.objects.exists()
