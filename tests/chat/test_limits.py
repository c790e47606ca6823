"""Rate limits and session counts (securemsg/chat/limits.py) on the cache the settings name.

Django's ``cache`` is context-local: every WebSocket's context, and every
copy of it run on the database thread, used to build its own backend. With
Redis that was a new TCP connection per handshake and per message (and the
handshake limits did their Redis round trips on the event loop). Now each
thread keeps one client; these tests count the connections Redis accepts.
"""

from __future__ import annotations

import contextvars
import socket
import threading
from typing import Any

import pytest
import redis

from securemsg.chat import limits
from securemsg.chat.exceptions import LimitsUnavailableError
from securemsg.protocol import send_request
from tests.support.services import RedisServer
from tests.support.ws import connect_as

pytestmark = pytest.mark.django_db(transaction=True)


def _redis_caches(url: str) -> dict[str, Any]:
    """``CACHES`` with the default cache on the Redis at ``url``, as production has it."""
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}


def _nowhere() -> str:
    """A Redis URL on a local port where nothing listens (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{probe.getsockname()[1]}/0"


@pytest.fixture
def redis_cache(settings: Any, redis_server: RedisServer) -> redis.Redis:
    """The default cache on the real redis-server."""
    settings.CACHES = _redis_caches(redis_server.url)
    return redis.Redis.from_url(redis_server.url)


def _connections_accepted(server: redis.Redis) -> int:
    return int(server.info("stats")["total_connections_received"])


def test_one_client_per_thread_whatever_the_context() -> None:
    first = contextvars.copy_context().run(limits._cache)
    again = contextvars.copy_context().run(limits._cache)
    assert first is again
    elsewhere: list[Any] = []
    worker = threading.Thread(target=lambda: elsewhere.append(limits._cache()))
    worker.start()
    worker.join()
    assert elsewhere[0] is not first  # backends are not all thread-safe


def test_a_settings_change_gives_every_thread_a_new_client(settings: Any) -> None:
    before = limits._cache()
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "x"}
    }
    assert limits._cache() is not before


@pytest.mark.usefixtures("one_rate_window")
def test_limits_count_on_redis(redis_cache: redis.Redis) -> None:
    bucket = f"test-{threading.get_ident()}"
    assert [limits.hit(bucket, 2) for _ in range(3)] == [True, True, False]
    assert limits.open_session(990001, 1)
    assert not limits.open_session(990001, 1)
    limits.close_session(990001)
    assert limits.open_session(990001, 1)
    limits.close_session(990001)


@pytest.mark.asyncio
async def test_handshakes_and_messages_reuse_redis_connections(
    redis_cache: redis.Redis, chat_users: dict[str, Any], secure: Any, settings: Any
) -> None:
    # The shipped limits, so every handshake and send counts in Redis.
    settings.SECUREMSG_HANDSHAKES_PER_MINUTE = 1000
    settings.SECUREMSG_HANDSHAKES_PER_MINUTE_PER_IP = 1000
    settings.SECUREMSG_MESSAGES_PER_MINUTE = 1000
    settings.SECUREMSG_MAX_SESSIONS_PER_USER = 1000
    warm = await secure(chat_users["alice"])  # each thread makes its client once
    await warm.send(send_request("warm", "bob", "hello"))
    await warm.receive_until("ack")
    before = _connections_accepted(redis_cache)
    for i in range(10):
        alice = await secure(chat_users["alice"])
        await alice.send(send_request(f"m{i}", "bob", "hello"))
        await alice.receive_until("ack")
        await alice.communicator.disconnect()
    # 10 handshakes, 10 sends and 10 closes: at most a connection per RSA
    # thread not yet used, not one per call (that was 50 here).
    assert _connections_accepted(redis_cache) - before <= 3


@pytest.fixture
def unreachable_cache(settings: Any) -> None:
    """The cache on a Redis address where nothing listens."""
    settings.CACHES = _redis_caches(_nowhere())


def test_a_failing_store_raises_its_own_error(unreachable_cache: None) -> None:
    with pytest.raises(LimitsUnavailableError) as raised:
        limits.hit("anything", 5)
    assert "127.0.0.1" not in str(raised.value)  # the class name only, not the URL
    with pytest.raises(LimitsUnavailableError):
        limits.open_session(1, 5)
    with pytest.raises(LimitsUnavailableError):
        limits.close_session(1)


@pytest.mark.asyncio
async def test_store_down_at_connect_closes_4500_without_a_traceback(
    unreachable_cache: None, chat_users: dict[str, Any], vault: Any, caplog: Any
) -> None:
    _communicator, connected, code = await connect_as(chat_users["alice"])
    assert connected and code == 4500
    assert "unexpected error" not in caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.asyncio
async def test_store_down_mid_session_closes_4500_and_the_close_is_logged(
    chat_users: dict[str, Any], secure: Any, settings: Any, caplog: Any
) -> None:
    alice = await secure(chat_users["alice"])
    settings.CACHES = _redis_caches(_nowhere())
    settings.SECUREMSG_MESSAGES_PER_MINUTE = 100  # a send now counts in the store
    await alice.send(send_request("m1", "bob", "hello"))
    assert await alice.expect_close() == 4500
    await alice.communicator.disconnect()  # disconnect runs: it cannot uncount the session
    assert "could not uncount a closed session" in caplog.text
    assert "unexpected error" not in caplog.text and "Traceback" not in caplog.text
