"""A minimum usable encryption version seen from the WebSocket: 4412, then a re-fetch recovers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

import keyvault
from securemsg.protocol import ClientHandshake, encode_json, parse_key_set
from tests.support.ws import active_pins, connect_as, handshake

pytestmark = pytest.mark.asyncio

KEYS_JSON = "/.well-known/securemsg/keys.json"


def _fetch_keys_json() -> dict[str, Any]:
    response = Client().get(KEYS_JSON)
    assert response.status_code == 200
    return dict(json.loads(response.content))


async def _close_code(communicator: Any, timeout: float = 5.0) -> int:
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return int(output["code"])


async def test_client_pinned_below_the_minimum_gets_4412_and_a_refetch_recovers(chat_users, vault):
    alice = chat_users["alice"]
    stale = await sync_to_async(_fetch_keys_json)()
    stale_enc = next(k["kid"] for k in stale["keys"] if k["use"] == "enc")
    report = await sync_to_async(keyvault.set_minimum_key_version)("encryption", 2)
    assert report.unusable == (stale_enc,) and report.replacement

    # A client still holding the old keys.json wraps to the key below the minimum.
    communicator, connected, code = await connect_as(alice)
    assert connected and code is None
    client = ClientHandshake(parse_key_set(stale), active_pins(stale), user="alice")
    await communicator.send_to(text_data=encode_json(client.client_hello()))
    assert await _close_code(communicator) == 4412
    await communicator.disconnect()

    # The documented recovery: re-fetch keys.json, handshake again.
    fresh = await sync_to_async(_fetch_keys_json)()
    assert [k["kid"] for k in fresh["keys"] if k["use"] == "enc"] == [report.replacement]
    communicator, connected, code = await connect_as(alice)
    assert connected and code is None
    socket = await handshake(communicator, fresh, username="alice")
    await socket.send({"t": "ping", "id": "p1"})
    assert (await socket.receive_until("pong"))["id"] == "p1"
    await socket.close()
