"""Brute-force lockout with django-axes: username and address together."""

from __future__ import annotations

import time

from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

LOGIN = "/accounts/login/"


def _fail(client: Client, username: str = "alice", addr: str = "127.0.0.1") -> int:
    response = client.post(
        LOGIN, {"username": username, "password": "wrong-password-123"}, REMOTE_ADDR=addr
    )
    return response.status_code


def test_locks_after_configured_failures(client: Client, user_factory, password):
    user_factory("alice")
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5
    codes = [_fail(client) for _ in range(limit)]
    assert codes[:-1] == [200] * (limit - 1)
    assert codes[-1] == 429
    # Even the right password is refused while locked, with the lockout page.
    response = client.post(LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert "sessionid" not in response.cookies


def test_lock_is_per_username_and_address(client: Client, user_factory, password):
    user_factory("alice")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _fail(client, addr="10.9.9.9")
    # The same user from another address is not locked out by someone else's failures.
    ok = client.post(LOGIN, {"username": "alice", "password": password}, REMOTE_ADDR="10.1.1.1")
    assert ok.status_code == 302


def test_admin_can_unlock(client: Client, user_factory, password):
    user_factory("alice")
    admin = user_factory("root", is_staff=True, is_superuser=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _fail(client)
    attempt = AccessAttempt.objects.get(username="alice")
    staff = Client()
    staff.force_login(admin)
    url = f"/admin/axes/accessattempt/{attempt.pk}/delete/"
    assert staff.get(url).status_code == 200
    assert staff.post(url, {"post": "yes"}).status_code == 302
    assert not AccessAttempt.objects.filter(username="alice").exists()
    response = client.post(LOGIN, {"username": "alice", "password": password})
    assert response.status_code == 302


def test_unknown_username_costs_a_hash(client: Client, user_factory):
    """No enumeration by timing: a failure for an unknown user also runs Argon2id."""
    user_factory("alice")

    def best_of(username: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            client.post(LOGIN, {"username": username, "password": "wrong-password-123"})
            times.append(time.perf_counter() - start)
        return min(times)

    known = best_of("alice")
    unknown = best_of("nobody-at-all")
    # Without the dummy hash the unknown user would answer ~100x faster.
    assert unknown > 0.5 * known


def test_behind_one_proxy_the_lock_follows_the_forwarded_client(
    client: Client, user_factory, password, settings
):
    # docs/deployment.md: nginx connects from 127.0.0.1 and sets X-Forwarded-For to the client.
    settings.SECUREMSG_TRUSTED_PROXY_COUNT = 1
    user_factory("alice")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            LOGIN,
            {"username": "alice", "password": "wrong-password-123"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR="198.51.100.66",
        )
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["198.51.100.66"]
    # Everybody else comes through the same proxy address and is not locked.
    ok = client.post(
        LOGIN,
        {"username": "alice", "password": password},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
    )
    assert ok.status_code == 302
