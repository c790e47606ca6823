"""AES-256-GCM wrapping shared by the backends that hold the master key in memory."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..exceptions import CorruptedKeyError

__all__ = ["NONCE_SIZE", "gcm_unwrap", "gcm_wrap"]

# 96-bit random nonces: at most a few thousand wraps per master version, far
# below the 2^32 random-nonce limit for one GCM key.
NONCE_SIZE = 12


def gcm_wrap(master: bytes, key: bytes, aad: bytes) -> bytes:
    """Return nonce || AES-256-GCM(master, key, aad)."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(master).encrypt(nonce, key, aad)


def gcm_unwrap(master: bytes, blob: bytes, aad: bytes, *, version: int) -> bytes:
    """Open a ``gcm_wrap`` blob or raise CorruptedKeyError."""
    if len(blob) < NONCE_SIZE + 16:
        raise CorruptedKeyError(f"wrapped key under master version {version} is truncated")
    try:
        return AESGCM(master).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
    except InvalidTag:
        raise CorruptedKeyError(
            f"wrapped key does not authenticate under master version {version}"
        ) from None
