"""Two Daphne processes on PostgreSQL + Redis, and real clients connected to them.

The test process, both servers and every ``manage.py`` run share the
PostgreSQL test database and the Redis server started by
``--backend=postgres-redis`` (tests/support/services.py); without that
backend the tests here are skipped. Clients are the project's Python client
(``securemsg.client.handshake``) over real WebSockets (``websockets``).

``nginx_proxy`` puts docs/deployment.md's nginx in front of the two servers,
with a throwaway CA's certificate (``tls_pki``) and the static files
collected once per session (``collected_static``); ``connect_through``
opens a secure channel through it over wss.
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
from tests.support.nginx import NginxProxy
from tests.support.ports import free_port
from tests.support.services import PostgresCluster, RedisServer
from tests.support.tls import ThrowawayPKI, make_throwaway_pki
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


# --- docs/deployment.md's nginx in front of the cluster, over TLS -----------------


@dataclass(frozen=True)
class ProxyPorts:
    """The ports nginx will listen on, known before the workers start (their env names them)."""

    https: int
    http: int

    @property
    def origin(self) -> str:
        """The https origin clients use."""
        return f"https://127.0.0.1:{self.https}"


@pytest.fixture(scope="session")
def tls_pki(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayPKI:
    """A throwaway CA and its server certificate for 127.0.0.1 (one per session)."""
    return make_throwaway_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``manage.py collectstatic`` under the production profile, once; the STATIC_ROOT."""
    data_dir = tmp_path_factory.mktemp("static-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREMSG_")}
    env.update(
        SECUREMSG_ENV="production",
        SECRET_KEY="collectstatic-only-" + "s" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        SECUREMSG_DATA_DIR=str(data_dir),
        PYTHONPATH=str(ROOT),
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return data_dir / "static"


@pytest.fixture
def proxy_ports() -> ProxyPorts:
    """Free ports for nginx's https (documented 443) and http (documented 80) listeners."""
    return ProxyPorts(https=free_port(), http=free_port())


@pytest.fixture
def nginx_proxy(
    cluster: Cluster,
    proxy_ports: ProxyPorts,
    tls_pki: ThrowawayPKI,
    collected_static: Path,
    tmp_path: Path,
) -> Iterator[NginxProxy]:
    """nginx running docs/deployment.md's block in front of the cluster's two workers."""
    proxy = NginxProxy(
        tmp_path / "nginx",
        [server.port for server in cluster.servers],
        tls_pki,
        collected_static,
        https_port=proxy_ports.https,
        http_port=proxy_ports.http,
    )
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


async def fetch_keys_through(proxy: NginxProxy) -> dict[str, Any]:
    """keys.json as the proxy serves it (https, the test CA as trust anchor)."""
    import json
    import urllib.request

    def fetch() -> dict[str, Any]:
        request = urllib.request.Request(
            f"{proxy.origin}/.well-known/securemsg/keys.json", headers={"Cache-Control": "no-cache"}
        )
        with urllib.request.urlopen(
            request, context=proxy.pki.client_context(), timeout=OP_TIMEOUT
        ) as response:
            document: dict[str, Any] = json.load(response)
            return document

    return await asyncio.to_thread(fetch)


async def connect_through(
    proxy: NginxProxy,
    cluster: Cluster,
    username: str,
    *,
    session_key: str | None = None,
    headers: dict[str, str] | None = None,
) -> SecureChannel:
    """A secure channel for ``username`` over wss through nginx.

    Uses ``session_key`` (a new signed-in session by default) as the session
    cookie; ``headers`` are added to the upgrade request.
    """
    document = await fetch_keys_through(proxy)
    if session_key is None:
        session_key = await sync_to_async(create_session)(cluster.users[username])
    socket = await websockets.connect(
        proxy.origin.replace("https://", "wss://") + "/ws/securemsg/",
        origin=websockets.Origin(proxy.origin),
        additional_headers={"Cookie": f"sessionid={session_key}", **(headers or {})},
        ssl=proxy.pki.client_context(),
        open_timeout=OP_TIMEOUT,
        max_size=2**17,
    )
    try:
        return await handshake(
            socket,
            parse_key_set(document),
            active_pins(document),
            user=username,
            origin=proxy.origin,
        )
    except BaseException:
        await socket.close()
        raise


def websocket_connects(server: DaphneServer) -> int:
    """How many WebSockets ``server`` accepted so far (Daphne's access log)."""
    return server.log().count("WSCONNECT /ws/securemsg/")
