"""Strict base64url without padding (RFC 4648 section 5), as protocol.md requires."""

from __future__ import annotations

import base64
import binascii

from .exceptions import MalformedMessageError

# Only the URL-safe alphabet; "=" padding is not part of the wire format.
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Unused low bits of the last character for a length of 2 or 3 (mod 4).
_UNUSED_BITS_MASK = {2: 0x0F, 3: 0x03}


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
    # Strict decoding below rejects any character outside the standard
    # alphabet; these checks reject padding and the standard alphabet's
    # "+" and "/", which are not base64url. (Cheaper than a regex on 20 KiB.)
    if not text.isascii() or "=" in text or "+" in text or "/" in text:
        raise MalformedMessageError(f"{field} is not unpadded base64url")
    remainder = len(text) % 4
    if remainder == 1:
        raise MalformedMessageError(f"{field} has an impossible base64url length")
    # Decoders ignore the unused trailing bits; a canonical encoding has them
    # zero, so every byte string has exactly one accepted encoding.
    if remainder:
        last = _ALPHABET.find(text[-1])  # -1 (not in the alphabet) has every bit set
        if last & _UNUSED_BITS_MASK[remainder]:
            raise MalformedMessageError(f"{field} is not canonical base64url")
    try:
        raw = text.encode("ascii").translate(_TO_STANDARD) + b"=" * (-remainder % 4)
        return binascii.a2b_base64(raw, strict_mode=True)
    except binascii.Error as exc:
        raise MalformedMessageError(f"{field} is not base64url") from exc
