"""The contract every KMS backend implements.

A backend holds the *master key* versions and does exactly two things with
them: wrap a short secret (a 32-byte data-encryption key) and unwrap it
again, both with additional authenticated data (AAD) that binds the wrapped
key to the row it belongs to. It never sees private keys, rows or the
database; the envelope scheme lives in ``keyvault.internal.envelope``.

Versions are positive integers. New wraps use the *primary* version;
every version the backend still lists can unwrap. ``keyvault master-add``
adds a version and makes it primary, ``keyvault rewrap`` then moves every
wrapped key to it (the ``MultiFernet.rotate`` pattern).

Example::

    backend = get_backend()
    wrapped = backend.wrap(dek, aad=b"row binding")
    assert backend.unwrap(wrapped.blob, version=wrapped.version, aad=b"row binding") == dek
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from typing import Self

    from ..conf import KeyVaultSettings

__all__ = ["KMSBackend", "WrappedKey"]


@dataclass(frozen=True)
class WrappedKey:
    """A key wrapped by the master key ``version``; ``blob`` is opaque to callers."""

    version: int
    blob: bytes

    def __repr__(self) -> str:
        # The blob is ciphertext, but there is no reason to print it either.
        return f"WrappedKey(version={self.version}, blob=<{len(self.blob)} bytes>)"


class KMSBackend(ABC):
    """Master-key operations of one KMS (local keyring, passphrase, PKCS#11 token...)."""

    #: Short name used in settings, logs and the audit log.
    name: ClassVar[str]
    #: Whether ``create`` can make a first master key without an operator (run command).
    creates_automatically: ClassVar[bool] = True

    @classmethod
    @abstractmethod
    def from_settings(cls, conf: KeyVaultSettings) -> Self:
        """Build the backend from the vault settings.

        Raises ConfigurationError naming the setting when a value is missing
        or invalid. Must not create anything (``create`` does).
        """

    @abstractmethod
    def exists(self) -> bool:
        """Return whether any master key version is present.

        Raises TokenUnavailableError / ConfigurationError when that cannot be
        determined (it never guesses "absent" on an error: that would let
        ``init`` create a new master key and orphan every wrapped key).
        """

    @abstractmethod
    def create(self) -> int:
        """Create master version 1 (primary) and return 1.

        Called only by ``keyvault init`` when ``exists()`` is false and the
        database holds no wrapped key. Raises MasterKeyError if it exists.
        """

    @abstractmethod
    def add_version(self) -> int:
        """Create a new master version, make it primary and return its number.

        Raises ConfigurationError when the configuration cannot hold more
        than one version (e.g. a key given in an environment variable).
        """

    @abstractmethod
    def versions(self) -> list[int]:
        """Return every master version present, ascending.

        Raises MasterKeyMissingError if there is none.
        """

    @abstractmethod
    def primary_version(self) -> int:
        """Return the version that ``wrap`` uses."""

    @abstractmethod
    def wrap(self, key: bytes, *, aad: bytes, version: int | None = None) -> WrappedKey:
        """Encrypt and authenticate ``key`` under ``version`` (default: primary) with ``aad``.

        Raises MasterKeyMissingError for a version it does not hold and
        TokenUnavailableError when a token cannot be used.
        """

    @abstractmethod
    def unwrap(self, blob: bytes, *, version: int, aad: bytes) -> bytes:
        """Return the key wrapped in ``blob`` under ``version`` with ``aad``.

        Raises CorruptedKeyError when the blob does not authenticate (a
        tampered or swapped row, or a different key behind the same version
        number: the vault tells the two apart with its check values),
        MasterKeyMissingError for an unknown version, TokenUnavailableError
        when a token cannot be used. Never returns unauthenticated bytes.
        """

    @abstractmethod
    def health(self) -> None:
        """Check that the master key material can be used; raise a KeyVaultError if not."""

    def describe(self) -> str:
        """A one-line description for ``keyvault status`` (no secret)."""
        return self.name
