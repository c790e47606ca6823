"""JSON framing: one object per text frame, strict field access."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, cast

from ._b64 import b64u_decode
from ._constants import MAX_FRAME_SIZE
from .exceptions import MalformedMessageError

Frame = str | bytes | Mapping[str, Any]


# One encoder for all calls: json.dumps with options builds a new encoder per
# call, which costs a noticeable part of sealing a small record.
# ``ensure_ascii=False`` matters for sizes: a 4,096-byte body must not grow
# six-fold through ``\u`` escapes and overflow the record limit.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_encode = _ENCODER.encode


def encode_json(obj: Mapping[str, Any]) -> str:
    """Encode a message as compact JSON that keeps non-ASCII text as UTF-8."""
    return _encode(obj)


def encode_json_bytes(obj: Mapping[str, Any]) -> bytes:
    """Encode a message as compact UTF-8 JSON bytes (record plaintext)."""
    return encode_json(obj).encode("utf-8")


def _reject_constant(name: str) -> NoReturn:
    # NaN and Infinity are not JSON; Python accepts them by default.
    raise MalformedMessageError(f"non-standard JSON constant {name}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys are read differently by different parsers (first vs
    # last wins), which would let two implementations see two messages.
    # dict() builds in C; a shorter dict means a key came twice.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise MalformedMessageError(f"duplicate JSON key {key!r}")
            seen.add(key)
    return obj


# One decoder for all calls: json.loads would build a new one per call when
# hooks are given, which costs as much as decoding a small record.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_reject_constant)
# JSONDecoder.decode is two thin Python layers (decode, raw_decode) around
# this scanner; calling it directly, with decode's own whitespace rule,
# parses exactly the same documents with less per-call work.
_scan_once: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
# json.decoder.WHITESPACE; the pattern matches everywhere (maybe empty).
_skip_whitespace = cast(Callable[[str, int], "re.Match[str]"], re.compile(r"[ \t\n\r]*").match)


def parse_json_object(data: str | bytes, *, limit: int, what: str = "frame") -> dict[str, Any]:
    """Parse UTF-8 JSON text holding one object of at most ``limit`` bytes."""
    if isinstance(data, str) and data.isascii():
        # The usual case (every record frame): no copy needed to count bytes.
        if len(data) > limit:
            raise MalformedMessageError(f"{what} larger than {limit} bytes")
        return _decode_object(data, what)
    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates
            raise MalformedMessageError(f"{what} is not valid UTF-8") from exc
    elif isinstance(data, bytes):
        raw = data
    else:
        raise MalformedMessageError(f"{what} must be text")
    if len(raw) > limit:
        raise MalformedMessageError(f"{what} larger than {limit} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessageError(f"{what} is not valid UTF-8") from exc
    return _decode_object(text, what)


def _decode_object(text: str, what: str) -> dict[str, Any]:
    # ValueError covers JSONDecodeError and int() refusing a number of more
    # than 4,300 digits (sys.set_int_max_str_digits), which a frame can hold.
    try:
        obj, end = _scan_once(text, _skip_whitespace(text, 0).end())
    except (StopIteration, ValueError, RecursionError) as exc:
        raise MalformedMessageError(f"{what} is not JSON") from exc
    if _skip_whitespace(text, end).end() != len(text):
        raise MalformedMessageError(f"{what} is not JSON")  # data after the object
    if not isinstance(obj, dict):
        raise MalformedMessageError(f"{what} is not a JSON object")
    return obj


# The exact frame every encoder here writes for a record:
# {"type":"rec","seq":<digits>,"ct":"<base64url>"} (encode_json, no spaces).
_RECORD_START = '{"type":"rec","seq":'
_RECORD_CT = ',"ct":"'
_RECORD_END = '"}'
# Longer seq digit strings go the general way (MAX_SEQ has 20 digits).
_MAX_SEQ_DIGITS = 20


def split_record_frame(frame: Frame) -> tuple[int, str] | None:
    """Return (seq, ct text) of a record frame in its canonical form, else None.

    A fast path for the frame every peer sends: when it returns a value,
    ``decode_frame`` would have returned exactly ``{"type": "rec", "seq":
    seq, "ct": ct}`` (ASCII text within the frame limit, the three keys once
    each in this order, a JSON integer without leading zeros, a string
    without quotes or escapes); ``ct`` still has to pass ``b64u_decode``,
    which also rejects the control characters JSON would have refused. For
    anything else it returns None and the caller parses the frame in full,
    so the accepted documents and the errors are those of ``decode_frame``.
    """
    if (
        type(frame) is not str
        or not frame.startswith(_RECORD_START)
        or not frame.endswith(_RECORD_END)
        or len(frame) > MAX_FRAME_SIZE
        or not frame.isascii()
    ):
        return None
    mark = frame.find(_RECORD_CT, len(_RECORD_START))
    digits = frame[len(_RECORD_START) : mark]
    if (
        mark < 0
        or not 0 < len(digits) <= _MAX_SEQ_DIGITS
        or not digits.isdigit()  # ASCII here, so only 0-9
        or (digits[0] == "0" and len(digits) > 1)
    ):
        return None
    ct = frame[mark + len(_RECORD_CT) : -len(_RECORD_END)]
    if '"' in ct or "\\" in ct:
        return None
    return int(digits), ct


def decode_frame(frame: Frame) -> dict[str, Any]:
    """Turn a received text frame (or an already decoded object) into a dict.

    Adapters should pass the raw frame text, so that the 65,536-byte limit is
    enforced here; an already decoded mapping is accepted for convenience.
    """
    if isinstance(frame, Mapping):
        return dict(frame)
    return parse_json_object(frame, limit=MAX_FRAME_SIZE)


def require_str(obj: Mapping[str, Any], name: str) -> str:
    """Return the required string field ``name`` or raise MalformedMessageError."""
    value = obj.get(name)
    if not isinstance(value, str):
        raise MalformedMessageError(f"{name} must be a string")
    if not value.isascii():
        # JSON "\ud800" escapes yield lone surrogates, which cannot be
        # written as UTF-8 (into TH, a record, the database) later on.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MalformedMessageError(f"{name} is not valid Unicode text") from exc
    return value


def require_int(obj: Mapping[str, Any], name: str) -> int:
    """Return the required integer field ``name`` (booleans are not integers)."""
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedMessageError(f"{name} must be an integer")
    return value


def require_bool(obj: Mapping[str, Any], name: str) -> bool:
    """Return the required boolean field ``name``."""
    value = obj.get(name)
    if not isinstance(value, bool):
        raise MalformedMessageError(f"{name} must be a boolean")
    return value


def require_bytes(obj: Mapping[str, Any], name: str, *, size: int | None = None) -> bytes:
    """Return the base64url field ``name`` decoded, optionally of exact ``size``."""
    data = b64u_decode(require_str(obj, name), field=name)
    if size is not None and len(data) != size:
        raise MalformedMessageError(f"{name} must be {size} bytes")
    return data


def require_name(obj: Mapping[str, Any], name: str, *, max_length: int) -> str:
    """Return a non-empty identifier string (kid, username) of bounded length."""
    value = require_str(obj, name)
    if not 1 <= len(value) <= max_length:
        raise MalformedMessageError(f"{name} must have 1 to {max_length} characters")
    return value
