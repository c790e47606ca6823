"""kill -9 of a Daphne worker mid-conversation, and of ``keyvault rewrap`` / ``rotate`` mid-run.

After each: no message lost or duplicated, every key still decrypts,
``audit verify`` passes, and the system recovers without manual steps (the
clients reconnect to the restarted server with the Python client library
and resend unacknowledged messages with the same id; the key commands are
simply run again).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

import keyvault
from keyvault.models import DataKey, ServerKey, State
from securemsg.chat.models import Message
from securemsg.client import Server, open_channel
from securemsg.protocol import ClientHandshake, ServerHandshake, parse_key_set
from tests.faults.conftest import audit_verifies, every_key_decrypts
from tests.support.daphne_server import ROOT, DaphneServer
from tests.support.ws import active_pins

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.timeout(240)]

RECEIVE_TIMEOUT = 15.0


async def _collect(channel: Any, want: set[str], seen: dict[str, list[str]], name: str) -> None:
    """Receive msgs on ``channel`` (confirming each) until every body in ``want`` arrived."""
    per_session: list[str] = []
    async with asyncio.timeout(RECEIVE_TIMEOUT):
        while not want <= set(seen):
            message = await channel.receive()
            if message.get("t") != "msg":
                continue
            assert message["mid"] not in per_session, "a mid sent twice to one session"
            per_session.append(message["mid"])
            seen.setdefault(message["body"], []).append(name)
            await channel.confirm(message)


def test_daphne_killed_mid_conversation_clients_reconnect_nothing_lost_or_duplicated(
    user_factory: Any, password: str, live_vault: dict[str, Any], daphne: DaphneServer
) -> None:
    user_factory("alice")
    user_factory("bob")
    pins = active_pins(live_vault)

    async def conversation() -> dict[str, list[str]]:
        servers = {name: Server.from_url(daphne.url) for name in ("alice", "bob")}
        for name, server in servers.items():
            server.sign_in(name, password)
        key_set = servers["alice"].fetch_keys()
        ws_a, alice = await open_channel(servers["alice"], key_set, pins, "alice")
        ws_b, bob = await open_channel(servers["bob"], key_set, pins, "bob")
        seen: dict[str, list[str]] = {}
        for index in range(3):
            ack = await alice.send_text("bob", f"m{index}", request_id=f"id-{index}")
            assert ack["t"] == "ack"
        await _collect(bob, {"m0", "m1"}, seen, "bob-1")
        # In flight when the worker dies: m3 may or may not be stored; no ack arrives.
        await alice.send_text_nowait("bob", "m3", request_id="id-3")
        daphne.stop(kill=True)  # SIGKILL: no shutdown code runs
        for ws in (ws_a, ws_b):
            await ws.close()
        daphne.start()

        # Reconnect with the same sign-in sessions; resend what was not acknowledged.
        ws_a, alice = await open_channel(servers["alice"], key_set, pins, "alice")
        assert (await alice.send_text("bob", "m3", request_id="id-3"))["t"] == "ack"
        assert (await alice.send_text("bob", "m4", request_id="id-4"))["t"] == "ack"
        ws_b, bob = await open_channel(servers["bob"], key_set, pins, "bob")
        await _collect(bob, {f"m{i}" for i in range(5)}, seen, "bob-2")
        await asyncio.sleep(0.5)  # let the last delivered notices commit
        await ws_a.close()
        await ws_b.close()
        return seen

    seen = asyncio.run(conversation())
    assert sorted(seen) == [f"m{i}" for i in range(5)]
    rows = list(Message.objects.order_by("id").values_list("client_id", flat=True))
    assert rows == [f"id-{i}" for i in range(5)]  # each stored exactly once
    deadline = time.monotonic() + 10
    while Message.objects.filter(delivered_at=None).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Message.objects.filter(delivered_at=None).exists()
    every_key_decrypts()
    audit_verifies()


def _manage(env: dict[str, str], *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **popen,
    )


def _rerun(env: dict[str, str], *args: str) -> None:
    """Run ``manage.py ARGS`` to the end after a kill; it must succeed."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _kill_when(proc: subprocess.Popen[bytes], ready: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def _handshake_works() -> None:
    """A full in-process handshake against the vault's current keys."""
    keyvault.reset_caches()
    document = keyvault.keys_document()
    client = ClientHandshake(parse_key_set(document), active_pins(document), user="alice")
    server = ServerHandshake(keyvault.server_keyring(), "alice")
    finished = client.receive_server_hello(server.receive_client_hello(client.client_hello()))
    client.receive_ready(server.receive_client_finished(finished).ready)


def _one_active_per_purpose() -> None:
    active = list(ServerKey.objects.filter(state=State.ACTIVE).values_list("purpose", flat=True))
    assert sorted(active) == ["encryption", "signing"], active


def test_keyvault_rewrap_killed_mid_run_every_key_decrypts_and_rerun_completes(
    live_env: dict[str, str], live_vault: dict[str, Any]
) -> None:
    keyvault.rotate("signing")
    keyvault.rotate("encryption")
    for index in range(4):
        keyvault.new_data_key("message", f"conversation-{index}")
    assert keyvault.add_master_version() == 2
    total = ServerKey.objects.count() + DataKey.objects.count()
    env = live_env | {"SECUREMSG_TEST_REWRAP_SLEEP": "0.3"}

    def moved() -> int:
        return (
            ServerKey.objects.filter(master_version=2).count()
            + DataKey.objects.filter(master_version=2).count()
        )

    with _manage(env, "keyvault", "rewrap") as proc:
        _kill_when(proc, lambda: moved() >= 2)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < moved() < total, "the kill should land mid-run"
    assert every_key_decrypts() == total
    audit_verifies()
    _handshake_works()

    _rerun(live_env, "keyvault", "rewrap")
    assert moved() == total
    assert every_key_decrypts() == total
    audit_verifies()
    _handshake_works()


def test_keyvault_rotate_killed_mid_run_keys_decrypt_and_rerun_completes(
    live_env: dict[str, str], live_vault: dict[str, Any]
) -> None:
    before = set(ServerKey.objects.values_list("kid", flat=True))

    def signing_rotated() -> bool:
        return ServerKey.objects.filter(purpose="signing").count() > 1

    # ``keyvault rotate`` rotates signing, then encryption, each in its own
    # transaction: kill it right after the first commit, while the second
    # key is being generated.
    with _manage(live_env, "keyvault", "rotate") as proc:
        _kill_when(proc, signing_rotated)
    assert proc.returncode == -signal.SIGKILL
    assert signing_rotated()
    made = set(ServerKey.objects.values_list("kid", flat=True)) - before
    # Usually only sig-2 exists now (killed while enc-2 was being generated).
    assert "sig-2" in made and made <= {"sig-2", "enc-2"}, made
    _one_active_per_purpose()
    every_key_decrypts()
    audit_verifies()
    _handshake_works()

    _rerun(live_env, "keyvault", "rotate")
    assert len(set(ServerKey.objects.values_list("kid", flat=True)) - before - made) == 2
    _one_active_per_purpose()
    every_key_decrypts()
    audit_verifies()
    _handshake_works()
