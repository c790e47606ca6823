"""Sign-in lockout through nginx sees the real client address (issue 11, point 2).

Loopback is a whole /8: each client here connects to nginx on 127.0.0.1 from
its own source address (127.0.0.2 the attacker, 127.0.0.3 the owner), so
nginx's ``$remote_addr`` differs per client, as on the Internet. The workers
see every request come from nginx (127.0.0.1) and take the client from the
``X-Forwarded-For`` that nginx *sets* (docs/deployment.md), with
``SECUREMSG_TRUSTED_PROXY_COUNT=1``. django-axes locks a (username,
address) pair after ``SECUREMSG_LOCKOUT_FAILURES`` (3 here) failures.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt

from securemsg.audit.models import AuditEvent
from tests.scaleout.conftest import Cluster
from tests.support.https_client import WebClient
from tests.support.nginx import NginxProxy

from .conftest import LOCKOUT_FAILURES, web_client

pytestmark = [pytest.mark.live, pytest.mark.slow]

ATTACKER, OWNER = "127.0.0.2", "127.0.0.3"
WRONG = "not-the-password-0"
LOCKED_PAGE = "Too many failed sign-in attempts"


def _fail(client: WebClient, username: str, **headers: str) -> int:
    return client.sign_in(username, WRONG, **headers).status


def _locked_addresses(username: str) -> list[str]:
    return sorted(
        str(ip)
        for ip in AccessAttempt.objects.filter(username=username).values_list(
            "ip_address", flat=True
        )
    )


def test_failures_lock_the_client_address_not_the_user(
    cluster: Cluster, nginx_proxy: NginxProxy, password: str
) -> None:
    attacker, owner = web_client(nginx_proxy, ATTACKER), web_client(nginx_proxy, OWNER)
    codes = [_fail(attacker, "alice") for _ in range(LOCKOUT_FAILURES)]
    assert codes == [200] * (LOCKOUT_FAILURES - 1) + [429]
    # Locked: even the right password gets the lockout page from that address.
    refused = attacker.sign_in("alice", password)
    assert refused.status == 429 and LOCKED_PAGE in refused.body
    # The owner, through the same nginx and the same workers, signs in.
    assert owner.sign_in("alice", password).status == 302
    assert _locked_addresses("alice") == [ATTACKER]
    failed_from = set(
        AuditEvent.objects.filter(event="auth.login_failed").values_list("ip", flat=True)
    )
    assert failed_from == {ATTACKER}


def test_forged_forwarded_for_neither_dodges_nor_aims_the_lock(
    cluster: Cluster, nginx_proxy: NginxProxy, password: str
) -> None:
    attacker, owner = web_client(nginx_proxy, ATTACKER), web_client(nginx_proxy, OWNER)
    # A fresh fake address on every try: nginx overwrites the header, the lock holds.
    codes = [
        _fail(attacker, "bob", X_Forwarded_For=f"198.51.100.{n}")
        for n in range(LOCKOUT_FAILURES + 1)
    ]
    assert codes == [200] * (LOCKOUT_FAILURES - 1) + [429, 429]
    assert _locked_addresses("bob") == [ATTACKER]
    # Forging the owner's address (alone, or prepended as a proxy chain would):
    # the failures count against the attacker, and the owner is not locked.
    for forged in (OWNER, f"{OWNER}, {OWNER}"):
        assert _fail(attacker, "carol", X_Forwarded_For=forged) == 200
    assert _fail(attacker, "carol", X_Forwarded_For=OWNER) == 429
    assert _locked_addresses("carol") == [ATTACKER]
    assert owner.sign_in("carol", password).status == 302
    assert attacker.sign_in("carol", password, X_Forwarded_For=OWNER).status == 429
