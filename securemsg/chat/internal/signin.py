"""When the sign-in session behind a WebSocket ends (protocol.md, "Close codes", 4401).

Sign-out, password change and deactivation close sockets through signals
(securemsg.chat.signals); expiry has no event, so the consumer asks this
module when the session ends and checks again at that moment (activity may
have extended it meanwhile). One query per check, not per second.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY

from accounts.session_store import stored_key


def _cookie_key(session_key: str) -> str:
    return session_key


#: Session engines that keep the expiry date in the ``django_session`` table,
#: each with how it turns the cookie's key into the row's ``session_key``.
_DATABASE_ENGINES: dict[str, Callable[[str], str]] = {
    "accounts.session_store": stored_key,
    "django.contrib.sessions.backends.db": _cookie_key,
    "django.contrib.sessions.backends.cached_db": _cookie_key,
}


def session_deadline(session_key: str | None) -> datetime | None:
    """Return when the signed-in session ``session_key`` expires; None if it already ended."""
    if not session_key:
        return None
    row_key = _DATABASE_ENGINES.get(settings.SESSION_ENGINE)
    if row_key is not None:
        from django.contrib.sessions.models import Session
        from django.utils import timezone

        row = Session.objects.filter(session_key=row_key(session_key)).values_list(
            "expire_date", "session_data"
        )
        found = row.first()
        if found is None or found[0] <= timezone.now():
            return None
        # Decode the row already read (signed data) instead of loading it again.
        data = import_module(settings.SESSION_ENGINE).SessionStore().decode(found[1])
        return found[0] if data.get(SESSION_KEY) is not None else None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    if store.get(SESSION_KEY) is None:
        return None
    deadline: datetime = store.get_expiry_date()
    return deadline


def loaded_session_deadline(session: Any) -> datetime | None:
    """Like :func:`session_deadline`, for the session store the connection already loaded.

    The sign-in check at connect (Channels' ``get_user``) has just read the
    row; :class:`accounts.session_store.SessionStore` keeps its
    ``expire_date`` (``loaded_expiry``), so the common case needs no second
    query and no second signature check. Any other store, or one whose load
    found no live row, is looked up by key as before.
    """
    expiry = getattr(session, "loaded_expiry", None)
    if isinstance(expiry, datetime):
        return expiry if session.get(SESSION_KEY) is not None else None
    return session_deadline(session.session_key)
