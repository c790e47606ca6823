"""The secure WebSocket ends (4401) within seconds when the sign-in session behind it ends.

Sign-out is covered in tests/chat/test_close_codes.py; here: a password
change (every socket of the user closes, on every session), a deactivation,
and, through a live Daphne with two browser-less clients (the Python client
library), sign-out in one client and a password change in the other, timed.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from websockets.exceptions import ConnectionClosed

from securemsg.client import Server, open_channel
from tests.support.daphne_server import DaphneServer
from tests.support.ws import active_pins

CLOSE_WITHIN_SECONDS = 3.0


@pytest.mark.asyncio
async def test_password_change_closes_every_socket_of_the_user_4401(
    chat_users: dict[str, Any], secure: Any, password: str
) -> None:
    first = await secure(chat_users["alice"])
    second = await secure(chat_users["alice"])
    bob = await secure(chat_users["bob"])
    browser = Client()
    await sync_to_async(browser.force_login)(chat_users["alice"])
    started = time.monotonic()
    response = await sync_to_async(browser.post)(
        "/accounts/password/",
        {
            "old_password": password,
            "new_password1": "a-whole-new-Password-77",
            "new_password2": "a-whole-new-Password-77",
        },
    )
    assert response.status_code == 302
    assert await first.expect_close(timeout=CLOSE_WITHIN_SECONDS) == 4401
    assert await second.expect_close(timeout=CLOSE_WITHIN_SECONDS) == 4401
    assert time.monotonic() - started < CLOSE_WITHIN_SECONDS
    # Another user's socket is untouched.
    await bob.send({"t": "ping", "id": "still"})
    assert (await bob.receive_until("pong"))["id"] == "still"


@pytest.mark.asyncio
async def test_deactivation_closes_the_socket_4401(chat_users: dict[str, Any], secure: Any) -> None:
    alice = await secure(chat_users["alice"])

    def deactivate() -> None:
        user = chat_users["alice"]
        user.is_active = False
        user.save()

    started = time.monotonic()
    await sync_to_async(deactivate)()
    assert await alice.expect_close(timeout=CLOSE_WITHIN_SECONDS) == 4401
    assert time.monotonic() - started < CLOSE_WITHIN_SECONDS


def _post(server: Server, path: str, fields: dict[str, str]) -> int:
    """POST a form with the CSRF token, as a browser would (test helper)."""
    url = server.origin + path
    token = server._cookie("csrftoken") or ""
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    request.add_header("Referer", url)
    request.add_header("Origin", server.origin)
    status, _body = server._open(request)
    return status


async def _closed_within(channel: Any, seconds: float) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        async with asyncio.timeout(seconds):
            while True:
                await channel.receive()
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else None
        return code, time.monotonic() - started
    except TimeoutError:
        return None, seconds


@pytest.mark.live
@pytest.mark.timeout(120)
def test_live_sign_out_and_password_change_close_client_sockets_within_seconds(
    user_factory: Any, password: str, live_vault: dict[str, Any], daphne: DaphneServer
) -> None:
    user_factory("alice")
    pins = active_pins(live_vault)

    async def scenario() -> dict[str, Any]:
        one, two = Server.from_url(daphne.url), Server.from_url(daphne.url)
        one.sign_in("alice", password)
        two.sign_in("alice", password)
        key_set = one.fetch_keys()
        ws_one, channel_one = await open_channel(one, key_set, pins, "alice")
        ws_two, channel_two = await open_channel(two, key_set, pins, "alice")
        results: dict[str, Any] = {}
        # Sign-out in client one ends only client one's socket.
        watcher = asyncio.create_task(_closed_within(channel_one, 10))
        await asyncio.sleep(0.2)
        assert await asyncio.to_thread(_post, one, "/accounts/logout/", {}) == 302
        results["sign_out"] = await watcher
        assert not ws_two.close_code, "the other session's socket stays open"
        # A password change (made in client two's session) ends every socket of the user.
        watcher = asyncio.create_task(_closed_within(channel_two, 10))
        await asyncio.sleep(0.2)
        change = {"old_password": password, "new_password1": "Fresh-pass-9876",
                  "new_password2": "Fresh-pass-9876"}  # fmt: skip
        assert await asyncio.to_thread(_post, two, "/accounts/password/", change) == 302
        results["password_change"] = await watcher
        await ws_one.close()
        await ws_two.close()
        return results

    results = asyncio.run(scenario())
    for case, (code, seconds) in results.items():
        assert code == 4401, (case, code)
        assert seconds < CLOSE_WITHIN_SECONDS, (case, seconds)


@pytest.mark.asyncio
async def test_session_expiry_closes_the_socket_4401(
    chat_users: dict[str, Any], vault: dict[str, Any]
) -> None:
    from django.contrib.sessions.models import Session

    import keyvault
    from accounts.session_store import SessionStore, stored_key
    from tests.support.ws import connect_as, create_session, handshake

    def short_session() -> str:
        key = create_session(chat_users["alice"])
        store = SessionStore(session_key=key)
        store.set_expiry(2)  # seconds from now
        store.save()
        return key

    key = await sync_to_async(short_session)()
    communicator, connected, code = await connect_as(chat_users["alice"], session_key=key)
    assert connected and code is None
    document = await sync_to_async(keyvault.keys_document)()
    alice = await handshake(communicator, document, username="alice")
    started = time.monotonic()
    assert await alice.expect_close(timeout=2 + CLOSE_WITHIN_SECONDS + 1) == 4401
    assert time.monotonic() - started < 2 + CLOSE_WITHIN_SECONDS
    assert await sync_to_async(
        lambda: Session.objects.filter(session_key=stored_key(key)).exists()
    )()
