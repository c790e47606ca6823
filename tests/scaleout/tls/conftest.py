"""The production path over real TLS: docs/deployment.md's nginx, two production workers.

The workers run the production profile exactly as the documented environment
file configures it (``SECUREMSG_ENV=production``: DEBUG off, secure cookies,
HSTS, the SSL redirect; ``SECUREMSG_BEHIND_TLS_PROXY=1``,
``SECUREMSG_TRUSTED_PROXY_COUNT=1``), on PostgreSQL and Redis, behind nginx
with a certificate from a throwaway CA (``nginx_proxy`` in
tests/scaleout/conftest.py). Clients trust that CA: Python's ``ssl`` and the
project's client through the CA file, Chromium through the server
certificate's SPKI hash. Lockout limits are lowered so that the lockout tests
stay short.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from websockets.exceptions import ConnectionClosed

from securemsg.client import SecureChannel
from tests.scaleout.conftest import Cluster, ProxyPorts, connect_through, websocket_connects
from tests.support.browser import launch_chromium
from tests.support.https_client import WebClient
from tests.support.nginx import NginxProxy
from tests.support.tls import ThrowawayPKI

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

#: Failed sign-ins that lock a (username, address) pair in these tests (default 5).
LOCKOUT_FAILURES = 3
#: Failures of one username from all addresses before its growing delay starts;
#: above what the lockout tests make, so the per-address lock is what they see.
USERNAME_DELAY_AFTER = 50
#: How many connections ``connect_on_both_workers`` tries before giving up.
MAX_SPREAD_ATTEMPTS = 8


@pytest.fixture
def scaleout_env(
    scaleout_env: dict[str, str], proxy_ports: ProxyPorts, settings: Any
) -> dict[str, str]:
    """The documented environment file, with test hosts, and short lockout limits."""
    # The workers and the test process sign sessions with the same key (live_env).
    assert len(settings.SECRET_KEY) >= 50, "the production profile needs a 50+ character key"
    return {
        **scaleout_env,
        "SECUREMSG_ENV": "production",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": proxy_ports.origin,
        "SECUREMSG_BEHIND_TLS_PROXY": "1",
        "SECUREMSG_TRUSTED_PROXY_COUNT": "1",
        "SECUREMSG_LOCKOUT_FAILURES": str(LOCKOUT_FAILURES),
        "SECUREMSG_USERNAME_DELAY_AFTER": str(USERNAME_DELAY_AFTER),
        "SECUREMSG_USERNAME_DELAY_MAX_SECONDS": "1",
        # Daphne's access log (which worker took a WebSocket) is read while it runs.
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def tls_chromium(playwright_api: Playwright, tls_pki: ThrowawayPKI) -> Iterator[Browser]:
    """Debian's Chromium that accepts exactly the test server certificate (SPKI pinned)."""
    browser = launch_chromium(playwright_api, tls_pki.chromium_args())
    try:
        yield browser
    finally:
        browser.close()


def web_client(proxy: NginxProxy, source: str = "127.0.0.1") -> WebClient:
    """A browser-less client of the proxy, connecting from ``source`` (a loopback address)."""
    return WebClient(proxy.origin, proxy.pki.client_context(), source=source)


async def connect_on_both_workers(
    proxy: NginxProxy, cluster: Cluster, username: str, session_key: str
) -> list[SecureChannel]:
    """Open channels for ``session_key`` through nginx until each worker holds one.

    nginx's ``least_conn`` picks the worker; Daphne's access log tells which
    one accepted each connection (they are opened one at a time).
    """
    channels: list[SecureChannel] = []
    served: set[int] = set()
    for _ in range(MAX_SPREAD_ATTEMPTS):
        before = [websocket_connects(server) for server in cluster.servers]
        channels.append(await connect_through(proxy, cluster, username, session_key=session_key))
        after = [websocket_connects(server) for server in cluster.servers]
        served |= {index for index, (a, b) in enumerate(zip(before, after, strict=True)) if b > a}
        if len(served) == len(cluster.servers):
            return channels
    raise AssertionError(f"least_conn never used every worker for {username}: {served}")


async def close_code(channel: SecureChannel, timeout: float) -> int | None:
    """Wait up to ``timeout`` s for the server to close ``channel``; its close code."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await channel.receive()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None
