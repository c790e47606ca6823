"""An in-memory KMS backend for unit tests of code that calls the backend interface.

Not for production: the master keys vanish with the process. Integration
tests use the real local, passphrase and PKCS#11 backends.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..exceptions import MasterKeyError, MasterKeyMissingError
from ._aesgcm import gcm_unwrap, gcm_wrap
from .base import KMSBackend, WrappedKey

if TYPE_CHECKING:
    from typing import Self

    from ..conf import KeyVaultSettings

__all__ = ["MemoryBackend"]


class MemoryBackend(KMSBackend):
    """Master keys in a class-level dict shared by every instance of the process."""

    name = "memory"
    _keys: ClassVar[dict[int, bytes]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def from_settings(cls, conf: KeyVaultSettings) -> Self:
        """Return a backend over the process-wide in-memory keyring."""
        del conf
        return cls()

    @classmethod
    def reset(cls) -> None:
        """Forget every master key (tests)."""
        with cls._lock:
            cls._keys.clear()

    def exists(self) -> bool:
        """Return whether a master key version exists in memory."""
        return bool(self._keys)

    def create(self) -> int:
        """Create master version 1."""
        with self._lock:
            if self._keys:
                raise MasterKeyError("the in-memory master key already exists")
            self._keys[1] = AESGCM.generate_key(bit_length=256)
        return 1

    def add_version(self) -> int:
        """Add a version and make it primary."""
        with self._lock:
            version = max(self._keys, default=0) + 1
            self._keys[version] = AESGCM.generate_key(bit_length=256)
        return version

    def versions(self) -> list[int]:
        """Return the versions held."""
        if not self._keys:
            raise MasterKeyMissingError("no in-memory master key")
        return sorted(self._keys)

    def primary_version(self) -> int:
        """The newest version is primary."""
        return self.versions()[-1]

    def _key(self, version: int) -> bytes:
        try:
            return self._keys[version]
        except KeyError:
            raise MasterKeyMissingError(f"master key version {version} is not present") from None

    def wrap(self, key: bytes, *, aad: bytes, version: int | None = None) -> WrappedKey:
        """Wrap with AES-256-GCM."""
        version = self.primary_version() if version is None else version
        return WrappedKey(version, gcm_wrap(self._key(version), key, aad))

    def unwrap(self, blob: bytes, *, version: int, aad: bytes) -> bytes:
        """Unwrap with AES-256-GCM."""
        return gcm_unwrap(self._key(version), blob, aad, version=version)

    def health(self) -> None:
        """Healthy when at least one version exists."""
        self.versions()
