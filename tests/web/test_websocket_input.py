"""JSON bombs and slow clients on the WebSocket: a quick 4400 or 4408, bounded memory.

Bombs inside a handshake frame and inside a record's plaintext (deep
nesting, a huge array in a required field, a number of 50,000 digits) are
refused with 4400 within a second, and handling one allocates at most a
few MB (tracemalloc, in process: the communicator runs the real ASGI
stack in this process). Slow-loris: a socket that opens and then sends
nothing, or sends client_hello and never finishes, is closed with 4408
when the handshake timeout passes.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest

from securemsg.protocol import ClientHandshake, decode_frame, encode_json, parse_key_set
from tests.support.ws import active_pins, connect_as

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

MAX_BOMB_BYTES = 8 * 1024 * 1024  # peak allocation while one bomb is handled
DEEP = "[" * 30_000 + "]" * 30_000
HELLO_BOMBS = {
    "deep-nesting": '{"type":"client_hello","v":1,"x":' + DEEP[:60_000] + "}",
    "huge-array": '{"type":"client_hello","v":1,"suite":[' + "0," * 32_000 + "0]}",
    "huge-number": '{"type":"client_hello","v":' + "9" * 50_000 + "}",
    "wide-object": "{" + ",".join(f'"k{i}":0' for i in range(6_000)) + "}",
    "over-limit": '{"type":"client_hello","pad":"' + "A" * 70_000 + '"}',
}
RECORD_BOMBS = {
    "deep-nesting": '{"t":"send","id":"b1","to":"bob","body":' + "[" * 15_000 + "]" * 15_000 + "}",
    "huge-array-body": '{"t":"send","id":"b2","to":"bob","body":[' + "0," * 15_000 + "0]}",
    "huge-number": '{"t":"history","with":"bob","limit":' + "9" * 30_000 + "}",
}


async def _expect_close(communicator: Any, timeout: float) -> int:
    for _ in range(20):
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return int(output["code"])
    raise AssertionError("no close")


@pytest.mark.parametrize("name", sorted(HELLO_BOMBS))
async def test_handshake_frame_bombs_close_4400_quickly(
    chat_users: dict[str, Any], name: str
) -> None:
    communicator, connected, code = await connect_as(chat_users["alice"])
    assert connected and code is None
    tracemalloc.start()
    try:
        started = time.monotonic()
        await communicator.send_to(text_data=HELLO_BOMBS[name])
        assert await _expect_close(communicator, timeout=2) == 4400
        elapsed = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, elapsed
    assert peak < MAX_BOMB_BYTES, peak


@pytest.mark.parametrize("name", sorted(RECORD_BOMBS))
async def test_record_plaintext_bombs_close_4400_quickly(
    chat_users: dict[str, Any], secure: Any, name: str
) -> None:
    alice = await secure(chat_users["alice"])
    # Seal the bomb as the client would (the session seals bytes, not objects).
    plaintext = RECORD_BOMBS[name].encode()
    assert len(plaintext) <= 32_768
    frame = alice.session._seal_plaintext(plaintext)
    tracemalloc.start()
    try:
        started = time.monotonic()
        await alice.communicator.send_to(text_data=encode_json(frame))
        assert await alice.expect_close(timeout=2) == 4400
        elapsed = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, elapsed
    assert peak < MAX_BOMB_BYTES, peak


async def test_unknown_huge_field_in_a_record_is_ignored_within_the_limit(
    chat_users: dict[str, Any], secure: Any
) -> None:
    # protocol.md: unknown fields are ignored; the 32,768-byte record limit
    # bounds what such a field can cost.
    alice = await secure(chat_users["alice"])
    padded = '{"t":"ping","id":"p","pad":[' + "0," * 15_000 + "0]}"
    await alice.communicator.send_to(
        text_data=encode_json(alice.session._seal_plaintext(padded.encode()))
    )
    assert (await alice.receive_until("pong"))["id"] == "p"


async def test_idle_socket_without_hello_is_closed_4408(
    chat_users: dict[str, Any], settings: Any
) -> None:
    settings.SECUREMSG_HANDSHAKE_TIMEOUT = 1
    sockets = [await connect_as(chat_users["alice"]) for _ in range(3)]
    started = time.monotonic()
    for communicator, connected, code in sockets:
        assert connected and code is None
        assert await _expect_close(communicator, timeout=5) == 4408
    assert time.monotonic() - started < 4


async def test_hello_without_finished_is_closed_4408(
    chat_users: dict[str, Any], vault: dict[str, Any], settings: Any
) -> None:
    settings.SECUREMSG_HANDSHAKE_TIMEOUT = 1.5
    communicator, connected, code = await connect_as(chat_users["alice"])
    assert connected and code is None
    client = ClientHandshake(parse_key_set(vault), active_pins(vault), user="alice")
    await communicator.send_to(text_data=encode_json(client.client_hello()))
    decode_frame(await communicator.receive_from(timeout=10))
    # Trickle harmless nothing: the client stays silent after server_hello.
    assert await _expect_close(communicator, timeout=5) == 4408
