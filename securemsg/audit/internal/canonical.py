"""Canonical JSON of an audit row and the chain hash (``docs/audit.md``, "Chain").

``hash = SHA-256(bytes.fromhex(prev_hash) || canonical_json(row))`` where the
canonical JSON is ``json.dumps`` with sorted keys, ``(",", ":")`` separators,
``ensure_ascii=False``, encoded as UTF-8, over exactly the fields in
:data:`HASHED_FIELDS`, with ``ts`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Final

#: The row fields covered by the hash, in the order of the documentation.
HASHED_FIELDS: Final = (
    "seq",
    "ts",
    "event",
    "outcome",
    "actor_id",
    "actor_username",
    "ip",
    "user_agent",
    "target_type",
    "target_id",
    "details",
)


def format_ts(ts: datetime) -> str:
    """``ts`` in UTC as ISO 8601 with microseconds and a ``Z``: ``2026-01-02T03:04:05.000006Z``."""
    if ts.tzinfo is None:
        raise ValueError("ts must be timezone-aware")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """Inverse of :func:`format_ts`; raises ``ValueError`` on any other form."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def canonical_json(row: dict[str, Any]) -> bytes:
    """The canonical UTF-8 JSON of the hashed fields of ``row`` (``ts`` already a string)."""
    body = {name: row[name] for name in HASHED_FIELDS}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """``SHA-256(prev_hash || canonical JSON of row)`` as 64 lowercase hex digits."""
    digest = hashlib.sha256(bytes.fromhex(prev_hash))
    digest.update(canonical_json(row))
    return digest.hexdigest()
