"""When the sign-in session behind a WebSocket ends (protocol.md, "Close codes", 4401).

Sign-out, password change and deactivation close sockets through signals
(securemsg.chat.signals); expiry has no event, so the consumer asks this
module when the session ends and checks again at that moment (activity may
have extended it meanwhile). One query per check, not per second.
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY

#: Session engines that keep the expiry date in the ``django_session`` table.
_DATABASE_ENGINES = frozenset(
    {"django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"}
)


def session_deadline(session_key: str | None) -> datetime | None:
    """Return when the signed-in session ``session_key`` expires; None if it already ended."""
    if not session_key:
        return None
    if settings.SESSION_ENGINE in _DATABASE_ENGINES:
        from django.contrib.sessions.models import Session
        from django.utils import timezone

        row = Session.objects.filter(session_key=session_key).values_list(
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
