"""Fixtures of the client tests: the protocol tests' keys, a fake web server, a live server."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.protocol.conftest import MemoryKeyring, key_set, keys, pin, rotated_key_set
from tests.support.daphne_server import ROOT, DaphneServer

__all__ = ["MemoryKeyring", "key_set", "keys", "pin", "rotated_key_set"]


@dataclass
class FakeSite:
    """State of the fake Django site: users, keys.json and what it saw."""

    users: dict[str, str] = field(default_factory=lambda: {"alice": "pw-alice"})
    keys_json: dict[str, Any] = field(default_factory=dict)
    posts: list[dict[str, Any]] = field(default_factory=list)
    keys_requests: list[dict[str, str]] = field(default_factory=list)
    origin: str = ""


def _handler(site: FakeSite) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/accounts/login/":
                self._send(200, b"<form>", {"Set-Cookie": "csrftoken=tok123; Path=/"})
            elif self.path == "/.well-known/securemsg/keys.json":
                site.keys_requests.append(dict(self.headers))
                self._send(200, json.dumps(site.keys_json).encode())
            else:
                self._send(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            site.posts.append({"form": form, "headers": dict(self.headers)})
            csrf_ok = (
                "csrftoken=tok123" in self.headers.get("Cookie", "")
                and form.get("csrfmiddlewaretoken") == "tok123"
                and self.headers.get("Referer") == site.origin + "/accounts/login/"
            )
            user, password = form.get("username"), form.get("password")
            if not csrf_ok:
                self._send(403)
            elif user in site.users and site.users[user] == password:
                self._send(302, headers={"Location": "/", "Set-Cookie": "sessionid=s3ss; Path=/"})
            else:
                self._send(200, b"<form>again</form>")

    return Handler


@contextlib.contextmanager
def serve_fake_site(key_set: Any, tls: ssl.SSLContext | None = None) -> Iterator[FakeSite]:
    """Serve a ``FakeSite`` on a free port (over https with a server context ``tls``)."""
    site = FakeSite(keys_json=key_set.to_json())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    site.origin = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def fake_site(key_set: Any) -> Iterator[FakeSite]:
    """A local HTTP server that behaves like the sign-in form and keys.json."""
    with serve_fake_site(key_set) as site:
        yield site


# --- A live server for the client ------------------------------------------------

# A test never waits longer than this for one CLI run.
CLI_TIMEOUT_SECONDS = 90


@dataclass
class LiveSite:
    """A running Daphne server with alice and bob, and how to run the CLI against it."""

    server: DaphneServer
    password: str
    config_home: Path  # XDG_CONFIG_HOME of every CLI run: the TOFU pin file lives here

    @property
    def url(self) -> str:
        """The server's origin, as given to --server."""
        return self.server.url

    @property
    def pin_file(self) -> Path:
        """The default pin file of the CLI runs (under XDG_CONFIG_HOME)."""
        return self.config_home / "securemsg" / "pins.json"

    def pins(self) -> list[str]:
        """The fingerprints pinned for this server in the default pin file."""
        data = json.loads(self.pin_file.read_text("utf-8"))
        return list(data["servers"][self.url])

    def cli_command(
        self, *args: str, user: str | None = None, server: str | None = None
    ) -> list[str]:
        """The argv of ``python -m securemsg.client --server URL [--user USER] ARGS``."""
        command = [sys.executable, "-m", "securemsg.client", "--server", server or self.url]
        if user is not None:
            command += ["--user", user]
        return [*command, *args]

    def cli_env(self, password: str | None = None) -> dict[str, str]:
        """The environment of a CLI run: the password in SECUREMSG_PASSWORD, a temp config."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SECUREMSG_")}
        env.update(
            PYTHONPATH=str(ROOT),
            XDG_CONFIG_HOME=str(self.config_home),
            SECUREMSG_PASSWORD=self.password if password is None else password,
        )
        return env

    def cli(
        self,
        *args: str,
        user: str | None = None,
        password: str | None = None,
        stdin: str | None = None,
        server: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI to completion; the password never appears in its output."""
        result = subprocess.run(
            self.cli_command(*args, user=user, server=server),
            env=self.cli_env(password),
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            cwd=ROOT,
        )
        secret = self.password if password is None else password
        assert secret not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        return result


