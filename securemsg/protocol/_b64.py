"""Strict base64url without padding (RFC 4648 section 5), as protocol.md requires."""

from __future__ import annotations

import binascii

from .exceptions import MalformedMessageError

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Maps base64url to the standard alphabet that binascii decodes, and every
# character that is not base64url ("+", "/" and the "=" padding included) to
# "!", which binascii's strict mode rejects; so one translate plus one strict
# decode check every character (no per-character Python work).


def _decoding_table() -> bytes:
    table = bytearray(b"!" * 256)
    for char in _ALPHABET.encode("ascii"):
        table[char] = char
    table[ord("-")], table[ord("_")] = ord("+"), ord("/")
    return bytes(table)


_TO_STANDARD = _decoding_table()
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
# Unused low bits of the last character, by length mod 4 (1 is impossible).
_UNUSED_BITS_MASK = (0, 0, 0x0F, 0x03)
_PADDING = (b"", b"", b"==", b"=")


def b64u_encode(data: bytes) -> str:
    """Encode ``data`` as base64url without padding."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


def b64u_decode(text: str, *, field: str = "value") -> bytes:
    """Decode canonical unpadded base64url, or raise MalformedMessageError.

    Padded, non-alphabet and non-canonical encodings (a length of 1 mod 4, or
    non-zero unused trailing bits) are all rejected, so every byte string
    has exactly one accepted encoding.
    """
    if not isinstance(text, str):
        raise MalformedMessageError(f"{field} must be a base64url string")
    remainder = len(text) % 4
    if remainder == 1:
        raise MalformedMessageError(f"{field} has an impossible base64url length")
    try:
        raw = text.encode("ascii").translate(_TO_STANDARD)
        if remainder:
            raw += _PADDING[remainder]
        data = binascii.a2b_base64(raw, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise MalformedMessageError(f"{field} is not unpadded base64url") from exc
    # Decoders ignore the unused trailing bits; a canonical encoding has them
    # zero, so every byte string has exactly one accepted encoding.
    if remainder and _ALPHABET.index(text[-1]) & _UNUSED_BITS_MASK[remainder]:
        raise MalformedMessageError(f"{field} is not canonical base64url")
    return data
