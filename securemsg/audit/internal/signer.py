"""The two key vault functions checkpoints need, behind one seam.

``keyvault.sign_checkpoint(message) -> (kid, signature)`` signs with the
vault's active signing key (RSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt);
``keyvault.public_spki(kid) -> bytes`` returns the SubjectPublicKeyInfo (DER)
of any key ever used, including rotated and destroyed ones. Tests replace
:func:`sign_checkpoint` / :func:`public_spki` with an in-memory key.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from securemsg.audit.exceptions import CheckpointError

#: Domain separation from handshake signatures (clarifications, "Audit").
CHECKPOINT_LABEL: Final = b"securemsg/1 checkpoint"
#: PSS salt length of securemsg/1 (``docs/protocol.md``).
PSS_SALT_LENGTH: Final = 32


def checkpoint_message(seq: int, head_hash: str) -> bytes:
    """``"securemsg/1 checkpoint" || 0x00 || seq (8 bytes, big-endian) || head hash (32 bytes)``."""
    raw = bytes.fromhex(head_hash)
    if len(raw) != 32:
        raise ValueError("head_hash must be 32 bytes (64 hex digits)")
    if not 0 < seq < 2**64:
        raise ValueError("seq must fit in 8 bytes and be positive")
    return CHECKPOINT_LABEL + b"\x00" + seq.to_bytes(8, "big") + raw


def _keyvault_function(name: str) -> Callable[..., Any]:
    for module_name in ("keyvault", "keyvault.services"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        function = getattr(module, name, None)
        if callable(function):
            return function  # type: ignore[no-any-return]
    raise CheckpointError(f"the key vault does not provide {name}() yet")


def _call(name: str, *args: Any) -> Any:
    from django.db import DatabaseError

    from keyvault.exceptions import KeyVaultError

    function = _keyvault_function(name)
    try:
        return function(*args)
    except (KeyVaultError, DatabaseError) as exc:
        reason = getattr(exc, "reason", type(exc).__name__)
        raise CheckpointError(f"key vault {name} failed ({reason})") from exc


def sign_checkpoint(message: bytes) -> tuple[str, bytes]:
    """Sign ``message`` with the key vault's active signing key: ``(kid, signature)``.

    Raises ``CheckpointError`` when the vault cannot sign.
    """
    kid, signature = _call("sign_checkpoint", message)
    return str(kid), bytes(signature)


def public_spki(kid: str) -> bytes:
    """The SPKI DER of key ``kid`` (also for rotated and destroyed keys).

    Raises ``CheckpointError`` when the vault cannot answer (an unknown
    kid included: the caller treats that checkpoint as forged).
    """
    return bytes(_call("public_spki", kid))


def verify_signature(spki: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid RSA-PSS signature of ``message`` under ``spki``."""
    try:
        key = serialization.load_der_public_key(spki)
    except ValueError:
        return False
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(
            signature,
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH),
            hashes.SHA256(),
        )
    except InvalidSignature:
        return False
    return True
