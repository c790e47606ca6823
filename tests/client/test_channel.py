"""The client's handshake driver against the core's ServerHandshake, in process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from securemsg.client import PinRefusedError, handshake
from securemsg.protocol import (
    AuthenticationFailedError,
    ClientHandshake,
    KeySet,
    SendRequest,
    ServerHandshake,
    Session,
    StaleKeyError,
    ack_message,
    chat_message,
    decode_frame,
    encode_json,
    parse_client_request,
    published_key,
)

from .conftest import MemoryKeyring


class Loopback:
    """A transport whose far end is the protocol core's server, run in process."""

    def __init__(
        self,
        server: ServerHandshake,
        tamper: Callable[[dict[str, Any]], dict[str, Any]] = lambda f: f,
    ):
        self.server = server
        self.tamper = tamper
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.session: Session | None = None
        self.closed: int | None = None
        self.received: list[dict[str, Any]] = []

    async def send(self, message: str) -> None:
        frame = decode_frame(message)
        if frame["type"] == "client_hello":
            await self.inbox.put(
                encode_json(self.tamper(self.server.receive_client_hello(message)))
            )
        elif frame["type"] == "client_finished":
            self.session, ready = self.server.receive_client_finished(message)
            await self.inbox.put(encode_json(ready))
        else:
            assert self.session is not None
            request = self.session.open(message)
            assert request is not None
            self.received.append(request)
            parsed = parse_client_request(request)
            if isinstance(parsed, SendRequest):
                # An unrelated delivery first: send_text must skip it and wait for its ack.
                delivery = chat_message(mid="m0", sender="bob", to="alice", body="x", ts="t")
                ack = ack_message(parsed.id, "m1", "2025-01-01T00:00:00Z")
                for f in self.session.seal(delivery) + self.session.seal(ack):
                    await self.inbox.put(encode_json(f))

    async def recv(self) -> str:
        return await self.inbox.get()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = code


def _fast_client(keys) -> Callable[..., ClientHandshake]:
    def make(key_set: KeySet, pins, **kw: Any) -> ClientHandshake:
        return ClientHandshake(key_set, pins, client_key=keys.client, **kw)

    return make


def _server(keys, kid: str = "sig-1", signer=None) -> ServerHandshake:
    return ServerHandshake(MemoryKeyring(kid, signer or keys.sig, {"enc-1": keys.enc}), "alice")


def test_handshake_and_send(keys, key_set, pin) -> None:
    async def scenario() -> None:
        transport = Loopback(_server(keys))
        channel = await handshake(
            transport, key_set, [pin], user="alice", make_client=_fast_client(keys)
        )
        answer = await channel.send_text("bob", "hello")
        assert answer["t"] == "ack" and answer["mid"] == "m1"
        assert transport.received[0]["body"] == "hello"

    asyncio.run(scenario())


def test_unknown_sig_kid_asks_for_a_refetch(keys, key_set, pin) -> None:
    async def scenario() -> None:
        transport = Loopback(_server(keys, kid="sig-new"))
        with pytest.raises(StaleKeyError):
            await handshake(transport, key_set, [pin], user="alice", make_client=_fast_client(keys))
        assert transport.closed == 4410

    asyncio.run(scenario())


def test_unendorsed_signing_key_is_pin_refusal(keys, key_set, pin) -> None:
    attacker = KeySet(
        keys=(
            *key_set.keys,
            published_key(kid="sig-x", use="sig", public_key=keys.other.public_key()),
        ),
        endorsements=(),
    )

    async def scenario() -> None:
        transport = Loopback(_server(keys, kid="sig-x", signer=keys.other))
        with pytest.raises(PinRefusedError):
            await handshake(
                transport, attacker, [pin], user="alice", make_client=_fast_client(keys)
            )
        assert transport.closed == 4410

    asyncio.run(scenario())


def test_tampered_server_hello_closes_with_4410(keys, key_set, pin) -> None:
    def tamper(frame: dict[str, Any]) -> dict[str, Any]:
        return dict(frame, user="mallory")

    async def scenario() -> None:
        transport = Loopback(_server(keys), tamper)
        with pytest.raises(AuthenticationFailedError):
            await handshake(transport, key_set, [pin], user="alice", make_client=_fast_client(keys))
        assert transport.closed == 4410

    asyncio.run(scenario())
