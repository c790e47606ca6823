"""Sign-in through the web form and keys.json, exactly as a browser does, via urllib."""

from __future__ import annotations

import http.cookiejar
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..protocol import KeySet, ProtocolError, parse_key_set
from ._errors import ServerError, SignInError

LOGIN_PATH = "/accounts/login/"
KEYS_PATH = "/.well-known/securemsg/keys.json"
WS_PATH = "/ws/securemsg/"
TIMEOUT_SECONDS = 15.0
USER_AGENT = "securemsg-client/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report redirects instead of following them: the sign-in answers 302."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> None:
        return None


def tls_context(cafile: Path) -> ssl.SSLContext:
    """A TLS client context that trusts only the CA certificates in ``cafile`` (PEM).

    Raises ValueError naming the file when it cannot be read or holds no
    certificate. Hostnames are still checked.
    """
    try:
        return ssl.create_default_context(cafile=str(cafile))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ValueError(f"cannot use --cafile {cafile}: {reason}") from exc


@dataclass
class Server:
    """A securemsg server: its origin and the cookies of this client.

    ``ssl_context`` (https only) replaces the system's trust store, e.g. with
    a private CA (``--cafile``); None uses the system's.
    """

    origin: str
    jar: http.cookiejar.CookieJar
    ssl_context: ssl.SSLContext | None = None

    @classmethod
    def from_url(cls, url: str, *, cafile: Path | None = None) -> Server:
        """Build from ``--server`` (scheme://host[:port], a path is ignored) and ``--cafile``."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("--server must look like https://host[:port]")
        context = None
        if cafile is not None:
            if parts.scheme != "https":
                raise ValueError("--cafile needs an https:// server")
            context = tls_context(cafile)
        return cls(f"{parts.scheme}://{parts.netloc}", http.cookiejar.CookieJar(), context)

    @property
    def ws_url(self) -> str:
        """The WebSocket URL of the securemsg endpoint."""
        scheme = "wss" if self.origin.startswith("https:") else "ws"
        return f"{scheme}://{self.origin.split('://', 1)[1]}{WS_PATH}"

    def _opener(self) -> urllib.request.OpenerDirector:
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect(),
        ]
        if self.ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self.ssl_context))
        return urllib.request.build_opener(*handlers)

    def _cookie(self, name: str) -> str | None:
        for cookie in self.jar:
            if cookie.name == name:
                return cookie.value
        return None

    def cookie_header(self) -> str:
        """The Cookie header for the WebSocket request (session and CSRF cookies)."""
        return "; ".join(f"{c.name}={c.value}" for c in self.jar if c.value is not None)

    def _request(self, path: str, **kwargs: Any) -> urllib.request.Request:
        """A request for ``path`` on this server: http(s) only, never ``file:`` or others."""
        if not self.origin.startswith(("http://", "https://")):
            raise ValueError("the server origin must start with http:// or https://")
        return urllib.request.Request(self.origin + path, **kwargs)  # noqa: S310 (scheme checked)

    def _open(self, request: urllib.request.Request) -> tuple[int, bytes]:
        request.add_header("User-Agent", USER_AGENT)
        try:
            with self._opener().open(request, timeout=TIMEOUT_SECONDS) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(f"cannot reach {self.origin}: {reason}") from exc

    def sign_in(self, username: str, password: str) -> None:
        """GET the login form for the CSRF cookie, POST the credentials, expect 302."""
        login_url = self.origin + LOGIN_PATH
        status, _ = self._open(self._request(LOGIN_PATH))
        token = self._cookie("csrftoken")
        if status != 200 or token is None:
            raise ServerError(f"sign-in form unavailable (HTTP {status}, no CSRF cookie)")
        form = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": username, "password": password}
        ).encode("ascii")
        request = self._request(LOGIN_PATH, data=form, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        request.add_header("Referer", login_url)  # Django's CSRF check over HTTPS
        request.add_header("Origin", self.origin)
        status, _ = self._open(request)
        if status != 302 or self._cookie("sessionid") is None:
            raise SignInError(f"sign-in as {username!r} was refused (HTTP {status})")

    def fetch_keys(self) -> KeySet:
        """Fetch and validate keys.json, past every cache."""
        request = self._request(KEYS_PATH)
        request.add_header("Cache-Control", "no-cache")
        request.add_header("Pragma", "no-cache")
        status, body = self._open(request)
        if status != 200:
            raise ServerError(f"keys.json unavailable (HTTP {status})")
        try:
            return parse_key_set(body)
        except ProtocolError as exc:
            raise ServerError(f"keys.json is invalid: {exc}") from exc
