"""WebSocket test helpers: a signed-in socket in one call, and a secure session on it.

``connect_as(user)`` is the WebSocket twin of Django's ``Client.force_login``:
it creates a real Django session for the user (the same rows a browser
sign-in creates), sends its cookie with an allowed ``Origin``, and connects
through the project's real ASGI application (origin guard, auth
middleware, consumer). ``handshake`` then runs the protocol core's client
state machine, so tests exercise the same code as the Python client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase

from securemsg.protocol import ClientHandshake, Session, decode_frame, encode_json, parse_key_set

ORIGIN = "http://testserver"


def create_session(user: Any, *, expires_in: int | None = None) -> str:
    """Create a signed-in Django session for ``user`` and return its key (the cookie value).

    The session goes through the configured engine, so its row holds what a
    browser sign-in's row holds (``accounts.session_store``: the key's hash).
    ``expires_in`` (seconds) ends the session early (default: SESSION_COOKIE_AGE).
    """
    store: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if expires_in is not None:
        store.set_expiry(expires_in)
    store.create()
    assert store.session_key is not None
    return store.session_key


async def connect_as(
    user: Any | None,
    *,
    origin: str | None = ORIGIN,
    host: str = "testserver",
    session_key: str | None = None,
    client: tuple[str, int] = ("127.0.0.1", 50000),
) -> tuple[WebsocketCommunicator, bool, int | None]:
    """Open ``/ws/securemsg/`` as ``user`` (None: anonymous).

    Returns the communicator, whether the upgrade was accepted, and the
    close code if the server closed at once (None while the socket is open).
    """
    from securemsg.asgi import application

    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if user is not None and session_key is None:
        session_key = await sync_to_async(create_session)(user)
    if session_key is not None:
        cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, "/ws/securemsg/", headers=headers)
    communicator.scope["client"] = client
    connected, _subprotocol = await communicator.connect()
    code = None
    # receive_nothing waits without cancelling the application (a timed-out
    # receive_output would cancel it).
    if connected and not await communicator.receive_nothing(timeout=0.3):
        output = await communicator.receive_output(timeout=1)
        if output.get("type") == "websocket.close":
            code = output.get("code")
    return communicator, connected, code


@dataclass
class SecureSocket:
    """An established securemsg/1 session over a test communicator."""

    communicator: WebsocketCommunicator
    session: Session
    username: str
    inbox: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, message: dict[str, Any]) -> None:
        """Seal and send one application message."""
        for frame in self.session.seal(message):
            await self.communicator.send_to(text_data=encode_json(frame))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        """Receive and open the next application message (key updates are skipped)."""
        while True:
            text = await self.communicator.receive_from(timeout=timeout)
            message = self.session.open(text)
            if message is not None:
                return message

    async def receive_until(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """Receive messages, keeping others in ``inbox``, until one of type ``kind``."""
        while True:
            message = await self.receive(timeout)
            if message.get("t") == kind:
                return message
            self.inbox.append(message)

    async def expect_close(self, timeout: float = 5.0) -> int:
        """Wait for the server to close; return the close code."""
        return await close_code(self.communicator, timeout)

    async def close(self) -> None:
        """Disconnect from the client side."""
        await self.communicator.disconnect()


def active_pins(keys_document: dict[str, Any]) -> list[str]:
    """Fingerprints of the active signing keys of a keys.json document (pin them)."""
    return [
        key["fingerprint"]
        for key in keys_document["keys"]
        if key["use"] == "sig" and key["state"] == "active"
    ]


async def handshake(
    communicator: WebsocketCommunicator, keys_document: dict[str, Any], *, username: str
) -> SecureSocket:
    """Run the client handshake on ``communicator`` and return the secure session."""
    key_set = parse_key_set(keys_document)
    client = ClientHandshake(key_set, active_pins(keys_document), user=username)
    await communicator.send_to(text_data=encode_json(client.client_hello()))
    server_hello = decode_frame(await communicator.receive_from(timeout=10))
    await communicator.send_to(text_data=encode_json(client.receive_server_hello(server_hello)))
    session = client.receive_ready(await communicator.receive_from(timeout=10))
    return SecureSocket(communicator, session, username)


KEYS_JSON = "/.well-known/securemsg/keys.json"


def fetch_keys_json() -> dict[str, Any]:
    """keys.json as the server publishes it now (Django's test client; sync)."""
    import json

    from django.test import Client

    response = Client().get(KEYS_JSON)
    assert response.status_code == 200
    return dict(json.loads(response.content))


async def close_code(communicator: WebsocketCommunicator, timeout: float = 5.0) -> int:
    """Drain the socket's output until the server closes it; return the close code."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return int(output.get("code", 1000))


async def stale_hello_close_code(user: Any, keys_document: dict[str, Any]) -> int:
    """Sign ``user`` in, send a client_hello built from ``keys_document``; the close code.

    For a client still holding an old keys.json (a key since made unusable).
    """
    communicator, connected, code = await connect_as(user)
    assert connected and code is None
    client = ClientHandshake(
        parse_key_set(keys_document), active_pins(keys_document), user=user.get_username()
    )
    await communicator.send_to(text_data=encode_json(client.client_hello()))
    closed = await close_code(communicator)
    await communicator.disconnect()
    return closed


async def refetch_and_ping(user: Any) -> dict[str, Any]:
    """The documented recovery: re-fetch keys.json, handshake, one ping; return the keys.json."""
    fresh = await sync_to_async(fetch_keys_json)()
    communicator, connected, code = await connect_as(user)
    assert connected and code is None
    socket = await handshake(communicator, fresh, username=user.get_username())
    await socket.send({"t": "ping", "id": "p1"})
    assert (await socket.receive_until("pong"))["id"] == "p1"
    await socket.close()
    return fresh
