"""The ``passphrase`` backend: master keys derived from an operator passphrase with Argon2id.

Nothing secret is stored: a parameters file (``SECUREMSG_MASTER_PASSPHRASE_PARAMS_FILE``)
keeps, per numbered version, the KDF name, its parameters, a random salt and
a check value (AES-256-GCM of a fixed string under the derived key), so a
wrong passphrase is reported as such instead of as damaged rows::

    {"format": "securemsg-master-passphrase/1", "primary": 1,
     "versions": {"1": {"kdf": "argon2id", "salt": "...", "iterations": 3,
                        "lanes": 4, "memory_kib": 65536, "check": "..."}}}

Every version derives from the same passphrase with its own salt. The
derived keys are kept in memory for the life of the process (one Argon2id
run per version, ~0.4 s).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ..exceptions import (
    ConfigurationError,
    CorruptedKeyError,
    MasterKeyError,
    MasterKeyMissingError,
    WrongMasterKeyError,
)
from ._aesgcm import gcm_unwrap, gcm_wrap
from ._files import write_private_json
from .base import KMSBackend, WrappedKey

if TYPE_CHECKING:
    from typing import Self

    from ..conf import KeyVaultSettings

__all__ = ["ARGON2_PARAMS", "PARAMS_FORMAT", "PassphraseBackend"]

PARAMS_FORMAT = "securemsg-master-passphrase/1"
#: Argon2id parameters for new versions: RFC 9106's second recommendation
#: (64 MiB, 3 passes, 4 lanes), about 0.4 s once per version and process.
ARGON2_PARAMS = {"iterations": 3, "lanes": 4, "memory_kib": 65536}
_SALT_SIZE = 16
_MIN_PASSPHRASE = 12
_CHECK_AAD = b"securemsg/keyvault passphrase check"
_PASS_SETTING = "SECUREMSG_MASTER_PASSPHRASE"  # noqa: S105 (a name)  # nosec B105
_FILE_SETTING = "SECUREMSG_MASTER_PASSPHRASE_PARAMS_FILE"


class PassphraseBackend(KMSBackend):
    """Master keys derived from ``SECUREMSG_MASTER_PASSPHRASE`` (or ``..._FILE``)."""

    name = "passphrase"

    def __init__(self, passphrase: str, params_file: Path) -> None:
        self._passphrase = passphrase
        self._path = params_file
        self._derived: dict[int, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, conf: KeyVaultSettings) -> Self:
        """Read the passphrase (required) and the parameters file path."""
        passphrase = conf.master_passphrase
        if not passphrase:
            raise ConfigurationError(
                f"is required by the passphrase backend (or {_PASS_SETTING}_FILE)",
                setting=_PASS_SETTING,
            )
        if len(passphrase) < _MIN_PASSPHRASE:
            raise ConfigurationError(
                f"must be at least {_MIN_PASSPHRASE} characters", setting=_PASS_SETTING
            )
        return cls(passphrase, conf.passphrase_params_file)

    def describe(self) -> str:
        """Name the parameters file (never the passphrase)."""
        return f"passphrase (Argon2id, parameters in {self._path})"

    def _load(self) -> dict[str, Any]:
        try:
            doc = json.loads(self._path.read_bytes())
        except FileNotFoundError:
            raise MasterKeyMissingError(
                f"no passphrase parameters at {self._path}; run 'manage.py keyvault init'"
            ) from None
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read {self._path} ({type(exc).__name__})", setting=_FILE_SETTING
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != PARAMS_FORMAT:
            raise ConfigurationError(
                f"{self._path} is not a {PARAMS_FORMAT} file", setting=_FILE_SETTING
            )
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        write_private_json(self._path, doc)

    def _new_entry(self) -> tuple[dict[str, Any], bytes]:
        salt = os.urandom(_SALT_SIZE)
        key = self._derive(salt, ARGON2_PARAMS)
        entry = {
            "kdf": "argon2id",
            "salt": base64.b64encode(salt).decode(),
            **ARGON2_PARAMS,
            "check": base64.b64encode(gcm_wrap(key, b"check", _CHECK_AAD)).decode(),
        }
        return entry, key

    def _derive(self, salt: bytes, params: dict[str, Any]) -> bytes:
        return Argon2id(
            salt=salt,
            length=32,
            iterations=int(params["iterations"]),
            lanes=int(params["lanes"]),
            memory_cost=int(params["memory_kib"]),
        ).derive(self._passphrase.encode())

    def _key(self, version: int) -> bytes:
        with self._lock:
            if version in self._derived:
                return self._derived[version]
        entry = self._load()["versions"].get(str(version))
        if entry is None:
            raise MasterKeyMissingError(f"master key version {version} has no parameters")
        try:
            if entry.get("kdf") != "argon2id":
                raise ValueError("unknown kdf")
            key = self._derive(base64.b64decode(entry["salt"], validate=True), entry)
            check = base64.b64decode(entry["check"], validate=True)
        except (KeyError, ValueError, TypeError, binascii.Error):
            raise ConfigurationError(
                f"{self._path}: parameters of version {version} are invalid", setting=_FILE_SETTING
            ) from None
        try:
            gcm_unwrap(key, check, _CHECK_AAD, version=version)
        except CorruptedKeyError:
            raise WrongMasterKeyError(
                f"the passphrase does not match master key version {version} ({_PASS_SETTING})"
            ) from None
        with self._lock:
            self._derived[version] = key
        return key

    def exists(self) -> bool:
        """True when the parameters file exists."""
        return self._path.exists()

    def create(self) -> int:
        """Write the parameters file with version 1 (never overwriting)."""
        if self._path.exists():
            raise MasterKeyError(f"{self._path} already exists; refusing to overwrite it")
        entry, key = self._new_entry()
        self._write({"format": PARAMS_FORMAT, "primary": 1, "versions": {"1": entry}})
        with self._lock:
            self._derived[1] = key
        return 1

    def add_version(self) -> int:
        """Add a version with a fresh salt (same passphrase) and make it primary."""
        doc = self._load()
        version = max(int(n) for n in doc["versions"]) + 1
        entry, key = self._new_entry()
        doc["versions"][str(version)] = entry
        doc["primary"] = version
        self._write(doc)
        with self._lock:
            self._derived[version] = key
        return version

    def versions(self) -> list[int]:
        """Versions listed in the parameters file."""
        return sorted(int(n) for n in self._load()["versions"])

    def primary_version(self) -> int:
        """The file's primary version."""
        return int(self._load()["primary"])

    def wrap(self, key: bytes, *, aad: bytes, version: int | None = None) -> WrappedKey:
        """AES-256-GCM under the derived key."""
        number = self.primary_version() if version is None else version
        return WrappedKey(number, gcm_wrap(self._key(number), key, aad))

    def unwrap(self, blob: bytes, *, version: int, aad: bytes) -> bytes:
        """Open an AES-256-GCM blob."""
        return gcm_unwrap(self._key(version), blob, aad, version=version)

    def health(self) -> None:
        """The passphrase opens the primary version's check value."""
        self._key(self.primary_version())
