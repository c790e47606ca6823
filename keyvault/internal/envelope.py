"""The envelope scheme: private keys under a per-row DEK, the DEK under the master key.

    wrapped_private_key = nonce(12) || AES-256-GCM(DEK, PKCS#8 DER, aad = AAD("private-key"))
    wrapped_dek         = KMS.wrap(DEK, aad = AAD("dek"))           (under master_version)

The AAD is a domain label plus canonical JSON of the row's kid, purpose,
version and algorithm, so a ciphertext moved to another row, or a row whose
identifying fields were edited, no longer decrypts. Data keys use the same
shape with their id, purpose and context.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..exceptions import CorruptedKeyError
from ..kms.base import KMSBackend
from .master import wrap_primary

if TYPE_CHECKING:
    from ..models import ServerKey

__all__ = [
    "Binding",
    "SealedKey",
    "data_key_aad",
    "open_private_key",
    "seal_private_key",
    "server_key_aad",
]

_NONCE_SIZE = 12
_DEK_BITS = 256


def _aad(label: str, fields: dict[str, object]) -> bytes:
    return (
        f"securemsg/keyvault {label}".encode()
        + b"\x00"
        + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    )


@dataclass(frozen=True)
class Binding:
    """The fields of a ServerKey row that its ciphertexts are bound to."""

    kid: str
    purpose: str
    version: int
    algorithm: str

    @classmethod
    def of(cls, row: ServerKey) -> Binding:
        """The binding of a stored row."""
        return cls(row.kid, str(row.purpose), row.version, str(row.algorithm))


def server_key_aad(part: str, binding: Binding) -> bytes:
    """AAD of a server key's ``part`` (``private-key`` or ``dek``)."""
    fields = {
        "kid": binding.kid,
        "purpose": binding.purpose,
        "version": binding.version,
        "algorithm": binding.algorithm,
    }
    return _aad(part, fields)


def data_key_aad(*, key_id: str, purpose: str, context: str) -> bytes:
    """AAD of a data key wrapped by the master key."""
    return _aad("data-key", {"key_id": key_id, "purpose": purpose, "context": context})


@dataclass(frozen=True)
class SealedKey:
    """What a ServerKey row stores for its private key."""

    master_version: int
    wrapped_dek: bytes
    wrapped_private_key: bytes


def seal_private_key(
    backend: KMSBackend, private_key: rsa.RSAPrivateKey, binding: Binding
) -> SealedKey:
    """Encrypt ``private_key`` under a fresh DEK and wrap the DEK with the primary master key."""
    pkcs8 = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    dek = AESGCM.generate_key(bit_length=_DEK_BITS)
    nonce = os.urandom(_NONCE_SIZE)
    ciphertext = AESGCM(dek).encrypt(nonce, pkcs8, server_key_aad("private-key", binding))
    wrapped = wrap_primary(backend, dek, aad=server_key_aad("dek", binding))
    return SealedKey(wrapped.version, wrapped.blob, nonce + ciphertext)


def open_private_key(dek: bytes, wrapped_private_key: bytes, binding: Binding) -> rsa.RSAPrivateKey:
    """Decrypt the PKCS#8 DER with the unwrapped ``dek``; CorruptedKeyError if it fails."""
    kid = binding.kid
    aad = server_key_aad("private-key", binding)
    blob = bytes(wrapped_private_key)
    if len(blob) < _NONCE_SIZE + 16:
        raise CorruptedKeyError(f"private key of {kid} is missing or truncated")
    try:
        pkcs8 = AESGCM(dek).decrypt(blob[:_NONCE_SIZE], blob[_NONCE_SIZE:], aad)
    except (InvalidTag, ValueError):
        raise CorruptedKeyError(f"private key of {kid} does not authenticate") from None
    key = serialization.load_der_private_key(pkcs8, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CorruptedKeyError(f"private key of {kid} is not an RSA key")
    return key
