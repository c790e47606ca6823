"""Field lessons (issue 12) seen from the WebSocket: stale keys, rejected sockets, drops."""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import sync_to_async

import keyvault
from securemsg.chat.models import Message
from securemsg.protocol import ClientHandshake, encode_json, parse_key_set, send_request
from tests.support.ws import (
    active_pins,
    close_code,
    connect_as,
    fetch_keys_json,
    refetch_and_ping,
    stale_hello_close_code,
)

pytestmark = pytest.mark.asyncio


async def test_compromised_encryption_key_gets_4412_and_a_refetch_recovers(chat_users, vault):
    alice = chat_users["alice"]
    stale = await sync_to_async(fetch_keys_json)()
    stale_enc = next(k["kid"] for k in stale["keys"] if k["use"] == "enc")
    replacement = await sync_to_async(keyvault.mark_compromised)(stale_enc)
    assert replacement is not None

    # A client still holding the old keys.json wraps to the compromised key.
    assert await stale_hello_close_code(alice, stale) == 4412

    # The documented recovery: re-fetch keys.json, handshake again.
    fresh = await refetch_and_ping(alice)
    fresh_enc = [k["kid"] for k in fresh["keys"] if k["use"] == "enc"]
    assert stale_enc not in fresh_enc and replacement.kid in fresh_enc


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "securemsg.chat"]


async def test_refused_origin_is_logged_with_its_reason(chat_users, caplog):
    caplog.set_level(logging.INFO, logger="securemsg.chat")
    _communicator, _connected, code = await connect_as(
        chat_users["alice"], origin="https://evil.example", client=("203.0.113.9", 4000)
    )
    assert code == 4403
    (line,) = [m for m in _refusals(caplog) if "refused" in m]
    assert "origin not allowed" in line and "https://evil.example" in line
    assert "203.0.113.9" in line


async def test_refused_anonymous_socket_is_logged_with_its_reason(vault, caplog):
    caplog.set_level(logging.INFO, logger="securemsg.chat")
    _communicator, _connected, code = await connect_as(None, client=("203.0.113.10", 4000))
    assert code == 4401
    assert any(
        "not signed in (no signed-in session, client 203.0.113.10)" in m for m in _refusals(caplog)
    )


async def test_refused_inactive_account_is_logged_with_its_reason(chat_users, caplog):
    caplog.set_level(logging.INFO, logger="securemsg.chat")
    alice = chat_users["alice"]
    from tests.support.ws import create_session

    session_key = await sync_to_async(create_session)(alice)
    alice.is_active = False
    await sync_to_async(alice.save)()
    _communicator, _connected, code = await connect_as(None, session_key=session_key)
    assert code == 4401
    # Django's session auth already turns an inactive account into no user.
    assert any("websocket refused: not signed in (" in m for m in _refusals(caplog))


async def test_rate_limited_socket_is_logged_with_its_reason(chat_users, settings, caplog):
    caplog.set_level(logging.INFO, logger="securemsg.chat")
    settings.SECUREMSG_MAX_SESSIONS_PER_USER = 1
    alice = chat_users["alice"]
    first, _connected, code = await connect_as(alice)
    assert code is None
    _second, _connected, code = await connect_as(alice)
    assert code == 4429
    assert any("4429 (too many open sessions)" in m for m in _refusals(caplog))
    await first.disconnect()


@pytest.mark.usefixtures("one_rate_window")
async def test_handshake_rate_limit_is_logged_with_its_reason(chat_users, vault, settings, caplog):
    caplog.set_level(logging.INFO, logger="securemsg.chat")
    settings.SECUREMSG_HANDSHAKES_PER_MINUTE_PER_IP = 1
    alice = chat_users["alice"]
    for expected in (None, 4429):
        communicator, _connected, _code = await connect_as(alice, client=("198.51.100.7", 1))
        client = ClientHandshake(parse_key_set(vault), active_pins(vault), user="alice")
        await communicator.send_to(text_data=encode_json(client.client_hello()))
        if expected is None:
            await communicator.receive_from(timeout=10)  # server_hello
        else:
            assert await close_code(communicator) == expected
        await communicator.disconnect()
    assert any("4429 (handshake rate limit)" in m for m in _refusals(caplog))


async def test_example_consumer_test_that_touches_the_database(chat_users, secure):
    """The example of docs/testing.md: committed rows, seen by the consumer and by the test."""
    alice = await secure(chat_users["alice"])  # connect_as + handshake
    bob = await secure(chat_users["bob"])
    await alice.send(send_request("r-1", "bob", "hello"))
    ack = await alice.receive_until("ack")
    # The consumer committed the row in its own thread; the test sees it.
    stored = await sync_to_async(Message.objects.get)(mid=ack["mid"])
    assert b"hello" not in bytes(stored.ciphertext)  # encrypted at rest
    assert (await bob.receive_until("msg"))["body"] == "hello"


async def test_flooded_recipient_loses_no_stored_message_and_drops_are_counted(
    chat_users, secure, settings, redis_server
):
    """channels-redis at capacity 1 and expiry 1 s drops ids; the database redelivers them."""
    from channels.layers import get_channel_layer

    from securemsg.chat import delivery
    from securemsg.chat.consumer import user_group

    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_server.url], "capacity": 1, "expiry": 1},
        }
    }
    settings.SECUREMSG_REDELIVERY_SECONDS = 0.5
    settings.SECUREMSG_MESSAGES_PER_MINUTE = 0
    before = delivery.delivery_counters()
    alice = await secure(chat_users["alice"])
    bob = await secure(chat_users["bob"])
    layer = get_channel_layer()
    total = 30
    for i in range(total):
        await bob.send(send_request(f"flood-{i}", "alice", f"message {i}"))
        # Someone else floods alice's channel too, so it is full when the ids arrive.
        for _ in range(3):
            await layer.group_send(
                user_group(chat_users["alice"].pk), {"type": "chat.deliver", "mid": "0" * 32}
            )
    acks = {(await bob.receive_until("ack"))["mid"] for _ in range(total)}
    received: set[str] = set()
    while received != acks:
        message = await alice.receive_until("msg", timeout=10)
        received.add(message["mid"])
    assert len(received) == total
    after = delivery.delivery_counters()
    assert after.over_capacity > before.over_capacity
    assert after.redelivered > before.redelivered
