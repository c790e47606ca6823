"""Sign a browser context in without typing a password (like ``Client.force_login``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from tests.support.ws import create_session


def force_login(context: Any, user: Any, base_url: str) -> str:
    """Give ``context`` a real Django session cookie for ``user``; return the session key."""
    key = create_session(user)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": key,
                "url": base_url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    return key
