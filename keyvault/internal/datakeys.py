"""Data keys: random 32-byte AES keys wrapped by the master key (per conversation, audit MAC...).

The message store encrypts bodies under a per-conversation data key; the
audit log keeps its MAC key the same way. ``keyvault rewrap`` carries data
keys to a new master version like server keys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.utils import timezone

from ..exceptions import UnknownKeyError
from ..kms import get_backend
from ..models import DataKey
from . import usage
from .cache import cache
from .envelope import data_key_aad
from .master import unwrap_checked, wrap_primary

__all__ = ["DataKeyHandle", "DataKeyInfo", "list_data_keys", "new_data_key", "open_data_key"]

_MAX_PURPOSE = 40
_MAX_CONTEXT = 200


@dataclass(frozen=True)
class DataKeyHandle:
    """A data key's id (store it next to the data) and its 32 key bytes (never store)."""

    key_id: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class DataKeyInfo:
    """What may be known about a data key without opening it (no key material)."""

    key_id: str
    purpose: str
    context: str
    created_at: datetime


def list_data_keys(purpose: str) -> list[DataKeyInfo]:
    """The data keys made for ``purpose``, oldest first (ids and contexts only).

    The context is bound into each key's wrap, so an edited context makes
    ``open_data_key`` fail: callers may rely on it once the key has opened.
    """
    rows = DataKey.objects.filter(purpose=purpose).order_by("id")
    return [
        DataKeyInfo(row.key_id, row.purpose, row.context, row.created_at)
        for row in rows.only("key_id", "purpose", "context", "created_at")
    ]


def new_data_key(purpose: str, context: str = "") -> DataKeyHandle:
    """Create a random 32-byte data key for ``purpose``, wrap it and store the wrapped form.

    ``purpose`` (e.g. ``"message"``, ``"audit"``) and ``context`` (e.g. a
    conversation id, not secret) are bound into the wrap's AAD and must be
    given again to open it. Call it inside the transaction that stores the
    data so that an orphan key is rolled back with it.
    """
    if not purpose or len(purpose) > _MAX_PURPOSE:
        raise ValueError(f"purpose must be 1 to {_MAX_PURPOSE} characters")
    if len(context) > _MAX_CONTEXT:
        raise ValueError(f"context must be at most {_MAX_CONTEXT} characters")
    key = AESGCM.generate_key(bit_length=256)
    key_id = "dk-" + uuid.uuid4().hex
    aad = data_key_aad(key_id=key_id, purpose=purpose, context=context)
    wrapped = wrap_primary(get_backend(), key, aad=aad)
    DataKey.objects.create(
        key_id=key_id,
        purpose=purpose,
        context=context,
        master_version=wrapped.version,
        wrapped_key=wrapped.blob,
        created_at=timezone.now(),
    )
    usage.count_master_wrap(wrapped.version)
    cache.put("data", key_id, (purpose, key))
    return DataKeyHandle(key_id, key)


def open_data_key(key_id: str, *, purpose: str) -> bytes:
    """Return the 32 bytes of data key ``key_id``, which must have been made for ``purpose``.

    Raises UnknownKeyError (no such key or another purpose), CorruptedKeyError
    (the row does not authenticate) or a MasterKeyError.
    """
    cached = cache.get("data", key_id)
    if isinstance(cached, tuple) and cached[0] == purpose:
        key: bytes = cached[1]
        return key
    row = DataKey.objects.filter(key_id=key_id, purpose=purpose).first()
    if row is None:
        raise UnknownKeyError(f"no data key {key_id!r} for purpose {purpose!r}")
    key = unwrap_checked(
        get_backend(),
        bytes(row.wrapped_key),
        version=row.master_version,
        aad=data_key_aad(key_id=row.key_id, purpose=row.purpose, context=row.context),
        what=f"data key {row.key_id}",
    )
    cache.put("data", key_id, (purpose, key))
    return key
