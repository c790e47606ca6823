"""Key schedule (protocol.md, "Key schedule"): HKDF-SHA-256 with salt = TH."""

from __future__ import annotations

from dataclasses import dataclass

from ._constants import INFO_C2S, INFO_FINISHED, INFO_KEY, INFO_S2C, INFO_UPDATE, SECRET_SIZE
from ._crypto import hkdf_sha256, hmac_sha256, hmac_sha256_verify


@dataclass(frozen=True, repr=False)
class HandshakeSecrets:
    """The epoch-0 traffic secrets and the finished key of one session."""

    c2s: bytes
    s2c: bytes
    finished_key: bytes


def derive_handshake_secrets(
    client_secret: bytes, server_secret: bytes, th: bytes
) -> HandshakeSecrets:
    """Derive the epoch-0 secrets from IKM = client_secret || server_secret."""
    if len(client_secret) != SECRET_SIZE or len(server_secret) != SECRET_SIZE:
        raise ValueError(f"client_secret and server_secret must be {SECRET_SIZE} bytes")
    ikm = client_secret + server_secret
    return HandshakeSecrets(
        c2s=hkdf_sha256(ikm, th, INFO_C2S),
        s2c=hkdf_sha256(ikm, th, INFO_S2C),
        finished_key=hkdf_sha256(ikm, th, INFO_FINISHED),
    )


def next_epoch_secret(secret: bytes, th: bytes) -> bytes:
    """Return secret[n+1] from secret[n] (the caller discards secret[n])."""
    return hkdf_sha256(secret, th, INFO_UPDATE)


def epoch_key(secret: bytes, th: bytes) -> bytes:
    """Return the AES-256-GCM key of the epoch whose traffic secret is ``secret``."""
    return hkdf_sha256(secret, th, INFO_KEY)


def finished_mac(finished_key: bytes, th: bytes) -> bytes:
    """Return the client_finished MAC: HMAC-SHA-256(finished_key, TH)."""
    return hmac_sha256(finished_key, th)


def verify_finished_mac(finished_key: bytes, th: bytes, mac: bytes) -> None:
    """Check a client_finished MAC in constant time (AuthenticationFailedError)."""
    hmac_sha256_verify(finished_key, th, mac)
