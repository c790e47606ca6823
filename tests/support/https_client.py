"""A browser-less HTTP(S) client for live tests: cookies, CSRF, a chosen source address.

Loopback has a whole /8, so a test can be several clients at once: each
``WebClient`` binds its connections to its own ``source`` address
(127.0.0.2, 127.0.0.3 ...) and nginx sees that address as ``$remote_addr``.
Redirects are returned, not followed, so tests see each 301/302.
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import IO, Any

__all__ = ["Response", "WebClient"]

#: Seconds one request may take.
TIMEOUT = 20.0


@dataclass(frozen=True)
class Response:
    """Status, headers and body (text) of one answer."""

    status: int
    headers: Message
    body: str

    def cookie_attributes(self, name: str) -> set[str]:
        """The lower-cased attribute names of the ``Set-Cookie`` for ``name`` (e.g. secure)."""
        for line in self.headers.get_all("Set-Cookie") or []:
            first, *attributes = (part.strip() for part in line.split(";"))
            if first.split("=", 1)[0] == name:
                return {attribute.split("=", 1)[0].lower() for attribute in attributes}
        raise KeyError(f"no Set-Cookie for {name}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _BoundHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext, source: str) -> None:
        super().__init__(context=context)
        self._bound_context = context
        self._source = source

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(
            http.client.HTTPSConnection, source_address=(self._source, 0)
        )
        return self.do_open(connection, req, context=self._bound_context)


class _BoundHTTP(urllib.request.HTTPHandler):
    def __init__(self, source: str) -> None:
        super().__init__()
        self._source = source

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(http.client.HTTPConnection, source_address=(self._source, 0))
        return self.do_open(connection, req)


@dataclass
class WebClient:
    """One client of ``origin``: its own cookie jar and source address."""

    origin: str
    context: ssl.SSLContext
    source: str = "127.0.0.1"
    jar: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def _opener(self) -> urllib.request.OpenerDirector:
        return urllib.request.build_opener(
            _BoundHTTPS(self.context, self.source),
            _BoundHTTP(self.source),
            urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect(),
        )

    def cookie(self, name: str) -> str | None:
        """The value of cookie ``name`` in the jar, if any."""
        return next((c.value for c in self.jar if c.name == name), None)

    def request(
        self,
        path: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        origin: str | None = None,
    ) -> Response:
        """GET (or POST with ``data``) ``path`` on ``origin`` (default: this client's)."""
        url = (origin or self.origin) + path
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self._opener().open(request, timeout=TIMEOUT) as answer:
                return _response(answer.status, answer.headers, answer)
        except urllib.error.HTTPError as exc:
            with exc:
                return _response(exc.code, exc.headers, exc)

    def get(self, path: str, **headers: str) -> Response:
        """GET ``path`` with extra ``headers`` (underscores become dashes)."""
        return self.request(path, headers=_header_names(headers))

    def post(self, path: str, fields: dict[str, str], **headers: str) -> Response:
        """POST a form as a browser does: the CSRF token, ``Origin`` and ``Referer``."""
        if self.cookie("csrftoken") is None:
            self.get(path)
        form = {"csrfmiddlewaretoken": self.cookie("csrftoken") or "", **fields}
        extra = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": self.origin,
            "Referer": self.origin + path,
            **_header_names(headers),
        }
        data = urllib.parse.urlencode(form).encode("ascii")
        return self.request(path, data=data, headers=extra)

    def sign_in(self, username: str, password: str, **headers: str) -> Response:
        """Post the sign-in form (302 on success, 200 on a wrong password, 429 when locked)."""
        return self.post(
            "/accounts/login/", {"username": username, "password": password}, **headers
        )


def _header_names(headers: dict[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in headers.items()}


def _response(status: int, headers: Message, body: IO[bytes]) -> Response:
    return Response(int(status), headers, body.read().decode("utf-8", "replace"))
