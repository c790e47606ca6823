"""The Python client library and CLI against a real Daphne server (issue 6 point 5).

Every test starts Daphne on a free port, sharing this test's database and
master keyring (``live_vault``), and drives ``python -m securemsg.client``
as a subprocess with the password in ``SECUREMSG_PASSWORD`` and the pin
file under a temporary ``XDG_CONFIG_HOME``; some drive the library in
process. Key rotations are made here with the ``keyvault`` management
command: the vault bumps its generation row, which the server process
checks every second, so no cache setting is needed.
"""

from __future__ import annotations

import asyncio
import json
import re
import stat
import subprocess
import sys
import time
from typing import Any

import pytest
from django.core.management import call_command

import securemsg.client._cli as client_cli
import securemsg.protocol._handshake as protocol_handshake
from securemsg.client import (
    ClosedByServerError,
    PinRefusedError,
    Server,
    ServerError,
    SignInError,
    open_channel,
)
from securemsg.client._errors import exit_status_for_close
from securemsg.protocol import KeySet
from tests.support.daphne_server import ROOT
from tests.support.ports import free_port

from .conftest import CLI_TIMEOUT_SECONDS, LiveSite

pytestmark = [pytest.mark.live]

STORED = re.compile(r"stored (\S+) at (\S+)\n")


def _active_sig(document: dict[str, Any]) -> dict[str, Any]:
    (key,) = [k for k in document["keys"] if k["use"] == "sig" and k["state"] == "active"]
    return dict(key)


def _messages(**filters: Any) -> list[Any]:
    from securemsg.chat.models import Message

    return list(Message.objects.filter(**filters))


def _wait_for_signing_key(site: LiveSite, old_kid: str, timeout: float = 15.0) -> KeySet:
    """Poll the server's keys.json until its active signing key is no longer ``old_kid``."""
    deadline = time.monotonic() + timeout
    while True:
        key_set = Server.from_url(site.url).fetch_keys()
        if key_set.active_key("sig").kid != old_kid:
            return key_set
        if time.monotonic() > deadline:
            raise AssertionError(f"the server still publishes {old_kid} as active")
        time.sleep(0.2)


async def _signed_in_channel(site: LiveSite, user: str, pins: list[str]) -> Any:
    server = Server.from_url(site.url)
    server.sign_in(user, site.password)
    return await open_channel(server, server.fetch_keys(), pins, user)


# --- sign-in and keys ------------------------------------------------------------


def test_keys_prints_the_signing_fingerprint_and_pins_nothing(live_site, live_vault):
    sig = _active_sig(live_vault)
    result = live_site.cli("keys")
    assert result.returncode == 0, result.stderr
    assert f"{sig['kid']}\tsig\tactive\t{sig['fingerprint']}\tfirst-use\n" in result.stdout
    assert not live_site.pin_file.exists()  # only a verified handshake pins

    pinned = live_site.cli("--pin", sig["fingerprint"].upper(), "keys")
    assert pinned.returncode == 0, pinned.stderr
    assert f"{sig['fingerprint']}\ttrusted\n" in pinned.stdout


def test_sign_in_with_a_good_and_a_bad_password(live_site):
    refused = live_site.cli("send", "bob", "hi", user="alice", password="not-the-password-9")
    assert refused.returncode == 3
    assert refused.stderr.startswith("securemsg: sign-in as 'alice' was refused")
    assert not live_site.pin_file.exists()
    assert _messages() == []

    server = Server.from_url(live_site.url)
    with pytest.raises(SignInError):
        server.sign_in("alice", "not-the-password-9")
    server.sign_in("alice", live_site.password)
    assert "sessionid=" in server.cookie_header()


def test_unreachable_server_exits_6(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "securemsg.client", "--server", url, "--user", "alice"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [*command, "send", "bob", "hi"],
        env={**env, "SECUREMSG_PASSWORD": "irrelevant-password-1"},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
    )
    assert result.returncode == 6
    assert result.stderr.startswith(f"securemsg: cannot reach {url}")
    assert result.stderr.count("\n") == 1  # one line, no traceback
    with pytest.raises(ServerError):
        Server.from_url(url).fetch_keys()


# --- messaging ---------------------------------------------------------------------


def test_send_listen_trust_on_first_use_and_idempotent_resend(live_site, live_vault):
    sig = _active_sig(live_vault)
    first = live_site.cli("send", "bob", "hello bob", "--id", "req-1", user="alice")
    assert first.returncode == 0, first.stderr
    match = STORED.fullmatch(first.stdout)
    assert match, first.stdout
    mid, ts = match.groups()
    # Trust on first use: the key that signed the handshake, in a 0600 file.
    assert live_site.pins() == [sig["fingerprint"]]
    assert stat.S_IMODE(live_site.pin_file.stat().st_mode) == 0o600

    # A resend with the same id gets the original ack and stores nothing.
    again = live_site.cli("send", "bob", "something else", "--id", "req-1", user="alice")
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert [m.mid for m in _messages(client_id="req-1")] == [mid]

    heard = live_site.cli("listen", "--count", "1", "--timeout", "30", user="bob")
    assert heard.returncode == 0, heard.stderr
    assert heard.stdout == f"[{ts}] alice -> bob: hello bob\n"
    # listen confirmed it: delivered, and not delivered again.
    assert _messages(mid=mid)[0].delivered_at is not None
    quiet = live_site.cli("listen", "--timeout", "2", user="bob")
    assert (quiet.returncode, quiet.stdout) == (0, "")


