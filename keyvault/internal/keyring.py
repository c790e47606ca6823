"""The vault's implementation of the protocol core's ``ServerKeyring`` and checkpoint signing."""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils import timezone

from securemsg.protocol import ServerKeyring, ServerUnavailableError, StaleKeyError

from ..exceptions import KeyVaultError
from ..models import Purpose, State
from . import audit_hook, usage
from .access import active_kid, key_info, private_key

__all__ = ["PSS_SALT_LENGTH", "VaultKeyring", "server_keyring", "sign_checkpoint"]

#: The suite's PSS parameters (protocol.md, "Suite"), also used for audit checkpoints.
PSS_SALT_LENGTH = 32
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)


def active_signing_key() -> tuple[str, rsa.RSAPrivateKey]:
    """Return (kid, private key) of the active signing key (KeyVaultError if unusable)."""
    kid = active_kid(Purpose.SIGNING)
    return kid, private_key(kid)


def sign_checkpoint(message: bytes) -> tuple[str, bytes]:
    """Sign ``message`` with RSA-PSS (SHA-256, MGF1-SHA-256, salt 32) by the active signing key.

    Returns ``(kid, signature)``. The caller domain-separates ``message``
    (the audit log signs ``"securemsg/1 checkpoint" || 0x00 || ...``).
    Raises a KeyVaultError when no signing key can be used.
    """
    if not isinstance(message, bytes):
        raise TypeError("message must be bytes")
    kid, key = active_signing_key()
    signature = key.sign(message, _PSS, hashes.SHA256())
    usage.count_private_op(kid)
    return kid, signature


class VaultKeyring:
    """``securemsg.protocol.ServerKeyring`` backed by the vault; call from a sync thread.

    Vault failures become the core's ServerUnavailableError (4500) with the
    vault error as ``__cause__``; stale or unknown encryption kids become
    StaleKeyError (4412).
    """

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        """Return the active signing key and count one private operation."""
        try:
            kid, key = active_signing_key()
        except KeyVaultError as exc:
            _record_failure(exc, "signing_key")
            raise ServerUnavailableError("the key store cannot serve") from exc
        usage.count_private_op(kid)
        return kid, key

    def decryption_key(self, enc_kid: str) -> rsa.RSAPrivateKey:
        """Return the private encryption key ``enc_kid`` if it may still be used."""
        try:
            info = key_info(enc_kid)
            if info is None:
                # protocol.md: reload the key set before answering 4412.
                info = key_info(enc_kid, reload=True)
            if (
                info is None
                or info.purpose != Purpose.ENCRYPTION
                or info.state not in (State.ACTIVE, State.RETIRING)
            ):
                raise StaleKeyError("unknown or unusable encryption key")
            if info.state == State.RETIRING:
                self._check_grace(enc_kid, info.retire_after)
            key = private_key(enc_kid)
        except KeyVaultError as exc:
            _record_failure(exc, "decryption_key")
            raise ServerUnavailableError("the key store cannot serve") from exc
        usage.count_private_op(enc_kid)
        return key

    @staticmethod
    def _check_grace(kid: str, retire_after: datetime | None) -> None:
        fields = {"target_type": "server_key", "target_id": kid}
        if retire_after is None or retire_after <= timezone.now():
            audit_hook.record("key.refused_after_deadline", **fields)
            raise StaleKeyError("the encryption key is past its retire-after deadline")
        audit_hook.record("key.retiring_used", **fields)


def _record_failure(exc: KeyVaultError, operation: str) -> None:
    """Audit a vault failure by reason class; never let the audit error hide the vault's."""
    try:
        audit_hook.record(
            "keyvault.failure", outcome="error", reason=exc.reason, operation=operation
        )
    except KeyVaultError:
        pass  # the caller fails closed with 4500 either way


def server_keyring() -> ServerKeyring:
    """Return the keyring the server handshake uses."""
    return VaultKeyring()
