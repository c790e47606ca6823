"""Errors of the Python client, each with the CLI exit status it maps to."""

from __future__ import annotations

from typing import ClassVar

from ..protocol import (
    AuthenticationFailedError,
    CloseCode,
    HandshakeTimeoutError,
    MalformedMessageError,
    NotLoggedInError,
    OriginNotAllowedError,
    ProtocolError,
    RateLimitedError,
    SequenceError,
    ServerUnavailableError,
    StaleKeyError,
    UnsupportedVersionError,
)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_PIN = 4
EXIT_PROTOCOL = 5
EXIT_NETWORK = 6
EXIT_REQUEST_REFUSED = 7
EXIT_INTERRUPTED = 130


class ClientError(Exception):
    """Base class of the client's own errors (not protocol faults)."""

    exit_status: ClassVar[int] = EXIT_PROTOCOL


class UsageError(ClientError):
    """Bad command-line usage (or a malformed option value)."""

    exit_status = EXIT_USAGE


class SignInError(ClientError):
    """The server refused the username and password (or the sign-in form failed)."""

    exit_status = EXIT_AUTH


class PinRefusedError(ClientError):
    """The server's signing key does not chain to the pinned key: refuse loudly."""

    exit_status = EXIT_PIN


class ServerError(ClientError):
    """The server could not be reached or answered something unusable."""

    exit_status = EXIT_NETWORK


class ClosedByServerError(ClientError):
    """The server closed the WebSocket; ``code`` is its close code."""

    def __init__(self, message: str, *, code: int | None) -> None:
        super().__init__(message)
        self.code = code


_BY_CODE: dict[int, type[ProtocolError]] = {
    CloseCode.MALFORMED: MalformedMessageError,
    CloseCode.NOT_LOGGED_IN: NotLoggedInError,
    CloseCode.ORIGIN_NOT_ALLOWED: OriginNotAllowedError,
    CloseCode.TIMEOUT: HandshakeTimeoutError,
    CloseCode.SEQUENCE: SequenceError,
    CloseCode.AUTHENTICATION_FAILED: AuthenticationFailedError,
    CloseCode.STALE_KEY: StaleKeyError,
    CloseCode.UNSUPPORTED_VERSION: UnsupportedVersionError,
    CloseCode.RATE_LIMITED: RateLimitedError,
    CloseCode.SERVER_UNAVAILABLE: ServerUnavailableError,
}


def describe_close(code: int | None) -> str:
    """Return a one-line explanation of a close code sent by the server."""
    if code is None:
        return "the connection was lost"
    cls = _BY_CODE.get(code)
    if cls is None:
        return f"the server closed the connection (code {code})"
    reason = (cls.__doc__ or cls.reason).rstrip(".")
    return f"the server closed the connection: {reason} ({code})"


def exit_status_for_close(code: int | None) -> int:
    """Map a server close code to the CLI exit status."""
    if code == CloseCode.NOT_LOGGED_IN:
        return EXIT_AUTH
    return EXIT_PROTOCOL