@pytest.fixture
def start_live_site(
    live_vault: dict[str, Any],
    live_env: dict[str, str],
    user_factory: Callable[..., Any],
    password: str,
    tmp_path: Path,
) -> Iterator[Callable[..., LiveSite]]:
    """Start a Daphne server (extra ``SECUREMSG_*`` env as keywords) with alice and bob.

    The key vault is initialised in the test database first (``live_vault``)
    and the server shares the test's master keyring and RSA-2048 keys.
    """
    for name in ("alice", "bob"):
        user_factory(name)
    servers: list[DaphneServer] = []

    def start(**extra_env: str) -> LiveSite:
        log = tmp_path / f"daphne-{len(servers)}.log"
        server = DaphneServer(env={**live_env, **extra_env}, log_path=log)
        servers.append(server)
        server.start()
        return LiveSite(server, password, tmp_path / "config")

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def live_site(start_live_site: Callable[..., LiveSite]) -> LiveSite:
    """A live server with the default settings."""
    return start_live_site()


class ClosingProxy:
    """A TCP proxy in front of a live server that closes WebSockets with a chosen code.

    HTTP is passed through untouched. On a connection to the securemsg
    endpoint, ``close_after`` seconds after the upgrade request it sends the
    client a WebSocket close frame with ``code`` (as a server would) and
    drops the connection, so the client's handling of server close codes
    is tested over a real socket.
    """

    def __init__(self, upstream_port: int, code: int, close_after: float) -> None:
        self.upstream_port = upstream_port
        self.code = code
        self.close_after = close_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed_websockets = 0
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    @property
    def url(self) -> str:
        """The proxy's origin (give it as --server)."""
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        lock = threading.Lock()
        injected = threading.Event()
        self._spawn(self._pipe, upstream, client, lock, injected)
        first = True
        with client, upstream:
            while chunk := _recv(client):
                if first and chunk.startswith(b"GET /ws/securemsg/"):
                    timer = threading.Timer(
                        self.close_after, self._inject, (client, upstream, lock, injected)
                    )
                    timer.daemon = True
                    timer.start()
                first = False
                if injected.is_set():
                    break
                upstream.sendall(chunk)

    def _pipe(
        self,
        source: socket.socket,
        sink: socket.socket,
        lock: threading.Lock,
        injected: threading.Event,
    ) -> None:
        while chunk := _recv(source):
            with lock:
                if injected.is_set():
                    return
                with contextlib.suppress(OSError):
                    sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)  # the server closed: pass the EOF on

    def _inject(
        self,
        client: socket.socket,
        upstream: socket.socket,
        lock: threading.Lock,
        injected: threading.Event,
    ) -> None:
        with lock:
            injected.set()
            with contextlib.suppress(OSError):
                # FIN + close opcode, unmasked (server to client), 2-byte payload: the code.
                client.sendall(b"\x88\x02" + self.code.to_bytes(2, "big"))
                self.closed_websockets += 1
        time.sleep(0.3)
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop accepting connections."""
        self.listener.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


@pytest.fixture
def closing_proxy(live_site: LiveSite) -> Iterator[Callable[..., ClosingProxy]]:
    """Proxies in front of ``live_site``: ``closing_proxy(code=4408, close_after=1.5)``."""
    proxies: list[ClosingProxy] = []

    def make(code: int, close_after: float = 1.5) -> ClosingProxy:
        proxy = ClosingProxy(live_site.server.port, code, close_after)
        proxies.append(proxy)
        return proxy

    try:
        yield make
    finally:
        for proxy in proxies:
            proxy.close()
