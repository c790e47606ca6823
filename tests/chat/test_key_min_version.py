"""A minimum usable encryption version seen from the WebSocket: 4412, then a re-fetch recovers."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

import keyvault
from securemsg.protocol import ClientHandshake, encode_json, parse_key_set
from tests.support.ws import (
    active_pins,
    close_code,
    connect_as,
    fetch_keys_json,
    handshake,
)

pytestmark = pytest.mark.asyncio


async def test_client_pinned_below_the_minimum_gets_4412_and_a_refetch_recovers(chat_users, vault):
    alice = chat_users["alice"]
    stale = await sync_to_async(fetch_keys_json)()
    stale_enc = next(k["kid"] for k in stale["keys"] if k["use"] == "enc")
    report = await sync_to_async(keyvault.set_minimum_key_version)("encryption", 2)
    assert report.unusable == (stale_enc,) and report.replacement

    # A client still holding the old keys.json wraps to the key below the minimum.
    communicator, connected, code = await connect_as(alice)
    assert connected and code is None
    client = ClientHandshake(parse_key_set(stale), active_pins(stale), user="alice")
    await communicator.send_to(text_data=encode_json(client.client_hello()))
    assert await close_code(communicator) == 4412
    await communicator.disconnect()

    # The documented recovery: re-fetch keys.json, handshake again.
    fresh = await sync_to_async(fetch_keys_json)()
    assert [k["kid"] for k in fresh["keys"] if k["use"] == "enc"] == [report.replacement]
    communicator, connected, code = await connect_as(alice)
    assert connected and code is None
    socket = await handshake(communicator, fresh, username="alice")
    await socket.send({"t": "ping", "id": "p1"})
    assert (await socket.receive_until("pong"))["id"] == "p1"
    await socket.close()
