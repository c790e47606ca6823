"""The key vault's settings object: one typed property per setting, read lazily.

Each property reads ``django.conf.settings`` when accessed, never at import
time, so ``override_settings`` in tests and the ``settings`` fixture work.
Environment variable names (``SECUREMSG_*``) are listed in the README and
docs/keyvault.md; securemsg/settings.py maps them to these ``KEYVAULT_*``
settings.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings

from ._secret import Secret
from .exceptions import ConfigurationError

__all__ = ["ALGORITHMS", "MIN_DELETION_WAIT_DAYS", "KeyVaultSettings", "app_settings"]

#: Key sizes the vault creates; protocol.md lets clients accept 2048 to 4096 bits.
ALGORITHMS = {"RSA-2048": 2048, "RSA-3072": 3072, "RSA-4096": 4096}
#: An operator can shorten the deletion waiting period, but not below a week,
#: so that a mistaken or malicious schedule can still be noticed and cancelled.
MIN_DELETION_WAIT_DAYS = 7


class KeyVaultSettings:
    """Typed, lazy access to the ``KEYVAULT_*`` settings."""

    prefix = "KEYVAULT_"

    def _get(self, name: str, default: Any) -> Any:
        return getattr(settings, self.prefix + name, default)

    def _secret(self, name: str, file_name: str, env_name: str) -> str:
        """Return a secret from its setting, else from the file named by ``file_name``."""
        value = self._get(name, Secret(""))
        text = value.reveal() if isinstance(value, Secret) else str(value)
        if text:
            return text
        path = self._get(file_name, "")
        if not path:
            return ""
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read {path} ({exc.strerror})", setting=env_name + "_FILE"
            ) from None

    @property
    def backend(self) -> str:
        """KMS backend: ``local``, ``passphrase``, ``pkcs11`` or a dotted class path."""
        return str(self._get("BACKEND", "local"))

    @property
    def master_key_file(self) -> Path:
        """The local keyring (JSON, numbered versions) or a single 32-byte key file."""
        return Path(self._get("MASTER_KEY_FILE", Path(settings.DATA_DIR) / "master-keyring.json"))

    @property
    def master_key_b64(self) -> str:
        """A base64 master key from the environment (master version 1), or empty."""
        value = self._get("MASTER_KEY", Secret(""))
        return value.reveal() if isinstance(value, Secret) else str(value)

    @property
    def master_passphrase(self) -> str:
        """The operator passphrase of the ``passphrase`` backend, or empty."""
        return self._secret(
            "MASTER_PASSPHRASE", "MASTER_PASSPHRASE_FILE", "SECUREMSG_MASTER_PASSPHRASE"
        )

    @property
    def passphrase_params_file(self) -> Path:
        """Where the ``passphrase`` backend keeps its KDF parameters and salts (no secret)."""
        default = Path(settings.DATA_DIR) / "master-passphrase.json"
        return Path(self._get("PASSPHRASE_PARAMS_FILE", default))

    @property
    def pkcs11_module(self) -> str:
        """Path of the PKCS#11 module (``.so``) of the token."""
        return str(self._get("PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"))

    @property
    def pkcs11_token_label(self) -> str:
        """Label of the PKCS#11 token that holds the master keys."""
        return str(self._get("PKCS11_TOKEN_LABEL", "securemsg"))

    @property
    def pkcs11_pin(self) -> str:
        """User PIN of the token, or empty."""
        return self._secret("PKCS11_PIN", "PKCS11_PIN_FILE", "SECUREMSG_PKCS11_PIN")

    @property
    def pkcs11_key_label(self) -> str:
        """Label prefix of the master AES keys on the token (``<prefix>-<version>``)."""
        return str(self._get("PKCS11_KEY_LABEL", "securemsg-master"))

    @property
    def key_algorithm(self) -> str:
        """Algorithm of new RSA keys (``RSA-3072``; ``RSA-2048``/``RSA-4096`` allowed)."""
        value = str(self._get("KEY_ALGORITHM", "RSA-3072"))
        if value not in ALGORITHMS:
            raise ConfigurationError(
                f"must be one of {', '.join(ALGORITHMS)}, got {value!r}",
                setting="SECUREMSG_KEY_ALGORITHM",
            )
        return value

    def max_age(self, purpose: str) -> timedelta:
        """Maximum age of the active key of ``purpose`` before ``rotate --due`` replaces it."""
        days = self._get(
            "MAX_AGE_SIGNING_DAYS" if purpose == "signing" else "MAX_AGE_ENCRYPTION_DAYS",
            90 if purpose == "signing" else 30,
        )
        return timedelta(days=int(days))

    @property
    def max_uses(self) -> int:
        """Private operations after which ``rotate --due`` replaces a key (0 = no limit)."""
        return int(self._get("MAX_USES", 0))

    @property
    def grace(self) -> timedelta:
        """How long a retiring key still decrypts and verifies after a rotation."""
        return timedelta(days=int(self._get("GRACE_DAYS", 7)))

    @property
    def deletion_wait(self) -> timedelta:
        """Waiting period between scheduling a key's destruction and destroying it."""
        days = int(self._get("DELETION_WAIT_DAYS", 30))
        if days < MIN_DELETION_WAIT_DAYS:
            raise ConfigurationError(
                f"must be at least {MIN_DELETION_WAIT_DAYS}, got {days}",
                setting="SECUREMSG_KEY_DELETION_WAIT_DAYS",
            )
        return timedelta(days=days)


app_settings = KeyVaultSettings()
