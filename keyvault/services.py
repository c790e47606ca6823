"""The key vault's service API: the only way other code reads or changes keys.

Re-exported from ``keyvault`` (see ``keyvault/__init__.py``). Functions
that touch the database are synchronous; call them from async code through
``database_sync_to_async`` / ``sync_to_async``.
"""

from __future__ import annotations

from .internal.cache import cache as _cache
from .internal.datakeys import (
    DataKeyHandle,
    DataKeyInfo,
    list_data_keys,
    new_data_key,
    open_data_key,
)
from .internal.keyring import VaultKeyring, server_keyring, sign_checkpoint
from .internal.lifecycle import (
    DueReport,
    allow_deletion,
    cancel_deletion,
    destroy_key,
    disable_key,
    mark_compromised,
    reenable_key,
    retire_key,
    rotate,
    run_due,
    schedule_deletion,
)
from .internal.masterops import (
    add_master_version,
    compromise_master_version,
    set_minimum_master_version,
)
from .internal.minimum import (
    MinimumVersionReport,
    minimum_key_versions,
    preview_minimum_key_version,
    set_minimum_key_version,
)
from .internal.publication import keys_document, public_spki
from .internal.rewrap import RewrapReport, rewrap
from .internal.setup import InitReport, initialize
from .internal.usage import flush as flush_usage
from .kms import reset_backend

__all__ = [
    "DataKeyHandle",
    "DataKeyInfo",
    "DueReport",
    "InitReport",
    "MinimumVersionReport",
    "RewrapReport",
    "VaultKeyring",
    "add_master_version",
    "allow_deletion",
    "cancel_deletion",
    "compromise_master_version",
    "destroy_key",
    "disable_key",
    "flush_usage",
    "initialize",
    "keys_document",
    "list_data_keys",
    "mark_compromised",
    "minimum_key_versions",
    "new_data_key",
    "open_data_key",
    "preview_minimum_key_version",
    "public_spki",
    "reenable_key",
    "reset_caches",
    "retire_key",
    "rewrap",
    "rotate",
    "run_due",
    "schedule_deletion",
    "server_keyring",
    "set_minimum_key_version",
    "set_minimum_master_version",
    "sign_checkpoint",
]


def reset_caches() -> None:
    """Drop this process's unwrapped keys and the backend instance (tests, settings change)."""
    _cache.clear()
    reset_backend()
