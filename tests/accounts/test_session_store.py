"""The session engine keeps only a hash of each key (accounts/session_store.py).

A reader of ``django_session`` (a backup, a replica, an SQL injection) sees
hashes: putting one in a cookie signs nobody in, over HTTP or the WebSocket.
The cookie's own key still works, sign-out and key rotation delete the
hashed row, and the async methods Channels uses behave like the sync ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import keyvault
from accounts.session_store import SessionStore, stored_key
from tests.support.ws import close_code, connect_as, handshake

#: A page only a signed-in user gets (anyone else is sent to the sign-in page).
SIGNED_IN_PAGE = "/accounts/password/"
COOKIE = settings.SESSION_COOKIE_NAME


def _form_sign_in(username: str, password: str) -> Client:
    browser = Client()
    response = browser.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.status_code
    return browser


def _with_cookie(value: str) -> Client:
    browser = Client()
    browser.cookies[COOKIE] = value
    return browser


def _is_signed_in(browser: Client) -> bool:
    status = browser.get(SIGNED_IN_PAGE).status_code
    assert status in (200, 302), status
    return status == 200


def _every_cell() -> Iterator[tuple[str, str]]:
    """``(table.column, text)`` of every non-null cell of every table."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            # Table names come from introspection, not from input.
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if value is not None:
                        if isinstance(value, memoryview):
                            value = bytes(value)
                        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                        yield f"{table}.{column}", text


# --- stored_key ----------------------------------------------------------------


def test_stored_key_is_40_hex_characters_and_fits_the_column() -> None:
    hashed = stored_key("k" * 32)
    assert re.fullmatch(r"[0-9a-f]{40}", hashed)
    assert Session._meta.get_field("session_key").max_length == len(hashed)
    assert stored_key("k" * 32) == hashed
    assert stored_key("k" * 31 + "l") != hashed
    # A hash of a hash is another value: a stolen row's key never names that row.
    assert stored_key(hashed) != hashed


@pytest.mark.parametrize("value", (None, b"k" * 32, 32))
def test_stored_key_refuses_what_is_not_a_str(value: Any) -> None:
    with pytest.raises(TypeError, match="session_key"):
        stored_key(value)


# --- a real sign-in through the form --------------------------------------------


def test_the_table_holds_the_hash_and_never_the_cookie(user_factory: Any, password: str) -> None:
    user_factory("alice")
    cookie = _form_sign_in("alice", password).cookies[COOKIE].value
    assert Session.objects.filter(session_key=stored_key(cookie)).exists()
    assert not Session.objects.filter(session_key=cookie).exists()
    # Nowhere in the database, not in any column of any table.
    found = [where for where, text in _every_cell() if cookie in text]
    assert found == []


def test_the_cookie_signs_in(user_factory: Any, password: str) -> None:
    user_factory("alice")
    cookie = _form_sign_in("alice", password).cookies[COOKIE].value
    assert _is_signed_in(_with_cookie(cookie))


def test_a_stolen_row_key_in_the_cookie_does_not_sign_in(user_factory: Any, password: str) -> None:
    user_factory("alice")
    signed_in = _form_sign_in("alice", password)
    (row_key,) = Session.objects.values_list("session_key", flat=True)
    thief = _with_cookie(row_key)
    assert not _is_signed_in(thief)
    # The real session is untouched, and the thief got no row of their own.
    assert _is_signed_in(signed_in)
    assert list(Session.objects.values_list("session_key", flat=True)) == [row_key]


def test_sql_carries_only_the_hash(user_factory: Any, password: str) -> None:
    user_factory("alice")
    with CaptureQueriesContext(connection) as queries:
        browser = _form_sign_in("alice", password)
        assert _is_signed_in(browser)
        cookie = browser.cookies[COOKIE].value
        assert browser.post("/accounts/logout/").status_code == 302
    sql = "\n".join(query["sql"] for query in queries.captured_queries)
    assert stored_key(cookie) in sql
    assert cookie not in sql


def test_sign_out_deletes_the_row(user_factory: Any, password: str) -> None:
    user_factory("alice")
    browser = _form_sign_in("alice", password)
    cookie = browser.cookies[COOKIE].value
    assert browser.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=stored_key(cookie)).exists()
    assert not _is_signed_in(_with_cookie(cookie))


def test_sign_in_replaces_the_anonymous_session_row(user_factory: Any, password: str) -> None:
    user_factory("alice")
    anonymous = SessionStore()
    anonymous["visited"] = True
    anonymous.create()
    assert anonymous.session_key is not None
    browser = _with_cookie(anonymous.session_key)
    response = browser.post("/accounts/login/", {"username": "alice", "password": password})
    assert response.status_code == 302
    cookie = browser.cookies[COOKIE].value
    assert cookie != anonymous.session_key  # cycle_key: a new key at sign-in
    assert list(Session.objects.values_list("session_key", flat=True)) == [stored_key(cookie)]


