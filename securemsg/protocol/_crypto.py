"""The suite's primitives, as thin wrappers over ``cryptography``.

Nothing here implements a primitive: each function fixes the suite's
parameters (protocol.md, "Suite") and turns ``cryptography``'s failures into
the core's typed errors. Authentication failures of every kind become one
``AuthenticationFailedError``.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import hmac as _hmac
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._constants import (
    MAX_RSA_BITS,
    MIN_RSA_BITS,
    PSS_SALT_LENGTH,
    RSA_PUBLIC_EXPONENT,
    SECRET_SIZE,
    TAG_SIZE,
)
from .exceptions import AuthenticationFailedError, MalformedMessageError

AES_KEY_SIZE = 32
GCM_NONCE_SIZE = 12

_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)


def sha256(data: bytes) -> bytes:
    """Return the SHA-256 digest of ``data``."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()


def spki_der(public_key: rsa.RSAPublicKey) -> bytes:
    """Return the DER SubjectPublicKeyInfo (rsaEncryption) of ``public_key``."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(spki: bytes) -> str:
    """Return the key fingerprint: lowercase hex SHA-256 of the SPKI DER."""
    return sha256(spki).hex()


def load_rsa_spki(spki: bytes, *, field: str) -> rsa.RSAPublicKey:
    """Load an RSA public key from SPKI DER, enforcing the suite's key rules.

    Raises MalformedMessageError unless the key is RSA of 2048 to 4096 bits
    with exponent 65537, in canonical DER with the rsaEncryption algorithm
    identifier (re-encoding must give the same bytes, which also rejects an
    id-RSASSA-PSS identifier that browsers could not import).
    """
    try:
        key = serialization.load_der_public_key(spki)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise MalformedMessageError(f"{field} is not a DER SubjectPublicKeyInfo") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise MalformedMessageError(f"{field} is not an RSA key")
    if spki_der(key) != spki:
        raise MalformedMessageError(f"{field} is not a canonical rsaEncryption SPKI")
    if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
        raise MalformedMessageError(f"{field} must be {MIN_RSA_BITS} to {MAX_RSA_BITS} bits")
    if key.public_numbers().e != RSA_PUBLIC_EXPONENT:
        raise MalformedMessageError(f"{field} must have public exponent {RSA_PUBLIC_EXPONENT}")
    return key


def oaep_encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes) -> bytes:
    """RSA-OAEP-SHA-256 encrypt with MGF1-SHA-256 and an empty label."""
    return public_key.encrypt(plaintext, _OAEP)


def oaep_decrypt(private_key: rsa.RSAPrivateKey, ciphertext: bytes) -> bytes:
    """RSA-OAEP-SHA-256 decrypt, raising AuthenticationFailedError on any failure.

    This is the client's wrapper (a bad ``wrapped_server_secret`` means the
    server failed authentication). The server must use
    ``oaep_unwrap_secret_silently`` instead.
    """
    try:
        return private_key.decrypt(ciphertext, _OAEP)
    except ValueError as exc:
        raise AuthenticationFailedError("decryption failed") from exc


def oaep_unwrap_secret_silently(
    private_key: rsa.RSAPrivateKey, ciphertext: bytes, random: Callable[[int], bytes]
) -> bytes:
    """Recover a 32-byte secret, or return 32 random bytes without any signal.

    protocol.md, "Rules the server keeps": reporting an OAEP failure would be
    a padding oracle (Manger). The substitute is drawn before decrypting so
    that both paths do the same work; the handshake then fails at
    client_finished with 4410, like a wrong MAC.
    """
    substitute = random(SECRET_SIZE)
    try:
        secret = private_key.decrypt(ciphertext, _OAEP)
    except ValueError:
        return substitute
    return secret if len(secret) == SECRET_SIZE else substitute


def pss_sign(private_key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    """RSA-PSS-SHA-256 (MGF1-SHA-256, salt 32) signature over ``message``."""
    return private_key.sign(message, _PSS, hashes.SHA256())


def pss_verify(public_key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> None:
    """Verify an RSA-PSS-SHA-256 signature, raising AuthenticationFailedError."""
    try:
        public_key.verify(signature, message, _PSS, hashes.SHA256())
    except InvalidSignature as exc:
        raise AuthenticationFailedError("signature verification failed") from exc


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 (RFC 5869) with the suite's fixed output length of 32 bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=SECRET_SIZE, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """Return HMAC-SHA-256(key, data)."""
    mac = _hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


def hmac_sha256_verify(key: bytes, data: bytes, tag: bytes) -> None:
    """Check an HMAC-SHA-256 tag in constant time, raising AuthenticationFailedError."""
    mac = _hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    try:
        mac.verify(tag)
    except InvalidSignature as exc:
        raise AuthenticationFailedError("MAC verification failed") from exc


def aead_cipher(key: bytes) -> AESGCM:
    """Return an AES-256-GCM instance for ``key`` (the record layer keeps one per epoch)."""
    if len(key) != AES_KEY_SIZE:
        raise ValueError(f"key must be {AES_KEY_SIZE} bytes")
    return AESGCM(key)


def aead_seal(key: bytes | AESGCM, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM encrypt; returns ciphertext || 16-byte tag."""
    cipher = key if isinstance(key, AESGCM) else aead_cipher(key)
    if len(nonce) != GCM_NONCE_SIZE:
        raise ValueError(f"nonce must be {GCM_NONCE_SIZE} bytes")
    return cipher.encrypt(nonce, plaintext, aad)


def aead_open(key: bytes | AESGCM, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM decrypt, raising AuthenticationFailedError on any failure."""
    cipher = key if isinstance(key, AESGCM) else aead_cipher(key)
    if len(nonce) != GCM_NONCE_SIZE:
        raise ValueError(f"nonce must be {GCM_NONCE_SIZE} bytes")
    if len(ciphertext) < TAG_SIZE:
        raise AuthenticationFailedError("record authentication failed")
    try:
        return cipher.decrypt(nonce, ciphertext, aad)
    except InvalidTag as exc:
        raise AuthenticationFailedError("record authentication failed") from exc