def test_unknown_recipient_is_refused_with_status_7(live_site):
    result = live_site.cli("send", "nobody", "hi", user="alice")
    assert result.returncode == 7
    assert result.stderr.startswith("securemsg: refused: unknown_user")
    assert _messages() == []


def test_chat_from_stdin_and_history(live_site):
    assert live_site.cli("send", "bob", "first", user="alice").returncode == 0
    chat = live_site.cli("chat", "bob", "--history", "10", user="alice", stdin="second\n\nthird\n")
    assert chat.returncode == 0, chat.stderr
    lines = chat.stdout.splitlines()
    # The history first, then each stdin line once the server stored it (blank lines skipped).
    assert [line.split("] ", 1)[1] for line in lines] == [
        "alice -> bob: first",
        "alice -> bob: second",
        "alice -> bob: third",
    ]
    assert len(_messages()) == 3

    # bob's chat: his three undelivered messages, shown once each, oldest first.
    bob = live_site.cli("chat", "alice", user="bob")
    assert bob.returncode == 0, bob.stderr
    assert [line.split("] ", 1)[1] for line in bob.stdout.splitlines()] == [
        "alice -> bob: first",
        "alice -> bob: second",
        "alice -> bob: third",
    ]
    assert all(m.delivered_at is not None for m in _messages())

    page = live_site.cli("history", "alice", "--limit", "2", user="bob")
    assert page.returncode == 0, page.stderr
    assert [line.split("] ", 1)[1] for line in page.stdout.splitlines()] == [
        "alice -> bob: second",
        "alice -> bob: third",
    ]
    oldest = _messages(client_id__isnull=False).pop(1).mid  # "second"
    assert f"older messages exist: --before {oldest}" in page.stderr
    older = live_site.cli("history", "alice", "--before", oldest, user="bob")
    assert older.stdout.endswith("alice -> bob: first\n")
    assert live_site.cli("history", "alice", "--limit", "0", user="bob").returncode == 2


def test_library_send_receive_confirm_and_receipt(live_site, live_vault):
    pins = [_active_sig(live_vault)["fingerprint"]]

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        alice_ws, alice = await _signed_in_channel(live_site, "alice", pins)
        bob_ws, bob = await _signed_in_channel(live_site, "bob", pins)
        async with alice_ws, bob_ws:
            assert alice.sig_fingerprint == pins[0]
            ack = await alice.send_text("bob", "via the library \N{SNOWMAN}")
            message = await bob.receive()
            await bob.confirm(message)
            receipt = await alice.receive()
        return ack, message, receipt

    ack, message, receipt = asyncio.run(scenario())
    assert ack["t"] == "ack"
    assert (message["t"], message["mid"], message["body"]) == (
        "msg",
        ack["mid"],
        "via the library \N{SNOWMAN}",
    )
    assert receipt == {"t": "receipt", "mid": ack["mid"], "state": "delivered"}


# --- refusals and close codes ------------------------------------------------------------


def test_a_pin_that_does_not_match_is_refused_loudly(live_site, live_vault):
    sig = _active_sig(live_vault)
    other = "ab" * 32
    result = live_site.cli("--pin", other, "send", "bob", "hi", user="alice")
    assert result.returncode == 4
    assert result.stderr.startswith(f"securemsg: REFUSING {live_site.url}")
    assert sig["fingerprint"] in result.stderr and other in result.stderr
    assert not live_site.pin_file.exists()  # --pin is never stored

    # The same with a stored pin: refused, and the pin file is left alone.
    live_site.pin_file.parent.mkdir(parents=True)
    stored = {"version": 1, "servers": {live_site.url: [other]}}
    live_site.pin_file.write_text(json.dumps(stored))
    again = live_site.cli("send", "bob", "hi", user="alice")
    assert again.returncode == 4 and "REFUSING" in again.stderr
    assert live_site.pins() == [other]
    assert _messages() == []


@pytest.mark.parametrize(("code", "status"), [(4408, 5), (4409, 5), (4500, 5), (4401, 3)])
def test_server_close_code_maps_to_exit_status(live_site, closing_proxy, code, status):
    proxy = closing_proxy(code)
    started = time.monotonic()
    result = live_site.cli("listen", "--timeout", "30", user="bob", server=proxy.url)
    assert proxy.closed_websockets == 1
    assert result.returncode == status, result.stderr
    assert result.stderr.startswith("securemsg: the server closed the connection")
    assert f"({code})" in result.stderr and result.stderr.count("\n") == 1
    assert time.monotonic() - started < 25


def test_idle_timeout_close_exits_5_with_4408(start_live_site):
    site = start_live_site(SECUREMSG_IDLE_TIMEOUT="1")
    started = time.monotonic()
    result = site.cli("listen", "--timeout", "15", user="bob")
    assert result.returncode == 5
    assert "(4408)" in result.stderr and result.stderr.startswith("securemsg: the server closed")
    assert time.monotonic() - started < 12


