"""Typed errors of the securemsg/1 protocol core.

Every error the core raises on purpose derives from one base class, so an
adapter (the Channels consumer, the Python client) maps all of them with a
single ``except ProtocolError`` and closes with ``exc.close_code``::

    ProtocolError                       (abstract base, 4400)
    ├── MalformedMessageError           4400 malformed frame or message
    │   └── UnexpectedMessageError      4400 valid message in the wrong state
    ├── NotLoggedInError                4401 no or ended sign-in session
    ├── OriginNotAllowedError           4403 Origin not allowed
    ├── HandshakeTimeoutError           4408 handshake or idle timeout
    ├── SequenceError                   4409 replay, reorder or sequence overflow
    ├── AuthenticationFailedError       4410 any decrypt, MAC or signature failure
    │   └── UntrustedSigningKeyError    4410 (client only) sig_kid does not chain to the pin
    ├── StaleKeyError                   4412 stale or unknown server key
    ├── UnsupportedVersionError         4426 well-typed but unsupported v or suite
    ├── RateLimitedError                4429 rate limited or too many sessions
    └── ServerUnavailableError          4500 the server cannot serve safely

``reason`` is a short, stable reason class for the audit log. Neither it nor
the message ever contains key material, plaintext or which check failed
inside an authentication step: decryption, GCM tag, finished MAC and
signature failures are deliberately one class (no oracle, as Fernet's
``InvalidToken``).
"""

from __future__ import annotations

import enum
from typing import ClassVar

__all__ = [
    "AuthenticationFailedError",
    "CloseCode",
    "HandshakeTimeoutError",
    "MalformedMessageError",
    "NotLoggedInError",
    "OriginNotAllowedError",
    "ProtocolError",
    "RateLimitedError",
    "SequenceError",
    "ServerUnavailableError",
    "StaleKeyError",
    "UnexpectedMessageError",
    "UnsupportedVersionError",
    "UntrustedSigningKeyError",
]


class CloseCode(enum.IntEnum):
    """WebSocket close codes of securemsg/1 (protocol.md, "Close codes")."""

    MALFORMED = 4400
    NOT_LOGGED_IN = 4401
    ORIGIN_NOT_ALLOWED = 4403
    TIMEOUT = 4408
    SEQUENCE = 4409
    AUTHENTICATION_FAILED = 4410
    STALE_KEY = 4412
    UNSUPPORTED_VERSION = 4426
    RATE_LIMITED = 4429
    SERVER_UNAVAILABLE = 4500


class ProtocolError(Exception):
    """Base class of every error that ends a securemsg/1 session."""

    close_code: ClassVar[int] = CloseCode.MALFORMED
    reason: ClassVar[str] = "protocol_error"


class MalformedMessageError(ProtocolError):
    """A frame or message is not valid JSON of the expected shape, type or size."""

    close_code = CloseCode.MALFORMED
    reason = "malformed"


class UnexpectedMessageError(MalformedMessageError):
    """A well-formed message arrived in a state where it is not allowed."""

    reason = "unexpected_message"


class NotLoggedInError(ProtocolError):
    """The WebSocket has no authenticated sign-in session, or it ended."""

    close_code = CloseCode.NOT_LOGGED_IN
    reason = "not_logged_in"


class OriginNotAllowedError(ProtocolError):
    """The WebSocket request's Origin is missing or not allowed."""

    close_code = CloseCode.ORIGIN_NOT_ALLOWED
    reason = "origin_not_allowed"


class HandshakeTimeoutError(ProtocolError):
    """The handshake did not finish in time, or the session was idle too long."""

    close_code = CloseCode.TIMEOUT
    reason = "timeout"


class SequenceError(ProtocolError):
    """A record's seq is not the expected one, or an epoch ran out of records."""

    close_code = CloseCode.SEQUENCE
    reason = "sequence"


class AuthenticationFailedError(ProtocolError):
    """A decryption, GCM tag, finished MAC or signature check failed."""

    close_code = CloseCode.AUTHENTICATION_FAILED
    reason = "authentication_failed"


class UntrustedSigningKeyError(AuthenticationFailedError):
    """The server's sig_kid is unknown or does not chain to the client's pin."""

    reason = "untrusted_signing_key"

    def __init__(self, message: str, *, kid: str, unknown: bool) -> None:
        super().__init__(message)
        # The client re-fetches keys.json once for an unknown kid before it
        # refuses; a known but unendorsed key is refused at once.
        self.kid = kid
        self.unknown = unknown


class StaleKeyError(ProtocolError):
    """The server key named by a kid is unknown, disabled or past its deadline."""

    close_code = CloseCode.STALE_KEY
    reason = "stale_key"


class UnsupportedVersionError(ProtocolError):
    """A well-typed ``v`` or ``suite`` names something this version does not speak."""

    close_code = CloseCode.UNSUPPORTED_VERSION
    reason = "unsupported_version"


class RateLimitedError(ProtocolError):
    """A handshake or session limit was exceeded."""

    close_code = CloseCode.RATE_LIMITED
    reason = "rate_limited"


class ServerUnavailableError(ProtocolError):
    """The key store, audit log or storage is unavailable, so the server fails closed."""

    close_code = CloseCode.SERVER_UNAVAILABLE
    reason = "server_unavailable"
