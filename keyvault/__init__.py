"""The key vault: the server's private keys under envelope encryption.

This package's names are the vault's public API (docs/keyvault.md). They
are imported lazily on first use, because the services need Django's app
registry while ``keyvault`` itself is imported during settings loading.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .exceptions import (
        AuditFailedError,
        ConfigurationError,
        CorruptedKeyError,
        IllegalTransitionError,
        InvalidMinimumVersionError,
        KeyVaultError,
        MasterKeyError,
        MasterKeyMissingError,
        NoActiveKeyError,
        TokenUnavailableError,
        UnknownKeyError,
        WrongMasterKeyError,
    )
    from .services import (
        DataKeyHandle,
        DataKeyInfo,
        DueReport,
        InitReport,
        MinimumVersionReport,
        RewrapReport,
        VaultKeyring,
        add_master_version,
        allow_deletion,
        cancel_deletion,
        compromise_master_version,
        destroy_key,
        disable_key,
        flush_usage,
        initialize,
        keys_document,
        list_data_keys,
        mark_compromised,
        minimum_key_versions,
        new_data_key,
        open_data_key,
        preview_minimum_key_version,
        public_spki,
        reenable_key,
        reset_caches,
        retire_key,
        rewrap,
        rotate,
        run_due,
        schedule_deletion,
        server_keyring,
        set_minimum_key_version,
        set_minimum_master_version,
        sign_checkpoint,
    )

_EXCEPTIONS = (
    "AuditFailedError",
    "ConfigurationError",
    "CorruptedKeyError",
    "IllegalTransitionError",
    "InvalidMinimumVersionError",
    "KeyVaultError",
    "MasterKeyError",
    "MasterKeyMissingError",
    "NoActiveKeyError",
    "TokenUnavailableError",
    "UnknownKeyError",
    "WrongMasterKeyError",
)

__all__ = [
    "AuditFailedError",
    "ConfigurationError",
    "CorruptedKeyError",
    "DataKeyHandle",
    "DataKeyInfo",
    "DueReport",
    "IllegalTransitionError",
    "InitReport",
    "InvalidMinimumVersionError",
    "KeyVaultError",
    "MasterKeyError",
    "MasterKeyMissingError",
    "MinimumVersionReport",
    "NoActiveKeyError",
    "RewrapReport",
    "TokenUnavailableError",
    "UnknownKeyError",
    "VaultKeyring",
    "WrongMasterKeyError",
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


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'keyvault' has no attribute {name!r}")
    module = "exceptions" if name in _EXCEPTIONS else "services"
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
