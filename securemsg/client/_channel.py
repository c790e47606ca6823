"""The handshake and record exchange over any message transport (a WebSocket)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol

from ..protocol import (
    ClientHandshake,
    KeySet,
    ProtocolError,
    Session,
    StaleKeyError,
    UntrustedSigningKeyError,
    decode_frame,
    delivered_notice,
    encode_json,
    parse_server_message,
    send_request,
)
from ._errors import PinRefusedError
from ._pins import refusal_message


class Transport(Protocol):
    """What the channel needs from a connection (websockets' ClientConnection fits)."""

    async def send(self, message: str) -> None:
        """Send one text frame."""

    async def recv(self) -> str | bytes:
        """Receive one frame; raise when the connection closed."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with a code."""


class SecureChannel:
    """An established session over a transport: send and receive app messages."""

    def __init__(self, transport: Transport, session: Session, user: str) -> None:
        self.transport = transport
        self.session = session
        self.user = user

    async def send_message(self, message: dict[str, Any]) -> None:
        """Seal and send one application message (plus a key update when due)."""
        for frame in self.session.seal(message):
            await self.transport.send(encode_json(frame))

    async def receive(self) -> dict[str, Any]:
        """Receive the next application message (key updates are handled inside).

        On a protocol fault the connection is closed with the fault's code and
        the ProtocolError propagates.
        """
        while True:
            frame = await self.transport.recv()
            try:
                message = self.session.open(frame)
                if message is None:
                    continue
                if parse_server_message(message) is None:
                    continue  # an unknown t from a newer server
            except ProtocolError as exc:
                await self.transport.close(exc.close_code, exc.reason)
                raise
            return message

    async def send_text(self, to: str, body: str) -> dict[str, Any]:
        """Send ``body`` to ``to`` and wait for its ack (or error); other messages are kept."""
        request_id = str(uuid.uuid4())
        await self.send_message(send_request(request_id, to, body))
        while True:
            message = await self.receive()
            if message.get("t") in ("ack", "error") and message.get("id") == request_id:
                return message

    async def confirm(self, message: dict[str, Any]) -> None:
        """Send ``delivered`` for a ``msg`` addressed to this user."""
        if message.get("t") == "msg" and message.get("to") == self.user:
            await self.send_message(delivered_notice(message["mid"]))


async def handshake(
    transport: Transport,
    key_set: KeySet,
    pins: list[str],
    *,
    user: str,
    origin: str = "",
    make_client: Callable[..., ClientHandshake] = ClientHandshake,
) -> SecureChannel:
    """Run the securemsg/1 handshake on ``transport`` and return the channel.

    Raises StaleKeyError when the server's sig_kid is unknown (the caller
    re-fetches keys.json once and retries), PinRefusedError when the signing
    key does not chain to ``pins``, and ProtocolError for other faults; it
    closes the transport with the matching code first.
    """
    client = make_client(key_set, pins, user=user)
    await transport.send(encode_json(client.client_hello()))
    try:
        finished = client.receive_server_hello(decode_frame(await transport.recv()))
        await transport.send(encode_json(finished))
        session = client.receive_ready(await transport.recv())
    except UntrustedSigningKeyError as exc:
        await transport.close(exc.close_code, exc.reason)
        if exc.unknown:
            raise StaleKeyError(f"unknown sig_kid {exc.kid!r}") from exc
        trusted = key_set.find(exc.kid, "sig")
        fingerprint = trusted.fingerprint if trusted else "?"
        raise PinRefusedError(refusal_message(origin, exc.kid, fingerprint, pins)) from exc
    except ProtocolError as exc:
        await transport.close(exc.close_code, exc.reason)
        raise
    return SecureChannel(transport, session, user)
