"""The ``pkcs11`` backend: master keys are AES-256 keys on a PKCS#11 token (HSM, SoftHSM2).

The keys are generated on the token as sensitive and non-extractable, so
they never leave it; wrapping is AES-256-GCM computed by the token, with a
random 96-bit nonce and the caller's AAD. Version ``n`` is the secret key
labelled ``<SECUREMSG_PKCS11_KEY_LABEL>-<n>``; the highest version is primary.
A session is opened and logged in per operation (operations are rare: the
vault caches what it unwrapped), so a token that comes back after an outage
works again without a restart.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import PKCS11Error
from pkcs11.mechanisms import GCMParams

from ..exceptions import (
    ConfigurationError,
    CorruptedKeyError,
    MasterKeyError,
    MasterKeyMissingError,
    TokenUnavailableError,
)
from .base import KMSBackend, WrappedKey

if TYPE_CHECKING:
    from typing import Self

    from ..conf import KeyVaultSettings

__all__ = ["Pkcs11Backend"]

_NONCE_SIZE = 12
_TAG_BITS = 128
_libs: dict[str, Any] = {}
_libs_lock = threading.Lock()


def _library(path: str) -> Any:
    """Load a PKCS#11 module once per process (C_Initialize must not run twice)."""
    with _libs_lock:
        if path not in _libs:
            if not os.path.exists(path):
                raise ConfigurationError(
                    f"PKCS#11 module {path} does not exist", setting="SECUREMSG_PKCS11_MODULE"
                )
            try:
                _libs[path] = pkcs11.lib(path)
            except (OSError, RuntimeError, PKCS11Error) as exc:
                raise TokenUnavailableError(
                    f"cannot load PKCS#11 module {path} ({type(exc).__name__})"
                ) from None
        return _libs[path]


class Pkcs11Backend(KMSBackend):
    """AES master keys on a PKCS#11 token, used through python-pkcs11."""

    name = "pkcs11"

    def __init__(self, module: str, token_label: str, pin: str, key_label: str) -> None:
        self._module = module
        self._token_label = token_label
        self._pin = pin
        self._key_label = key_label
        self._pattern = re.compile(re.escape(key_label) + r"-(\d+)")

    @classmethod
    def from_settings(cls, conf: KeyVaultSettings) -> Self:
        """Read module path, token label, PIN (required) and key label prefix."""
        pin = conf.pkcs11_pin
        if not pin:
            raise ConfigurationError(
                "is required by the pkcs11 backend (or SECUREMSG_PKCS11_PIN_FILE)",
                setting="SECUREMSG_PKCS11_PIN",
            )
        return cls(conf.pkcs11_module, conf.pkcs11_token_label, pin, conf.pkcs11_key_label)

    def describe(self) -> str:
        """Module and token label (never the PIN)."""
        return f"pkcs11 (token {self._token_label!r} via {self._module})"

    @contextmanager
    def _session(self, *, rw: bool = False) -> Iterator[Any]:
        lib = _library(self._module)
        try:
            token = lib.get_token(token_label=self._token_label)
            session = token.open(user_pin=self._pin, rw=rw)
        except PKCS11Error as exc:
            # NoSuchToken, PinIncorrect, TokenNotPresent...: the class name says
            # which without revealing the PIN.
            raise TokenUnavailableError(
                f"PKCS#11 token {self._token_label!r} unavailable ({type(exc).__name__})"
            ) from None
        try:
            yield session
        finally:
            try:
                session.close()
            except PKCS11Error:
                pass

    def _keys(self, session: Any) -> dict[int, Any]:
        found = {}
        try:
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                match = self._pattern.fullmatch(obj.label or "")
                if match:
                    found[int(match.group(1))] = obj
        except PKCS11Error as exc:
            raise TokenUnavailableError(
                f"cannot list keys on token {self._token_label!r} ({type(exc).__name__})"
            ) from None
        return found

    def _generate(self, session: Any, version: int) -> None:
        try:
            session.generate_key(
                KeyType.AES,
                256,
                label=f"{self._key_label}-{version}",
                id=version.to_bytes(4, "big"),
                store=True,
                template={
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                },
            )
        except PKCS11Error as exc:
            raise TokenUnavailableError(
                f"cannot generate a key on token {self._token_label!r} ({type(exc).__name__})"
            ) from None

    def exists(self) -> bool:
        """True when the token holds at least one master key version."""
        with self._session() as session:
            return bool(self._keys(session))

    def create(self) -> int:
        """Generate version 1 on the token."""
        with self._session(rw=True) as session:
            if self._keys(session):
                raise MasterKeyError(f"token {self._token_label!r} already holds a master key")
            self._generate(session, 1)
        return 1

    def add_version(self) -> int:
        """Generate the next version on the token; it becomes primary."""
        with self._session(rw=True) as session:
            version = max(self._keys(session), default=0) + 1
            self._generate(session, version)
        return version

    def versions(self) -> list[int]:
        """Versions present on the token."""
        with self._session() as session:
            found = sorted(self._keys(session))
        if not found:
            raise MasterKeyMissingError(f"no master key on token {self._token_label!r}")
        return found

    def primary_version(self) -> int:
        """The highest version on the token."""
        return self.versions()[-1]

    def _key(self, session: Any, version: int) -> Any:
        key = self._keys(session).get(version)
        if key is None:
            raise MasterKeyMissingError(
                f"master key version {version} is not on token {self._token_label!r}"
            )
        return key

    def wrap(self, key: bytes, *, aad: bytes, version: int | None = None) -> WrappedKey:
        """AES-256-GCM on the token."""
        number = self.primary_version() if version is None else version
        nonce = os.urandom(_NONCE_SIZE)
        with self._session() as session:
            master = self._key(session, number)
            try:
                sealed = master.encrypt(
                    key,
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(nonce, aad, _TAG_BITS),
                )
            except PKCS11Error as exc:
                raise TokenUnavailableError(
                    f"token refused to wrap under version {number} ({type(exc).__name__})"
                ) from None
        return WrappedKey(number, nonce + bytes(sealed))

    def unwrap(self, blob: bytes, *, version: int, aad: bytes) -> bytes:
        """Open an AES-256-GCM blob on the token."""
        if len(blob) < _NONCE_SIZE + _TAG_BITS // 8:
            raise CorruptedKeyError(f"wrapped key under master version {version} is truncated")
        with self._session() as session:
            master = self._key(session, version)
            try:
                plain = master.decrypt(
                    blob[_NONCE_SIZE:],
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(blob[:_NONCE_SIZE], aad, _TAG_BITS),
                )
            except PKCS11Error:
                # Tokens report a failed GCM tag check with various codes
                # (SoftHSM2: CKR_GENERAL_ERROR); the session worked, so the blob is bad.
                raise CorruptedKeyError(
                    f"wrapped key does not authenticate under master version {version}"
                ) from None
        return bytes(plain)

    def health(self) -> None:
        """The token is reachable, the PIN works and a master key is there."""
        self.versions()
