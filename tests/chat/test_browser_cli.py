"""A person in the browser and a script on the command-line client talk through the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chat.test_browser import ChatPage

pytestmark = [pytest.mark.live, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]


def _cli(server_url: str, config: Path, password: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREMSG_")}
    env.update(PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(config), SECUREMSG_PASSWORD=password)
    command = [sys.executable, "-m", "securemsg.client", "--server", server_url, "--user", "bob"]
    return subprocess.Popen(
        [*command, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_browser_user_and_cli_user_chat(
    live_vault, daphne, chromium, user_factory, password, tmp_path
):
    alice_user = user_factory("alice")
    user_factory("bob")
    context = chromium.new_context()
    try:
        alice = ChatPage(context, daphne, alice_user)
        alice.wait_secure()

        # bob (CLI) listens while alice (browser) writes to him.
        listener = _cli(daphne.url, tmp_path, password, "listen", "--count", "1", "--timeout", "30")
        alice.open_conversation("bob")
        # Give the listener time to sign in and finish its handshake; the message
        # would reach it from storage anyway, since it stays undelivered until then.
        alice.send("hello from the browser")
        out, err = listener.communicate(timeout=60)
        assert listener.returncode == 0, err
        assert "hello from the browser" in out
        # bob's client confirmed delivery: alice's bubble shows the delivered tick.
        alice.page.wait_for_selector("#messages .message[data-state=delivered]", timeout=20_000)

        # bob answers from the command line; alice sees it in the open conversation.
        sender = _cli(daphne.url, tmp_path, password, "send", "alice", "hello from the CLI")
        out, err = sender.communicate(timeout=60)
        assert sender.returncode == 0, err
        alice.wait_for_body("hello from the CLI")
        assert alice.bodies().count("hello from the CLI") == 1
        assert not alice.csp_violations()
    finally:
        context.close()
