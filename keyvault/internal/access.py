"""Reading keys: metadata snapshots, the active kid of a purpose, unwrapped private keys.

Also the minimum usable version of a purpose (read by the state changes
that must respect it; ``minimum.py`` sets it).

Everything goes through the process cache (``cache.py``), so the steady
state costs one small query per second per process, not one per message.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from securemsg.protocol import spki_der

from ..exceptions import CorruptedKeyError, NoActiveKeyError, UnknownKeyError
from ..kms import get_backend
from ..models import MinimumKeyVersion, ServerKey, State
from .cache import KeyInfo, cache
from .envelope import Binding, open_private_key, server_key_aad
from .master import unwrap_checked

__all__ = ["active_kid", "key_info", "load_private_key", "minimum_version", "private_key"]


def _snapshot(row: ServerKey) -> KeyInfo:
    return KeyInfo(
        kid=row.kid,
        purpose=row.purpose,
        state=row.state,
        version=row.version,
        algorithm=row.algorithm,
        retire_after=row.retire_after,
        compromised=row.compromised,
    )


def key_info(kid: str, *, reload: bool = False) -> KeyInfo | None:
    """Return the metadata of ``kid`` or None; ``reload`` re-checks storage first."""
    info = cache.get("info", kid, force_check=reload)
    if isinstance(info, KeyInfo):
        return info
    row = ServerKey.objects.filter(kid=kid).first()
    if row is None:
        return None
    info = _snapshot(row)
    cache.put("info", kid, info)
    return info


def active_kid(purpose: str) -> str:
    """Return the kid of the active key of ``purpose`` or raise NoActiveKeyError."""
    kid = cache.get("active", purpose)
    if isinstance(kid, str):
        return kid
    found = (
        ServerKey.objects.filter(purpose=purpose, state=State.ACTIVE)
        .values_list("kid", flat=True)
        .first()
    )
    if found is None:
        raise NoActiveKeyError(f"no active {purpose} key; run 'manage.py keyvault init'")
    cache.put("active", purpose, found)
    return found


def minimum_version(purpose: str) -> int:
    """Return the minimum usable version of ``purpose`` (1 when none was ever set)."""
    stored = (
        MinimumKeyVersion.objects.filter(purpose=purpose).values_list("version", flat=True).first()
    )
    return stored or 1


def load_private_key(row: ServerKey) -> rsa.RSAPrivateKey:
    """Unwrap the DEK of ``row`` and decrypt its private key (no cache)."""
    if row.state == State.DESTROYED or not row.wrapped_dek:
        raise UnknownKeyError(f"{row.kid} was destroyed; only its public key remains")
    binding = Binding.of(row)
    dek = unwrap_checked(
        get_backend(),
        bytes(row.wrapped_dek),
        version=row.master_version,
        aad=server_key_aad("dek", binding),
        what=f"DEK of {row.kid}",
    )
    key = open_private_key(dek, bytes(row.wrapped_private_key), binding)
    if spki_der(key.public_key()) != bytes(row.public_key):
        raise CorruptedKeyError(f"private key of {row.kid} does not match its public key")
    return key


def private_key(kid: str) -> rsa.RSAPrivateKey:
    """Return the unwrapped private key ``kid`` (cached for at most the TTL)."""
    key = cache.get("private", kid)
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    row = ServerKey.objects.filter(kid=kid).first()
    if row is None:
        raise UnknownKeyError(f"no server key {kid!r}")
    key = load_private_key(row)
    cache.put("private", kid, key)
    return key
