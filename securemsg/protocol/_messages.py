"""Parsing and building of the three handshake messages (protocol.md, "Handshake")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from ._b64 import b64u_encode
from ._constants import (
    MAX_KID_LENGTH,
    MAX_USER_LENGTH,
    NONCE_SIZE,
    SESSION_ID_SIZE,
    SUITE,
    VERSION,
)
from ._crypto import load_rsa_spki
from ._framing import require_bytes, require_int, require_name, require_str
from .exceptions import UnexpectedMessageError, UnsupportedVersionError

FINISHED_MAC_SIZE = 32


def expect_type(obj: Mapping[str, Any], expected: str) -> None:
    """Check ``type``: missing or mistyped is 4400, another type is out of order (4400)."""
    kind = require_str(obj, "type")
    if kind != expected:
        raise UnexpectedMessageError(f"expected {expected}, got {kind[:32]!r}")


def check_version_and_suite(obj: Mapping[str, Any]) -> None:
    """Check ``v`` and ``suite`` before any other field.

    Mistyped values are 4400 (``"v": "1"``); well-typed unsupported ones are
    4426. They are checked first so that a hello of a future version, whose
    other fields may differ, still gets the informative 4426.
    """
    if require_int(obj, "v") != VERSION:
        raise UnsupportedVersionError("unsupported protocol version")
    if require_str(obj, "suite") != SUITE:
        raise UnsupportedVersionError("unsupported suite")


@dataclass(frozen=True)
class ClientHello:
    """A validated client_hello."""

    client_key: bytes
    client_public_key: rsa.RSAPublicKey
    client_nonce: bytes
    enc_kid: str
    wrapped_client_secret: bytes

    def to_frame(self) -> dict[str, Any]:
        """Return the wire form of this message."""
        return {
            "type": "client_hello",
            "v": VERSION,
            "suite": SUITE,
            "client_key": b64u_encode(self.client_key),
            "client_nonce": b64u_encode(self.client_nonce),
            "enc_kid": self.enc_kid,
            "wrapped_client_secret": b64u_encode(self.wrapped_client_secret),
        }


def parse_client_hello(obj: Mapping[str, Any]) -> ClientHello:
    """Validate a client_hello; raises the 4400/4426 errors.

    ``wrapped_client_secret`` is only checked to be base64url: its length
    and content are judged silently by the server (no oracle).
    """
    expect_type(obj, "client_hello")
    check_version_and_suite(obj)
    client_key = require_bytes(obj, "client_key")
    return ClientHello(
        client_key=client_key,
        client_public_key=load_rsa_spki(client_key, field="client_key"),
        client_nonce=require_bytes(obj, "client_nonce", size=NONCE_SIZE),
        enc_kid=require_name(obj, "enc_kid", max_length=MAX_KID_LENGTH),
        wrapped_client_secret=require_bytes(obj, "wrapped_client_secret"),
    )


@dataclass(frozen=True)
class ServerHello:
    """A validated server_hello (signature not yet verified)."""

    server_nonce: bytes
    session_id: bytes
    sig_kid: str
    user: str
    wrapped_server_secret: bytes
    signature: bytes

    def to_frame(self) -> dict[str, Any]:
        """Return the wire form of this message."""
        return {
            "type": "server_hello",
            "v": VERSION,
            "suite": SUITE,
            "server_nonce": b64u_encode(self.server_nonce),
            "session_id": b64u_encode(self.session_id),
            "sig_kid": self.sig_kid,
            "user": self.user,
            "wrapped_server_secret": b64u_encode(self.wrapped_server_secret),
            "signature": b64u_encode(self.signature),
        }


def parse_server_hello(obj: Mapping[str, Any]) -> ServerHello:
    """Validate a server_hello's shape; raises the 4400/4426 errors."""
    expect_type(obj, "server_hello")
    check_version_and_suite(obj)
    return ServerHello(
        server_nonce=require_bytes(obj, "server_nonce", size=NONCE_SIZE),
        session_id=require_bytes(obj, "session_id", size=SESSION_ID_SIZE),
        sig_kid=require_name(obj, "sig_kid", max_length=MAX_KID_LENGTH),
        user=require_name(obj, "user", max_length=MAX_USER_LENGTH),
        wrapped_server_secret=require_bytes(obj, "wrapped_server_secret"),
        signature=require_bytes(obj, "signature"),
    )


def client_finished_frame(mac: bytes) -> dict[str, Any]:
    """Return the wire form of client_finished."""
    return {"type": "client_finished", "mac": b64u_encode(mac)}


def parse_client_finished(obj: Mapping[str, Any]) -> bytes:
    """Validate a client_finished and return its 32-byte MAC."""
    expect_type(obj, "client_finished")
    return require_bytes(obj, "mac", size=FINISHED_MAC_SIZE)
