"""The production profile behind docs/deployment.md's nginx, checked on the wire.

What the documented TLS termination must give: HSTS on every https answer,
cookies marked Secure (the session cookie HttpOnly too), plain http
redirected to https by nginx, ``request.is_secure()`` true only because
nginx sets ``X-Forwarded-Proto`` (a client's own header is overwritten on
the way in; a worker reached directly without it redirects), the
``Host`` taken from the request, never from ``X-Forwarded-Host``, and the
static files (``collectstatic``) served by nginx itself with a MIME type
browsers accept for module scripts.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import websockets

from tests.scaleout.conftest import Cluster
from tests.support.https_client import WebClient
from tests.support.nginx import NginxProxy

from .conftest import web_client

pytestmark = [pytest.mark.live, pytest.mark.slow]

HSTS = "max-age=31536000; includeSubDomains; preload"


async def _knock(url: str, origin: str) -> None:
    """Open a WebSocket at ``url`` and wait until the server closes it."""
    async with websockets.connect(url, origin=websockets.Origin(origin), open_timeout=10) as socket:
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(socket.recv(), timeout=10)


def test_tls_termination_headers_cookies_and_redirects(
    cluster: Cluster, nginx_proxy: NginxProxy, password: str
) -> None:
    client = web_client(nginx_proxy)
    page = client.get("/accounts/login/")
    assert page.status == 200
    assert page.headers["Strict-Transport-Security"] == HSTS
    assert {"secure", "httponly", "samesite"} <= page.cookie_attributes("csrftoken")

    signed_in = client.sign_in("alice", password)
    assert signed_in.status == 302
    assert signed_in.headers["Strict-Transport-Security"] == HSTS
    assert {"secure", "httponly", "samesite"} <= signed_in.cookie_attributes("sessionid")
    assert client.get("/").status == 200

    # nginx's port 80 answers every request with a redirect to https (Django never sees it).
    plain = client.request("/accounts/login/?next=/chat/", origin=nginx_proxy.plain_origin)
    assert plain.status == 301
    assert plain.headers["Location"] == "https://127.0.0.1/accounts/login/?next=/chat/"

    # docs/deployment.md's systemd unit runs this before every worker start.
    checked = cluster.manage("check", "--deploy", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_is_secure_comes_from_nginx_only(cluster: Cluster, nginx_proxy: NginxProxy) -> None:
    client = web_client(nginx_proxy)
    # A client claiming plain http through the TLS listener: nginx overwrites the
    # header with $scheme, so the worker still sees https (no SSL redirect).
    claimed = client.get("/accounts/login/", X_Forwarded_Proto="http")
    assert claimed.status == 200
    assert claimed.headers["Strict-Transport-Security"] == HSTS

    # A worker reached directly: without nginx's header the request is plain
    # http (SECURE_SSL_REDIRECT answers); with a forged one it would pass as
    # https, which is why docs/deployment.md binds Daphne to 127.0.0.1 only.
    # Everything so far came through nginx, which sets X-Forwarded-For: no worker
    # has seen a request that does not fit SECUREMSG_TRUSTED_PROXY_COUNT=1.
    for server in cluster.servers:
        assert "proxy configuration mismatch" not in server.log()
    worker = cluster.servers[0]
    direct = WebClient(worker.url, nginx_proxy.pki.client_context())
    redirected = direct.get("/accounts/login/")
    assert redirected.status == 301
    assert redirected.headers["Location"] == f"https://127.0.0.1:{worker.port}/accounts/login/"
    assert direct.get("/accounts/login/", X_Forwarded_Proto="https").status == 200
    # A WebSocket opened round nginx (refused: no session) is keyed on an address,
    # and the missing header is what an operator is warned about (docs/deployment.md).
    asyncio.run(_knock(f"{worker.ws_url}/ws/securemsg/", nginx_proxy.origin))
    assert "proxy configuration mismatch (missing_header)" in worker.log()
    assert "proxy configuration mismatch" not in cluster.servers[1].log()

    # USE_X_FORWARDED_HOST stays off: a forged host is neither used nor refused.
    forged_host = client.get("/accounts/login/", X_Forwarded_Host="evil.example")
    assert forged_host.status == 200
    assert "evil.example" not in forged_host.body


def test_static_files_come_from_nginx(
    cluster: Cluster, nginx_proxy: NginxProxy, collected_static
) -> None:
    client = web_client(nginx_proxy)
    for path, content_type in (
        ("js/chat.mjs", "text/javascript"),
        ("js/securemsg/connection.mjs", "text/javascript"),
        ("css/app.css", "text/css"),
    ):
        answer = client.get(f"/static/{path}")
        assert answer.status == 200, path
        assert answer.headers["Content-Type"] == content_type, path
        # The documented location's caching headers: nginx served it, not Daphne.
        cache_control = answer.headers.get_all("Cache-Control") or []
        assert cache_control == ["max-age=3600", "public"], path
        assert "Expires" in answer.headers, path
        assert answer.body == (collected_static / path).read_text("utf-8")
