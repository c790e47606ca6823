"""The session engine: Django's database sessions, with only a hash of each key stored.

``SESSION_ENGINE = "accounts.session_store"``. The cookie carries the random
session key as before; the ``django_session.session_key`` column holds
:func:`stored_key` of it. Someone who reads the table (a backup, a replica,
an SQL injection elsewhere) gets hashes, and a hash put in a cookie is hashed
again and matches nothing, so it signs nobody in (docs/security.md,
"Database thief").

``self.session_key`` stays the cookie value everywhere in Django and
Channels (``session.ended`` notices carry its hash, never the key); only the
queries and the new rows of :class:`SessionStore` use the hash. Code outside
this module that looks a row up by key calls :func:`stored_key` too
(``securemsg.chat.internal.signin``). Rows written before this engine hold raw
keys; they no longer match, so their users sign in once more.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.sessions.backends import db
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone

if TYPE_CHECKING:  # the models cannot be imported before the app registry is ready
    from django.contrib.sessions.base_session import AbstractBaseSession

__all__ = ["SessionStore", "stored_key"]

#: Separates this use of BLAKE2b from any other hash of the same key
#: (BLAKE2b's personalisation string; at most 16 bytes).
_PERSON = b"securemsg-sessid"
#: 20 bytes give 40 hex characters: the width of Django's ``session_key`` column.
_DIGEST_SIZE = 20


def stored_key(session_key: str) -> str:
    """The ``django_session.session_key`` value of the cookie key ``session_key``.

    A plain hash, with no salt and no secret: the key is 32 characters drawn
    at random from 36 (about 165 bits), so there is nothing to guess and no
    table to precompute, and a lookup must find the row from the cookie alone.
    A secret (HMAC under ``SECRET_KEY``) would add nothing against a reader
    of the table and would end every session when the secret rotates.
    """
    if not isinstance(session_key, str):
        raise TypeError(f"session_key must be a str, not {type(session_key).__name__}")
    digest = hashlib.blake2b(session_key.encode(), digest_size=_DIGEST_SIZE, person=_PERSON)
    return digest.hexdigest()


def _live_row(session_key: str) -> dict[str, Any]:
    """The look-up of the unexpired row of the cookie key ``session_key``."""
    return {"session_key": stored_key(session_key), "expire_date__gt": timezone.now()}


class SessionStore(db.SessionStore):
    """Database sessions whose rows are keyed by :func:`stored_key` of the cookie key."""

    #: ``expire_date`` of the row the last load read; None before a load or
    #: when no live row matched. The WebSocket side takes the session's end
    #: from here instead of reading the row a second time.
    loaded_expiry: datetime | None = None

    def _get_session_from_db(self) -> AbstractBaseSession | None:
        if self.session_key is None:
            return None
        try:
            row = self.model.objects.get(**_live_row(self.session_key))
        except (self.model.DoesNotExist, SuspiciousOperation) as exc:
            self._forget_key(exc)
            return None
        self.loaded_expiry = row.expire_date
        return row

    async def _aget_session_from_db(self) -> AbstractBaseSession | None:
        if self.session_key is None:
            return None
        try:
            row = await self.model.objects.aget(**_live_row(self.session_key))
        except (self.model.DoesNotExist, SuspiciousOperation) as exc:
            self._forget_key(exc)
            return None
        self.loaded_expiry = row.expire_date
        return row

    def _forget_key(self, exc: Exception) -> None:
        # As Django's db engine does: log a tampered session, start a new one.
        if isinstance(exc, SuspiciousOperation):
            logging.getLogger(f"django.security.{exc.__class__.__name__}").warning(str(exc))
        self._session_key = None

    def exists(self, session_key: str) -> bool:
        """Whether a row exists for the cookie key ``session_key``."""
        return bool(self.model.objects.filter(session_key=stored_key(session_key)).exists())

    async def aexists(self, session_key: str) -> bool:
        """See :meth:`exists`."""
        return bool(await self.model.objects.filter(session_key=stored_key(session_key)).aexists())

    def create_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        """The row to save for this session, keyed by the hash of the cookie key."""
        instance = super().create_model_instance(data)
        instance.session_key = stored_key(instance.session_key)
        return instance

    async def acreate_model_instance(self, data: dict[str, Any]) -> AbstractBaseSession:
        """See :meth:`create_model_instance`."""
        instance = await super().acreate_model_instance(data)
        instance.session_key = stored_key(instance.session_key)
        return instance

    def delete(self, session_key: str | None = None) -> None:
        """Delete the row of the cookie key ``session_key`` (default: this session's)."""
        if session_key is None:
            session_key = self.session_key
        if session_key is not None:
            super().delete(stored_key(session_key))

    async def adelete(self, session_key: str | None = None) -> None:
        """See :meth:`delete`."""
        if session_key is None:
            session_key = self.session_key
        if session_key is not None:
            await super().adelete(stored_key(session_key))
