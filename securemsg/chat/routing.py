"""WebSocket routes, wrapped so that refusals are close codes a client can read."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from django.urls import path

from securemsg.chat.auth import auth_middleware_stack
from securemsg.chat.consumer import SecureChannelConsumer
from securemsg.chat.guard import OriginGuard, SignedInGuard

websocket_urlpatterns = [
    path("ws/securemsg/", SecureChannelConsumer.as_asgi()),
]


def websocket_application() -> Any:
    """Origin check first, then the Django session, then the sign-in check."""
    return OriginGuard(auth_middleware_stack(SignedInGuard(URLRouter(websocket_urlpatterns))))
