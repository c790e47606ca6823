"""The handshake and record exchange over any message transport (a WebSocket)."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from ..protocol import (
    ClientHandshake,
    CloseCode,
    KeySet,
    ProtocolError,
    Session,
    StaleKeyError,
    UntrustedSigningKeyError,
    decode_frame,
    delivered_notice,
    encode_json,
    parse_server_message,
    ping_request,
    send_request,
)
from ._errors import ClientError, PinRefusedError
from ._pins import refusal_message

# The server closes an unfinished handshake after 10..12 s (4408); a client
# that heard nothing by then gives up on its own rather than hang.
HANDSHAKE_TIMEOUT_SECONDS = 20.0
# How long send_text waits for the ack of a committed message.
ACK_TIMEOUT_SECONDS = 30.0


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

    def __init__(
        self,
        transport: Transport,
        session: Session,
        user: str,
        *,
        sig_kid: str = "",
        sig_fingerprint: str = "",
    ) -> None:
        self.transport = transport
        self.session = session
        self.user = user
        #: The kid of the signing key that authenticated this session's handshake.
        self.sig_kid = sig_kid
        #: Its fingerprint (it chains to the pins; the CLI adds it to the pin store).
        self.sig_fingerprint = sig_fingerprint
        # Messages that arrived while send_text waited for its ack; receive()
        # returns them first, in order, so none is lost.
        self._inbox: deque[dict[str, Any]] = deque()

    async def send_message(self, message: dict[str, Any]) -> None:
        """Seal and send one application message (plus a key update when due)."""
        for frame in self.session.seal(message):
            await self.transport.send(encode_json(frame))

    async def receive(self) -> dict[str, Any]:
        """Receive the next application message (key updates are handled inside).

        On a protocol fault the connection is closed with the fault's code and
        the ProtocolError propagates.
        """
        if self._inbox:
            return self._inbox.popleft()
        return await self._receive_frame()

    async def _receive_frame(self) -> dict[str, Any]:
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

    async def send_text_nowait(self, to: str, body: str, *, request_id: str) -> None:
        """Send ``body`` to ``to`` without waiting; its ack arrives through receive()."""
        await self.send_message(send_request(request_id, to, body))

    async def send_text(
        self,
        to: str,
        body: str,
        *,
        request_id: str | None = None,
        timeout: float = ACK_TIMEOUT_SECONDS,
    ) -> dict[str, Any]:
        """Send ``body`` to ``to`` and wait for its ack (or error).

        ``request_id`` defaults to a fresh UUID; sending again with the same
        id is an idempotent resend (the server answers with the original
        ack). Other messages that arrive meanwhile are kept for receive().
        Raises ClientError when no answer comes within ``timeout`` seconds.
        """
        request_id = request_id or str(uuid.uuid4())
        await self.send_message(send_request(request_id, to, body))
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await self._receive_frame()
                    if message.get("t") in ("ack", "error") and message.get("id") == request_id:
                        return message
                    self._inbox.append(message)
        except TimeoutError:
            raise ClientError(f"no answer to send {request_id} within {timeout:g} s") from None

    async def flush(self, timeout: float = ACK_TIMEOUT_SECONDS) -> None:
        """Round-trip a ``ping``: the server handles records in order, so once its
        ``pong`` arrives every record sent before (e.g. ``delivered``) is handled.

        Messages that arrive meanwhile are kept for receive().
        """
        request_id = f"flush-{uuid.uuid4()}"
        await self.send_message(ping_request(request_id))
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await self._receive_frame()
                    if message.get("t") == "pong" and message.get("id") == request_id:
                        return
                    self._inbox.append(message)
        except TimeoutError:
            raise ClientError(f"no answer to ping within {timeout:g} s") from None

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
    try:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT_SECONDS):
            await transport.send(encode_json(client.client_hello()))
            finished = client.receive_server_hello(decode_frame(await transport.recv()))
            await transport.send(encode_json(finished))
            session = client.receive_ready(await transport.recv())
    except TimeoutError:
        await transport.close(CloseCode.TIMEOUT, "handshake timeout")
        raise ClientError(
            f"the handshake did not finish within {HANDSHAKE_TIMEOUT_SECONDS:g} s"
        ) from None
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
    hello = client.server_hello
    sig_kid = hello.sig_kid if hello is not None else ""
    signer = key_set.find(sig_kid, "sig")
    return SecureChannel(
        transport,
        session,
        user,
        sig_kid=sig_kid,
        sig_fingerprint=signer.fingerprint if signer is not None else "",
    )