def test_too_many_sessions_exits_5_with_4429(start_live_site, live_vault):
    site = start_live_site(SECUREMSG_MAX_SESSIONS_PER_USER="1")
    pins = [_active_sig(live_vault)["fingerprint"]]

    async def scenario() -> tuple[int | None, bytes]:
        ws, _channel = await _signed_in_channel(site, "alice", pins)  # alice's only session
        async with ws:
            process = await asyncio.create_subprocess_exec(
                *site.cli_command("send", "bob", "hi", user="alice"),
                env=site.cli_env(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=ROOT,
            )
            _out, err = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT_SECONDS)
        return process.returncode, err

    status, err = asyncio.run(scenario())
    assert b"Traceback" not in err
    assert _messages() == []
    assert status == 5
    assert b"(4429)" in err


def test_a_slow_client_key_does_not_lose_an_immediate_close_code(
    start_live_site, live_vault, monkeypatch
):
    """The ephemeral key is made before the socket opens, so a 4429 sent at once arrives.

    Daphne waits about a second for the reply to its close frame, then
    resets the TCP connection, which discards the close frame still unread.
    A client making its key after connecting (a loaded CI machine took over
    a second) reported "the connection was lost" instead of 4429.
    """
    site = start_live_site(SECUREMSG_MAX_SESSIONS_PER_USER="1")
    pins = [_active_sig(live_vault)["fingerprint"]]
    fast = protocol_handshake.new_client_key

    def slow_key() -> Any:
        time.sleep(1.5)
        return fast()

    monkeypatch.setattr(protocol_handshake, "new_client_key", slow_key)
    monkeypatch.setattr(client_cli, "new_client_key", slow_key)

    async def scenario() -> int | None:
        ws, _channel = await _signed_in_channel(site, "alice", pins)  # alice's only session
        async with ws:
            with pytest.raises(ClosedByServerError) as refused:
                await _signed_in_channel(site, "alice", pins)
        return refused.value.code

    assert asyncio.run(scenario()) == 4429


def test_ended_sign_in_session_is_4401_and_exit_3(live_site, live_vault):
    from django.contrib.sessions.models import Session

    pins = [_active_sig(live_vault)["fingerprint"]]
    server = Server.from_url(live_site.url)
    server.sign_in("alice", live_site.password)
    Session.objects.all().delete()  # signed out everywhere

    async def scenario() -> None:
        await open_channel(server, server.fetch_keys(), pins, "alice")

    with pytest.raises(ClosedByServerError) as caught:
        asyncio.run(scenario())
    assert caught.value.code == 4401
    assert "(4401)" in str(caught.value)
    assert exit_status_for_close(caught.value.code) == 3


# --- rotation -------------------------------------------------------------------------


def test_rotation_is_followed_through_endorsements_and_unendorsed_keys_refused(
    live_site, live_vault
):
    first = _active_sig(live_vault)
    assert live_site.cli("send", "bob", "before rotation", user="alice").returncode == 0
    assert live_site.pins() == [first["fingerprint"]]

    # An ordinary rotation: the new key is endorsed by the old one.
    call_command("keyvault", "rotate", "--purpose", "signing", verbosity=0)
    rotated = _wait_for_signing_key(live_site, first["kid"])
    second = rotated.active_key("sig")
    after = live_site.cli("send", "bob", "after rotation", user="alice")
    assert after.returncode == 0, after.stderr
    # The pin file follows: the old pin stays (chains start there), the new key joins.
    assert live_site.pins() == [first["fingerprint"], second.fingerprint]
    listed = live_site.cli("keys")
    assert f"{second.kid}\tsig\tactive\t{second.fingerprint}\ttrusted\n" in listed.stdout

    # A compromise: the replacement is NOT endorsed, so the pinned client refuses it.
    call_command("keyvault", "compromised", second.kid, verbosity=0)
    replaced = _wait_for_signing_key(live_site, second.kid)
    third = replaced.active_key("sig")
    refused = live_site.cli("send", "bob", "after compromise", user="alice")
    assert refused.returncode == 4
    assert "REFUSING" in refused.stderr and third.fingerprint in refused.stderr
    assert live_site.pins() == [first["fingerprint"], second.fingerprint]
    assert len(_messages(sender__username="alice")) == 2

    # The library with a key set cached before the compromise: the unknown
    # sig_kid makes it re-fetch keys.json once, then refuse.
    async def with_stale_key_set() -> None:
        server = Server.from_url(live_site.url)
        server.sign_in("alice", live_site.password)
        await open_channel(server, rotated, [first["fingerprint"]], "alice")

    with pytest.raises(PinRefusedError, match="REFUSING"):
        asyncio.run(with_stale_key_set())

    # Re-pinning out of band (--pin) works and is not stored.
    repinned = live_site.cli("--pin", third.fingerprint, "send", "bob", "re-pinned", user="alice")
    assert repinned.returncode == 0, repinned.stderr
    assert live_site.pins() == [first["fingerprint"], second.fingerprint]
