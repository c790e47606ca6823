"""Fuzz the live consumer through the real ASGI stack (origin guard, auth, consumer).

Each connection is brought to a state (fresh, waiting for client_finished,
established) and then given random bad frames from the fuzz driver's
mutators. The server must close with a documented close code, never 1011
or an unhandled exception (the consumer logs "unexpected error" for those
and closes 4500, which is not acceptable for client input either). After
all of that a fresh client is served: handshake, send, ack.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

import keyvault
from securemsg.protocol import (
    ClientHandshake,
    decode_frame,
    encode_json,
    parse_key_set,
    send_request,
)
from tests.fuzz.driver import fuzz_keys, garbage, mutate
from tests.support.ws import SecureSocket, active_pins, connect_as

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]

#: Close codes a client may cause with its own frames (protocol.md, "Close codes").
CLIENT_FAULT_CODES = {4400, 4409, 4410, 4412, 4426}
CONNECTIONS = 24  # per run; every one is a separate socket and (mostly) a real handshake
SEED = 9


async def _close_code(communicator: WebsocketCommunicator, timeout: float = 1.5) -> int | None:
    """Drain output until the server closes; None if it stays open for ``timeout``."""
    for _ in range(50):
        if await communicator.receive_nothing(timeout=timeout):
            return None
        output = await communicator.receive_output(timeout=1)
        if output["type"] == "websocket.close":
            return int(output.get("code", 1000))
    raise AssertionError("the server kept sending")


async def _open_in_state(user: Any, document: dict[str, Any], state: str) -> tuple[Any, Any]:
    communicator, connected, code = await connect_as(user)
    assert connected and code is None, code
    client = ClientHandshake(
        parse_key_set(document), active_pins(document), user=user.username,
        client_key=fuzz_keys().client,
    )  # fmt: skip
    hello = client.client_hello()
    if state == "fresh":
        return communicator, hello
    await communicator.send_to(text_data=encode_json(hello))
    server_hello = decode_frame(await communicator.receive_from(timeout=10))
    finished = client.receive_server_hello(server_hello)
    if state == "wait_finished":
        return communicator, finished
    await communicator.send_to(text_data=encode_json(finished))
    session = client.receive_ready(await communicator.receive_from(timeout=10))
    (record,) = session.seal(send_request("fz-1", "bob", "fuzz"))
    return communicator, record


async def test_bad_frames_in_every_state_close_with_a_documented_code(
    chat_users: dict[str, Any], vault: dict[str, Any], settings: Any, caplog: Any
) -> None:
    settings.SECUREMSG_HANDSHAKES_PER_MINUTE = 0
    settings.SECUREMSG_HANDSHAKES_PER_MINUTE_PER_IP = 0
    caplog.set_level(logging.INFO)
    rng = random.Random(SEED)
    codes: dict[str, list[int]] = {"fresh": [], "wait_finished": [], "established": []}
    for index in range(CONNECTIONS):
        state = list(codes)[index % 3]
        communicator, template = await _open_in_state(chat_users["alice"], vault, state)
        wire = mutate(template, rng) if rng.random() < 0.8 else garbage(rng)
        if isinstance(wire, bytes):
            await communicator.send_to(bytes_data=wire)
        else:
            await communicator.send_to(text_data=wire)
        code = await _close_code(communicator)
        if code is None:
            # The mutation kept the meaning (key order, an unknown field, a
            # nonce the server cannot check): the socket goes on; end it with
            # an unmistakable bad frame.
            await communicator.send_to(text_data="not json")
            code = await _close_code(communicator, timeout=5)
        assert code in CLIENT_FAULT_CODES, (state, wire[:200], code)
        codes[state].append(code)
        await communicator.disconnect()
    assert all(codes.values()), codes
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
    ]

    # A fresh client is served normally afterwards.
    communicator, connected, code = await connect_as(chat_users["alice"])
    assert connected and code is None
    document = await sync_to_async(keyvault.keys_document)()
    client = ClientHandshake(
        parse_key_set(document), active_pins(document), user="alice", client_key=fuzz_keys().client
    )
    await communicator.send_to(text_data=encode_json(client.client_hello()))
    server_hello = decode_frame(await communicator.receive_from(timeout=10))
    finished = client.receive_server_hello(server_hello)
    await communicator.send_to(text_data=encode_json(finished))
    socket = SecureSocket(
        communicator, client.receive_ready(await communicator.receive_from(timeout=10)), "alice"
    )
    await socket.send(send_request("after-fuzz", "bob", "still here"))
    ack = await socket.receive_until("ack")
    assert ack["id"] == "after-fuzz"
    await socket.close()
