"""ASGI entry point served by Daphne.

HTTP goes to Django (static files included, so one command serves the whole
app in development); WebSocket connections go to the securemsg/1 consumer.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "securemsg.settings")

from django.core.exceptions import ImproperlyConfigured

try:
    from channels.routing import ProtocolTypeRouter
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.core.asgi import get_asgi_application

    _django_app = get_asgi_application()

    from securemsg.chat.routing import websocket_application
except ImproperlyConfigured as exc:
    # One clear line instead of a traceback from deep inside Django.
    print(f"securemsg: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None

application = ProtocolTypeRouter(
    {"http": ASGIStaticFilesHandler(_django_app), "websocket": websocket_application()}
)