def test_rows_written_before_the_engine_no_longer_match(user_factory: Any) -> None:
    alice = user_factory("alice")
    old = Client()
    old.force_login(alice)
    cookie = old.cookies[COOKIE].value
    # What Django's own engine wrote: the cookie's key in clear.
    Session.objects.filter(session_key=stored_key(cookie)).update(session_key=cookie)
    assert not _is_signed_in(_with_cookie(cookie))


# --- the store's methods, sync and async ------------------------------------------


def _signed_in_store(user: Any) -> SessionStore:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store.create()
    assert store.session_key is not None
    return store


def test_exists_load_and_delete_take_the_cookie_key(user_factory: Any) -> None:
    alice = user_factory("alice")
    store = _signed_in_store(alice)
    key = store.session_key
    assert key is not None
    assert store.exists(key)
    assert not store.exists(stored_key(key))
    assert SessionStore(key).load()[SESSION_KEY] == str(alice.pk)
    assert SessionStore(stored_key(key)).load() == {}
    SessionStore().delete(stored_key(key))  # a row's own value deletes nothing
    assert store.exists(key)
    SessionStore().delete(key)
    assert not store.exists(key)
    assert Session.objects.count() == 0


def test_saving_updates_the_hashed_row(user_factory: Any) -> None:
    store = _signed_in_store(user_factory("alice"))
    key = store.session_key
    assert key is not None
    store["note"] = "kept"
    store.save()
    assert SessionStore(key).load()["note"] == "kept"
    assert Session.objects.count() == 1


def test_an_expired_row_does_not_load(user_factory: Any) -> None:
    store = _signed_in_store(user_factory("alice"))
    key = store.session_key
    assert key is not None
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    fresh = SessionStore(key)
    assert fresh.load() == {}
    assert fresh.session_key is None  # Django's rule: a new session, never the old key


def test_flush_deletes_the_row(user_factory: Any) -> None:
    store = _signed_in_store(user_factory("alice"))
    store.flush()
    assert Session.objects.count() == 0


@pytest.mark.asyncio
async def test_the_async_methods_match_the_sync_ones(transactional_db: None) -> None:
    store = SessionStore()
    await store.aset(SESSION_KEY, "7")
    await store.acreate()
    key = store.session_key
    assert key is not None
    assert await store.aexists(key)
    assert not await store.aexists(stored_key(key))
    assert await sync_to_async(
        lambda: Session.objects.filter(session_key=stored_key(key)).exists()
    )()
    loaded = SessionStore(key)
    assert (await loaded.aload())[SESSION_KEY] == "7"
    await loaded.aset("note", "async")
    await loaded.asave()
    assert (await SessionStore(key).aload())["note"] == "async"
    assert await SessionStore(stored_key(key)).aload() == {}
    await SessionStore(key).adelete()  # no argument: this session's own key
    assert not await store.aexists(key)
    again = SessionStore()
    await again.acreate()
    assert again.session_key is not None
    await again.aflush()
    assert await sync_to_async(Session.objects.count)() == 0


# --- the WebSocket ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_socket_of_a_form_sign_in_works_and_sign_out_closes_it(
    vault: dict[str, Any], user_factory: Any, password: str
) -> None:
    alice = await sync_to_async(user_factory)("alice")
    browser = await sync_to_async(_form_sign_in)("alice", password)
    cookie = browser.cookies[COOKIE].value
    communicator, connected, code = await connect_as(alice, session_key=cookie)
    assert connected and code is None, code
    socket = await handshake(communicator, vault, username="alice")
    await socket.send({"t": "ping", "id": "p"})
    assert (await socket.receive_until("pong"))["id"] == "p"
    assert (await sync_to_async(browser.post)("/accounts/logout/")).status_code == 302
    assert await socket.expect_close() == 4401
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_a_stolen_row_key_opens_no_socket(
    vault: dict[str, Any], user_factory: Any, password: str
) -> None:
    await sync_to_async(user_factory)("alice")
    await sync_to_async(_form_sign_in)("alice", password)
    row_key = await sync_to_async(
        lambda: Session.objects.values_list("session_key", flat=True).get()
    )()
    communicator, connected, code = await connect_as(None, session_key=row_key)
    assert connected
    assert code == 4401 or await close_code(communicator) == 4401
    # keys.json stays public; nothing else was opened.
    assert await sync_to_async(keyvault.keys_document)() == vault


# --- configuration ----------------------------------------------------------------


def test_the_check_passes_with_this_engine() -> None:
    from accounts.checks import check_session_engine

    assert check_session_engine() == []


@pytest.mark.parametrize(
    "engine",
    ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"),
)
def test_the_check_refuses_an_engine_that_stores_keys_in_clear(engine: str, settings: Any) -> None:
    from django.core.checks import run_checks

    settings.SESSION_ENGINE = engine
    assert "accounts.E001" in {m.id for m in run_checks()}
