"""Two Daphne processes on PostgreSQL + Redis, and real clients connected to them.

The test process, both servers and every ``manage.py`` run share the
PostgreSQL test database and the Redis server started by
``--backend=postgres-redis`` (tests/support/services.py); without that
backend the tests here are skipped. Clients are the project's Python client
(``securemsg.client.handshake``) over real WebSockets (``websockets``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import websockets
from asgiref.sync import sync_to_async

from securemsg.client import SecureChannel, handshake
from securemsg.protocol import KeySet, parse_key_set
from tests.support.daphne_server import ROOT, DaphneServer
from tests.support.services import PostgresCluster, RedisServer
from tests.support.ws import active_pins, create_session

#: Users every scale-out test has.
USERS = ("alice", "bob", "carol")
#: Seconds one client operation (connect, handshake, one answer) may take.
OP_TIMEOUT = 20.0


@dataclass
class Cluster:
    """Two servers, the shared services, and what clients need to connect."""

    servers: list[DaphneServer]
    postgres: PostgresCluster
    redis: RedisServer
    env: dict[str, str]
    users: dict[str, Any]

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py ARGS`` against the shared database (a third process)."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **self.env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    async def keys(self, server: DaphneServer) -> tuple[KeySet, dict[str, Any]]:
        """keys.json as ``server`` publishes it (HTTP), parsed and raw."""
        import json
        import urllib.request

        def fetch() -> dict[str, Any]:
            url = f"{server.url}/.well-known/securemsg/keys.json"
            request = urllib.request.Request(url, headers={"Cache-Control": "no-cache"})
            with urllib.request.urlopen(request, timeout=OP_TIMEOUT) as response:
                document: dict[str, Any] = json.load(response)
                return document

        document = await asyncio.to_thread(fetch)
        return parse_key_set(document), document

    async def connect(
        self, username: str, server: DaphneServer, *, pins: list[str] | None = None
    ) -> SecureChannel:
        """Sign ``username`` in (a real session row), connect to ``server``, handshake."""
        key_set, document = await self.keys(server)
        session_key = await sync_to_async(create_session)(self.users[username])
        socket = await websockets.connect(
            f"{server.ws_url}/ws/securemsg/",
            origin=websockets.Origin(server.url),
            additional_headers={"Cookie": f"sessionid={session_key}"},
            open_timeout=OP_TIMEOUT,
            max_size=2**17,
        )
        try:
            return await handshake(
                socket, key_set, pins or active_pins(document), user=username, origin=server.url
            )
        except BaseException:
            await socket.close()
            raise


@pytest.fixture
def scaleout_env(
    postgres_redis: tuple[PostgresCluster, RedisServer], live_vault: dict[str, Any]
) -> dict[str, str]:
    """Server environment: the live test env with every limit off and fast redelivery."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL"):
        assert env.get(name), f"{name} must point at the services (--backend=postgres-redis)"
    return {
        "SECUREMSG_HANDSHAKES_PER_MINUTE": "0",
        "SECUREMSG_HANDSHAKES_PER_MINUTE_PER_IP": "0",
        "SECUREMSG_MESSAGES_PER_MINUTE": "0",
        "SECUREMSG_MAX_SESSIONS_PER_USER": "0",
    }


@pytest.fixture
def cluster(
    postgres_redis: tuple[PostgresCluster, RedisServer],
    live_env: dict[str, str],
    scaleout_env: dict[str, str],
    user_factory: Callable[..., Any],
    tmp_path: Path,
) -> Iterator[Cluster]:
    """alice, bob and carol; two Daphne processes A and B on their own ports."""
    users = {name: user_factory(name) for name in USERS}
    env = {**live_env, **scaleout_env}
    servers = [
        DaphneServer(env=env, log_path=tmp_path / f"daphne-{name}.log") for name in ("a", "b")
    ]
    try:
        for server in servers:
            server.start()
        postgres, redis = postgres_redis
        yield Cluster(servers, postgres, redis, env, users)
    finally:
        for server in servers:
            server.stop()


@pytest_asyncio.fixture
async def channels() -> AsyncIterator[Callable[[SecureChannel], SecureChannel]]:
    """``keep(channel)`` closes the channel after the test."""
    async with AsyncExitStack() as stack:

        def keep(channel: SecureChannel) -> SecureChannel:
            stack.push_async_callback(channel.transport.close)
            return channel

        yield keep


async def receive_type(channel: SecureChannel, kind: str, timeout: float = OP_TIMEOUT) -> Any:
    """The next application message of type ``kind`` (others are dropped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await channel.receive()
            if message.get("t") == kind:
                return message
