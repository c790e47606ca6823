"""Strict base64url without padding (RFC 4648 section 5), as protocol.md requires."""

from __future__ import annotations

import base64
import binascii
import re

from .exceptions import MalformedMessageError

# Only the URL-safe alphabet; "=" padding is not part of the wire format.
_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def b64u_encode(data: bytes) -> str:
    """Encode ``data`` as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str, *, field: str = "value") -> bytes:
    """Decode canonical unpadded base64url, or raise MalformedMessageError.

    Padded, non-alphabet and non-canonical encodings (a length of 1 mod 4, or
    non-zero unused trailing bits) are all rejected, so every byte string
    has exactly one accepted encoding.
    """
    if not isinstance(text, str):
        raise MalformedMessageError(f"{field} must be a base64url string")
    if _ALPHABET.fullmatch(text) is None:
        raise MalformedMessageError(f"{field} is not unpadded base64url")
    if len(text) % 4 == 1:
        raise MalformedMessageError(f"{field} has an impossible base64url length")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise MalformedMessageError(f"{field} is not base64url") from exc
    # Re-encoding catches non-zero trailing bits, which decoders ignore.
    if b64u_encode(data) != text:
        raise MalformedMessageError(f"{field} is not canonical base64url")
    return data
