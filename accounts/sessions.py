"""Ending every sign-in session of a user ("log out everywhere"), audited.

Django keeps no index from a user to their sessions: the user id is inside
each session's signed data. The sessions of one user are found by decoding
the unexpired rows of the session table, which is fine for an administrator's
action (one pass, no write except the deletions). The rows are keyed by a
hash of each cookie's key (``accounts.session_store``), so they are deleted
by that stored value: hashing it again would match nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from accounts.signals import sessions_ended
from securemsg.audit import record

__all__ = ["log_out_everywhere", "session_keys_of"]

#: Rows decoded per database round trip while looking for a user's sessions.
_SCAN_CHUNK = 2000
#: Rows deleted per query (SQLite caps the parameters of one statement).
_DELETE_CHUNK = 500
#: Why the user's WebSockets close (audit log, protocol close reason 4401).
REASON = "logged_out_everywhere"


def session_keys_of(user_id: int) -> list[str]:
    """The stored keys (``django_session.session_key``) of the live sessions of ``user_id``.

    These are the hashes the table holds, not cookie values: pass them to
    ``Session.objects``, never to a ``SessionStore``.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    rows = Session.objects.filter(expire_date__gt=timezone.now()).values_list(
        "session_key", "session_data"
    )
    wanted = str(user_id)
    return [
        key
        for key, data in rows.iterator(chunk_size=_SCAN_CHUNK)
        if str(store.decode(data).get(SESSION_KEY)) == wanted
    ]


def log_out_everywhere(
    user: Any, *, actor: Any = None, request: Any = None, via: str = "admin"
) -> int:
    """End every sign-in session of ``user`` and close their WebSockets; return how many.

    The deletions and the ``auth.logged_out_everywhere`` audit event commit
    together (fail closed: ``AuditUnavailable`` leaves every session alive).
    After the commit, ``accounts.signals.sessions_ended`` closes the user's
    secure channels on every server process with 4401.
    """
    with transaction.atomic():
        keys = session_keys_of(user.pk)
        for start in range(0, len(keys), _DELETE_CHUNK):
            Session.objects.filter(session_key__in=keys[start : start + _DELETE_CHUNK]).delete()
        record(
            "auth.logged_out_everywhere",
            actor=actor,
            request=request,
            target_type="user",
            target_id=str(user.pk),
            details={"sessions": len(keys), "via": via},
        )
        user_id = user.pk
        transaction.on_commit(
            lambda: sessions_ended.send(sender=type(user), user_id=user_id, reason=REASON)
        )
    return len(keys)
