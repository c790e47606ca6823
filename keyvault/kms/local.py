"""The ``local`` backend: master keys in a keyring file (or one key in the environment).

The keyring is a JSON file, mode 0600, with numbered versions and a
primary one::

    {"format": "securemsg-master-keyring/1", "primary": 2,
     "versions": {"1": {"key": "<base64 32 bytes>", "created": "..."}, "2": {...}}}

A file of exactly 32 raw bytes, or a base64 key in ``SECUREMSG_MASTER_KEY``,
is master version 1 (``master-add`` turns such a file into a keyring; an
environment key cannot hold more versions). A file that group or others can
read is refused: the keyring opens every private key of the server.
Wrapping is AES-256-GCM under the version's key with the caller's AAD.
"""

from __future__ import annotations

import base64
import binascii
import json
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..exceptions import ConfigurationError, MasterKeyError, MasterKeyMissingError
from ._aesgcm import gcm_unwrap, gcm_wrap
from ._files import write_private_json
from .base import KMSBackend, WrappedKey

if TYPE_CHECKING:
    from typing import Self

    from ..conf import KeyVaultSettings

__all__ = ["KEYRING_FORMAT", "LocalBackend"]

KEYRING_FORMAT = "securemsg-master-keyring/1"
MASTER_KEY_SIZE = 32
_FILE_SETTING = "SECUREMSG_MASTER_KEY_FILE"
_ENV_SETTING = "SECUREMSG_MASTER_KEY"


class LocalBackend(KMSBackend):
    """Master keys in a local keyring file, or one key from the environment."""

    name = "local"

    def __init__(self, path: Path, env_key_b64: str = "") -> None:
        self._path = path
        self._env_key_b64 = env_key_b64
        # Serialises master-add / create inside one process; the file is
        # replaced atomically, so readers never see half a keyring.
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, conf: KeyVaultSettings) -> Self:
        """Use ``SECUREMSG_MASTER_KEY`` when set, else ``SECUREMSG_MASTER_KEY_FILE``."""
        return cls(conf.master_key_file, conf.master_key_b64)

    def describe(self) -> str:
        """Name the source of the key (never the key)."""
        source = f"environment {_ENV_SETTING}" if self._env_key_b64 else str(self._path)
        return f"local ({source})"

    # -- reading ---------------------------------------------------------------

    def _env_keyring(self) -> dict[int, bytes]:
        try:
            key = base64.b64decode(self._env_key_b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError("is not valid base64", setting=_ENV_SETTING) from None
        if len(key) != MASTER_KEY_SIZE:
            raise ConfigurationError(
                f"must decode to {MASTER_KEY_SIZE} bytes, got {len(key)}", setting=_ENV_SETTING
            )
        return {1: key}

    def _check_mode(self) -> None:
        mode = stat.S_IMODE(self._path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"{self._path} is readable or writable by group or others (mode {mode:o}); "
                f"run: chmod 600 {self._path}",
                setting=_FILE_SETTING,
            )

    def _load(self) -> tuple[dict[int, bytes], int]:
        """Return (versions, primary) from the environment key or the keyring file."""
        if self._env_key_b64:
            return self._env_keyring(), 1
        try:
            self._check_mode()
            raw = self._path.read_bytes()
        except FileNotFoundError:
            raise MasterKeyMissingError(
                f"no master key: {self._path} does not exist (set {_FILE_SETTING} "
                f"or {_ENV_SETTING}, or run 'manage.py keyvault init' on a new installation)"
            ) from None
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read {self._path} ({exc.strerror})", setting=_FILE_SETTING
            ) from None
        if len(raw) == MASTER_KEY_SIZE and not raw.lstrip().startswith(b"{"):
            return {1: raw}, 1
        return self._parse(raw)

    def _parse(self, raw: bytes) -> tuple[dict[int, bytes], int]:
        bad = ConfigurationError(
            f"{self._path} is neither a keyring ({KEYRING_FORMAT}) nor a 32-byte key file",
            setting=_FILE_SETTING,
        )
        try:
            doc = json.loads(raw)
            if doc.get("format") != KEYRING_FORMAT:
                raise bad
            versions = {
                int(number): base64.b64decode(entry["key"], validate=True)
                for number, entry in doc["versions"].items()
            }
            primary = int(doc["primary"])
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise bad from None
        if not versions or primary not in versions or min(versions) < 1:
            raise bad
        if any(len(key) != MASTER_KEY_SIZE for key in versions.values()):
            raise bad
        return versions, primary

    # -- writing ---------------------------------------------------------------

    def _write(self, versions: dict[int, bytes], primary: int, created: dict[int, str]) -> None:
        doc: dict[str, Any] = {
            "format": KEYRING_FORMAT,
            "primary": primary,
            "versions": {
                str(n): {"key": base64.b64encode(k).decode(), "created": created.get(n, "")}
                for n, k in sorted(versions.items())
            },
        }
        write_private_json(self._path, doc)

    def _created(self) -> dict[int, str]:
        try:
            doc = json.loads(self._path.read_bytes())
            return {int(n): str(e.get("created", "")) for n, e in doc["versions"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    # -- interface ---------------------------------------------------------------

    def exists(self) -> bool:
        """True when the environment key is set or the keyring file exists."""
        return bool(self._env_key_b64) or self._path.exists()

    def create(self) -> int:
        """Create the keyring file with version 1 (mode 0600, never overwriting)."""
        if self._env_key_b64:
            raise MasterKeyError(f"the master key comes from {_ENV_SETTING}; nothing to create")
        with self._lock:
            if self._path.exists():
                raise MasterKeyError(f"{self._path} already exists; refusing to overwrite it")
            self._write({1: AESGCM.generate_key(bit_length=256)}, 1, {1: _now()})
        return 1

    def add_version(self) -> int:
        """Add a random version, make it primary; a 32-byte file becomes a keyring."""
        if self._env_key_b64:
            raise ConfigurationError(
                "an environment key holds one version only; move it into a keyring file "
                f"({_FILE_SETTING}) to add versions",
                setting=_ENV_SETTING,
            )
        with self._lock:
            versions, _ = self._load()
            created = self._created()
            version = max(versions) + 1
            versions[version] = AESGCM.generate_key(bit_length=256)
            created[version] = _now()
            self._write(versions, version, created)
        return version

    def versions(self) -> list[int]:
        """Versions in the keyring, ascending."""
        return sorted(self._load()[0])

    def primary_version(self) -> int:
        """The keyring's primary version."""
        return self._load()[1]

    def _key(self, version: int | None) -> tuple[int, bytes]:
        versions, primary = self._load()
        number = primary if version is None else version
        try:
            return number, versions[number]
        except KeyError:
            raise MasterKeyMissingError(
                f"master key version {number} is not in the keyring ({self.describe()})"
            ) from None

    def wrap(self, key: bytes, *, aad: bytes, version: int | None = None) -> WrappedKey:
        """AES-256-GCM under the version's key."""
        number, master = self._key(version)
        return WrappedKey(number, gcm_wrap(master, key, aad))

    def unwrap(self, blob: bytes, *, version: int, aad: bytes) -> bytes:
        """Open an AES-256-GCM blob."""
        _, master = self._key(version)
        return gcm_unwrap(master, blob, aad, version=version)

    def health(self) -> None:
        """The keyring can be read, has safe permissions and a primary version."""
        self._load()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
