"""Field hygiene: the one place that keeps secrets out of audit events.

A detail key that names a secret (password, token, key material, CSRF token,
session key, message body...) is refused with :class:`AuditFieldError`,
so the mistake shows up in the emitter's tests instead of in the log. Values
are limited to JSON types that survive a database round trip unchanged
(no floats), and strings that look like key material are refused too.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from securemsg.audit.exceptions import AuditFieldError

#: Any of these words in a key name marks the value as secret.
_SECRET_WORDS: Final = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "csrf",
        "csrftoken",
        "csrfmiddlewaretoken",
        "sessionid",
        "cookie",
        "authorization",
        "credential",
        "credentials",
        "body",
        "plaintext",
        "private",
        "pin",
        "otp",
        "seed",
        "mnemonic",
    }
)
#: "key" is allowed only next to one of these words (key_id, key_version...):
#: bare "key", "master_key", "session_key", "key_material" are refused.
_KEY_QUALIFIERS: Final = frozenset(
    {"id", "ids", "kid", "kids", "version", "versions", "type", "use", "state", "status"}
    | {"count", "size", "bits", "alg", "algorithm", "purpose", "fingerprint", "age", "usage"}
)
#: Values that look like key material or tokens, whatever their key is called.
_SECRET_VALUE_RE: Final = re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----")

#: Largest canonical JSON of ``details`` we store ("a small JSON").
MAX_DETAILS_BYTES: Final = 4096
#: Deepest nesting of ``details``.
_MAX_DEPTH: Final = 4
#: Splits camelCase names ("sessionKey") into words.
_CAMEL_RE: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", _CAMEL_RE.sub("_", name).lower()) if w]


def is_secret_name(name: str) -> bool:
    """True when a field or detail key names something that must never be logged."""
    words = _words(name)
    if any(word in _SECRET_WORDS for word in words):
        return True
    if "key" in words or "keys" in words:
        return not any(word in _KEY_QUALIFIERS for word in words)
    return False


def clean_text(value: object, limit: int) -> str:
    """``value`` as a string of at most ``limit`` characters without NULs or lone surrogates."""
    text = "" if value is None else str(value)
    text = text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def _clean_value(path: str, value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise AuditFieldError(f"audit detail {path!r} is nested too deeply")
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        if _SECRET_VALUE_RE.search(value):
            raise AuditFieldError(f"audit detail {path!r} looks like key material")
        return clean_text(value, 1024)
    if isinstance(value, list | tuple):
        return [_clean_value(f"{path}[]", item, depth + 1) for item in value]
    if isinstance(value, dict):
        return clean_details(value, _path=path, _depth=depth + 1)
    raise AuditFieldError(
        f"audit detail {path!r} has type {type(value).__name__}; "
        "use str, int, bool, None, list or dict"
    )


def clean_details(details: dict[str, Any], *, _path: str = "", _depth: int = 0) -> dict[str, Any]:
    """Checked copy of ``details``; raises ``AuditFieldError`` for secret or bad fields."""
    cleaned: dict[str, Any] = {}
    for key, value in details.items():
        if not isinstance(key, str):
            raise AuditFieldError(f"audit detail keys must be strings, got {key!r}")
        path = f"{_path}.{key}" if _path else key
        if is_secret_name(key):
            raise AuditFieldError(f"audit detail {path!r} names a secret; it is never recorded")
        cleaned[key] = _clean_value(path, value, _depth)
    if not _path:
        size = len(json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_DETAILS_BYTES:
            raise AuditFieldError(
                f"audit details are {size} bytes; at most {MAX_DETAILS_BYTES} are kept"
            )
    return cleaned
