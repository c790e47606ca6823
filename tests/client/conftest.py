"""Fixtures of the client tests: the protocol tests' keys, and a fake web server."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.protocol.conftest import MemoryKeyring, key_set, keys, pin, rotated_key_set

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


@pytest.fixture
def fake_site(key_set) -> Iterator[FakeSite]:
    """A local HTTP server that behaves like the sign-in form and keys.json."""
    site = FakeSite(keys_json=key_set.to_json())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
