"""When a WebSocket's sign-in session ends (securemsg/chat/internal/signin.py).

At connect the deadline comes from the row Channels' ``get_user`` has just
read (``SessionStore.loaded_expiry``): no second query, same answer as
reading the row again. Stores that did not read a live row are looked up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.session_store import SessionStore, stored_key
from securemsg.chat.internal.signin import loaded_session_deadline, session_deadline
from tests.support.ws import create_session


def _row_expiry(key: str) -> Any:
    return Session.objects.get(session_key=stored_key(key)).expire_date


def test_a_loaded_session_gives_its_row_expiry_without_a_query(user_factory: Any) -> None:
    key = create_session(user_factory("alice"), expires_in=600)
    store = SessionStore(key)
    assert store.get(SESSION_KEY) is not None  # the load get_user does
    with CaptureQueriesContext(connection) as queries:
        deadline = loaded_session_deadline(store)
    assert len(queries) == 0
    assert deadline == _row_expiry(key) == session_deadline(key)


def test_a_store_not_yet_loaded_reads_the_row(user_factory: Any) -> None:
    key = create_session(user_factory("alice"), expires_in=600)
    with CaptureQueriesContext(connection) as queries:
        deadline = loaded_session_deadline(SessionStore(key))
    assert len(queries) == 1
    assert deadline == _row_expiry(key)


def test_an_ended_session_has_no_deadline(user_factory: Any) -> None:
    key = create_session(user_factory("alice"))
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    store = SessionStore(key)
    assert store.get(SESSION_KEY) is None  # the load found no live row
    assert store.loaded_expiry is None
    assert loaded_session_deadline(store) is None


def test_a_session_without_a_signed_in_user_has_no_deadline(db: None) -> None:
    store = SessionStore()
    store["note"] = "anonymous"
    store.create()
    assert store.session_key is not None
    loaded = SessionStore(store.session_key)
    assert loaded.get("note") == "anonymous"
    assert loaded.loaded_expiry is not None
    assert loaded_session_deadline(loaded) is None


def test_a_later_load_keeps_the_later_expiry(user_factory: Any) -> None:
    key = create_session(user_factory("alice"), expires_in=60)
    store = SessionStore(key)
    store.load()
    first = store.loaded_expiry
    Session.objects.update(expire_date=timezone.now() + timedelta(hours=1))
    store.load()
    assert first is not None and store.loaded_expiry is not None
    assert store.loaded_expiry > first
