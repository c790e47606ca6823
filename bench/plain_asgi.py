"""Bench-only ASGI application: the project's app plus a plaintext ping/pong consumer.

Serves everything ``securemsg.asgi:application`` serves and, at
``/ws/plain/``, a JSON ping/pong consumer behind the same WebSocket stack
(origin guard, session middleware, sign-in guard, URL router, Channels'
``AsyncWebsocketConsumer``), so that bench/e2e_messages.py compares the
encrypted ping/pong with the same stack minus securemsg/1, in one process;
and at ``/ws/plain-lean/`` the same consumer dispatched as the securemsg/1
consumer dispatches (without Channels' per-frame connection clean-up).
``/ws/floor/`` and ``/ws/floor-rsa/`` are the handshake benchmark's floor:
the same two round trips as a securemsg/1 handshake on a bare Channels
consumer (no origin check, no session, no database, no protocol), the second
with one raw RSA-3072 OAEP-decrypt + PSS-sign pair on a thread pool sized as
the securemsg/1 consumer's.
Never routed in production: only the benchmark starts Daphne with
``bench.plain_asgi:application``.
"""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "securemsg.settings")

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

from bench.rsa_pair import RsaPair
from securemsg.asgi import application as _project
from securemsg.chat.auth import auth_middleware_stack
from securemsg.chat.guard import OriginGuard, SignedInGuard
from securemsg.chat.routing import websocket_urlpatterns


class PlainPingConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Answers ``{"t": "ping", "id": X}`` with ``{"t": "pong", "id": X}``, in clear."""

    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        message: dict[str, Any] = json.loads(text_data or "{}")
        if message.get("t") == "ping":
            await self.send(text_data=json.dumps({"t": "pong", "id": message.get("id")}))


class LeanPlainPingConsumer(PlainPingConsumer):
    """The same ping/pong, dispatched like ``SecureChannelConsumer`` (no per-frame clean-up hop).

    Channels' stock ``dispatch`` closes stale database connections on its
    sync thread before every handler, a thread trip per frame that the
    securemsg/1 consumer skips (it does no database work on that thread).
    Comparing against this consumer isolates what securemsg/1 itself costs.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


_FLOOR_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="floor-rsa")
_FLOOR_PAIR = RsaPair()
#: About the size of a securemsg/1 ``server_hello`` (keys, signature, base64).
_FLOOR_REPLY = json.dumps({"type": "server_hello", "pad": "A" * 1100})


class FloorConsumer(LeanPlainPingConsumer):
    """Two round trips shaped like a handshake and nothing else: the stack's own cost.

    The first frame is answered with a ``server_hello``-sized text, the second
    with ``ready``; the client then closes. Nothing is parsed or checked.
    """

    rsa_pair = False
    hello_seen = False

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.hello_seen:
            self.hello_seen = True
            if self.rsa_pair:
                await asyncio.get_running_loop().run_in_executor(_FLOOR_POOL, _FLOOR_PAIR.run)
            await self.send(text_data=_FLOOR_REPLY)
        else:
            await self.send(text_data='{"type":"ready"}')


class FloorRsaConsumer(FloorConsumer):
    """:class:`FloorConsumer` plus one raw RSA-3072 decrypt + sign pair on a thread pool."""

    rsa_pair = True


_SECURED = OriginGuard(
    auth_middleware_stack(
        SignedInGuard(
            URLRouter(
                [
                    *websocket_urlpatterns,
                    path("ws/plain/", PlainPingConsumer.as_asgi()),
                    path("ws/plain-lean/", LeanPlainPingConsumer.as_asgi()),
                ]
            )
        )
    )
)
_FLOOR = URLRouter(
    [
        path("ws/floor/", FloorConsumer.as_asgi()),
        path("ws/floor-rsa/", FloorRsaConsumer.as_asgi()),
    ]
)


async def _websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    # The floor skips the whole middleware stack: it measures what is left without it.
    app = _FLOOR if scope["path"].startswith("/ws/floor") else _SECURED
    await app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": _project.application_mapping["http"],
        "websocket": _websocket,
    }
)
