"""Debian's Chromium and the Python client through docs/deployment.md's nginx, over TLS.

Chromium accepts the server certificate only because its SPKI hash is pinned
(``--ignore-certificate-errors-spki-list``); the Python client trusts the
throwaway CA through ``--cafile``. alice signs in through the real sign-in
form over https, opens the chat (its module scripts served by nginx from the
``collectstatic`` directory), and exchanges encrypted messages over wss with
bob, who uses ``python -m securemsg.client``. The HSTS header and the Secure
(and HttpOnly) cookies are checked as the browser received them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.scaleout.conftest import Cluster
from tests.support.daphne_server import ROOT
from tests.support.nginx import NginxProxy

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.browser, pytest.mark.tls]

HSTS = "max-age=31536000; includeSubDomains; preload"
#: Milliseconds the page may take to reach a state.
PAGE_TIMEOUT_MS = 20_000
#: Seconds one run of the Python client may take.
CLI_TIMEOUT = 60


def _cli(proxy: NginxProxy, config: Path, password: str, *args: str) -> str:
    """Run ``python -m securemsg.client`` as bob against the proxy; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREMSG_")}
    env.update(PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(config), SECUREMSG_PASSWORD=password)
    argv = [sys.executable, "-m", "securemsg.client", "--server", proxy.origin]
    argv += ["--cafile", str(proxy.pki.ca_cert), "--user", "bob", *args]
    result = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_sign_in_and_chat_over_https_and_wss(
    cluster: Cluster, nginx_proxy: NginxProxy, tls_chromium: Any, password: str, tmp_path: Path
) -> None:
    origin = nginx_proxy.origin
    context = tls_chromium.new_context()
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
        documents: list[Any] = []
        page.on(
            "response",
            lambda r: documents.append(r) if r.request.resource_type == "document" else None,
        )
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))

        # Sign in through the real form, over https.
        page.goto(f"{origin}/")
        assert page.url == f"{origin}/accounts/login/?next=/"
        page.fill("#id_username", "alice")
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{origin}/")
        assert "Welcome, alice" in page.inner_text("main")
        # The stylesheet (nginx, /static/) applied under the CSP.
        assert page.eval_on_selector("body", "el => getComputedStyle(el).margin") == "0px"
        cookies = {cookie["name"]: cookie for cookie in context.cookies(origin)}
        assert cookies["sessionid"]["secure"] and cookies["sessionid"]["httpOnly"]
        assert cookies["csrftoken"]["secure"]

        # The chat: module scripts from nginx, the secure channel over wss.
        page.goto(f"{origin}/chat/")
        page.wait_for_selector("#status[data-state=secure]", timeout=PAGE_TIMEOUT_MS)
        assert sockets == [f"wss://127.0.0.1:{nginx_proxy.https_port}/ws/securemsg/"]
        page.click("#conversations [data-user=bob]")
        page.fill("#body", "hello bob, over wss through nginx")
        page.press("#body", "Enter")
        page.wait_for_selector("#messages .message[data-state=stored]", timeout=PAGE_TIMEOUT_MS)

        # bob, with the Python client trusting the test CA, gets it and confirms delivery.
        config = tmp_path / "config"
        heard = _cli(nginx_proxy, config, password, "listen", "--count", "1", "--timeout", "30")
        assert "alice -> bob: hello bob, over wss through nginx" in heard
        page.wait_for_selector("#messages .message[data-state=delivered]", timeout=PAGE_TIMEOUT_MS)
        stored = _cli(nginx_proxy, config, password, "send", "alice", "hi alice, from Python")
        assert stored.startswith("stored ")
        page.locator("#messages .message .message-body", has_text="hi alice, from Python").wait_for(
            timeout=PAGE_TIMEOUT_MS
        )

        # Every page (Django's answers through nginx) carried HSTS over https.
        assert documents and all(r.url.startswith("https://") for r in documents)
        for response in documents:
            assert response.headers.get("strict-transport-security") == HSTS, response.url
        assert not [line for line in console if "Content Security Policy" in line], console
        assert not [line for line in console if "pageerror" in line], console
    finally:
        context.close()
