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


def _load_audit_key() -> None:
    """Unwrap the audit key now and keep it (clarifications, "Audit").

    A process that holds the key can still record a later key-vault failure.
    If the vault is down at start the server still starts: readiness turns
    red and every audited action is refused until the vault answers.
    """
    import asyncio
    import logging

    from django.db import DatabaseError

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # the normal case: Daphne imports this module before its loop runs
    else:
        return  # imported from async code (tests): the first event loads the key

    from securemsg.audit import sink_health

    try:
        health = sink_health()
    except DatabaseError:
        # Not migrated yet, or the database is down: readiness will say so.
        logging.getLogger("securemsg.audit").exception("audit sinks unreadable at start")
        return
    if not health.ok:
        logging.getLogger("securemsg.audit").error(
            "audit sinks not ready at start: database=%s file=%s",
            health.database.detail,
            health.file.detail,
        )


_load_audit_key()

application = ProtocolTypeRouter(
    {"http": ASGIStaticFilesHandler(_django_app), "websocket": websocket_application()}
)
