"""Master key versions as the database sees them: registration, check values, wrap/unwrap.

The KMS holds the master keys; the database remembers which versions
wrapped something and a *check value* per version (a fixed 32-byte value
wrapped under it when first registered). When an unwrap fails, the check
value tells a wrong master key (the check fails too) from a damaged or
swapped row (the check still opens).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..exceptions import (
    CorruptedKeyError,
    MasterKeyError,
    MasterKeyMissingError,
    WrongMasterKeyError,
)
from ..kms import KMSBackend, WrappedKey
from ..models import DataKey, MasterKeyVersion, ServerKey
from . import audit_hook

__all__ = [
    "register_versions",
    "unwrap_checked",
    "verify_master_key",
    "wrap_primary",
    "wrapped_material_exists",
]

_CHECK_VALUE = bytes(32)


def _check_aad(version: int) -> bytes:
    return b"securemsg/keyvault check\x00" + str(version).encode()


def wrapped_material_exists() -> bool:
    """Whether any row holds key material wrapped by a master key."""
    return (
        ServerKey.objects.exclude(wrapped_dek=b"").exists()
        or DataKey.objects.exists()
        or MasterKeyVersion.objects.exists()
    )


def register_versions(backend: KMSBackend, *, actor: object = None) -> list[int]:
    """Record every backend version the database does not know yet; return the new ones."""
    known = set(MasterKeyVersion.objects.values_list("version", flat=True))
    added = []
    for version in backend.versions():
        if version in known:
            continue
        with transaction.atomic():
            MasterKeyVersion.objects.create(
                version=version,
                backend=backend.name,
                created_at=timezone.now(),
                check_blob=backend.wrap(
                    _CHECK_VALUE, aad=_check_aad(version), version=version
                ).blob,
            )
            audit_hook.record(
                "master.version_added",
                actor=actor,
                target_type="master_version",
                target_id=str(version),
                backend=backend.name,
            )
        added.append(version)
    return added


def _check(backend: KMSBackend, row: MasterKeyVersion) -> None:
    try:
        value = backend.unwrap(
            bytes(row.check_blob), version=row.version, aad=_check_aad(row.version)
        )
    except CorruptedKeyError:
        raise WrongMasterKeyError(
            f"the configured master key version {row.version} is not the one that wrapped "
            f"the stored keys ({backend.describe()}); restore the right master key"
        ) from None
    if value != _CHECK_VALUE:
        raise WrongMasterKeyError(f"master key version {row.version} check value mismatch")


def verify_master_key(backend: KMSBackend) -> None:
    """Check that every version the stored rows need is present and the right key."""
    backend.health()
    present = set(backend.versions())
    needed = set(
        ServerKey.objects.exclude(wrapped_dek=b"").values_list("master_version", flat=True)
    )
    needed |= set(DataKey.objects.values_list("master_version", flat=True))
    missing = sorted(needed - present)
    if missing:
        raise MasterKeyMissingError(
            f"master key version(s) {', '.join(map(str, missing))} needed by stored keys "
            f"are not present ({backend.describe()})"
        )
    for row in MasterKeyVersion.objects.filter(version__in=present):
        _check(backend, row)


def _usable_row(version: int) -> MasterKeyVersion | None:
    row = MasterKeyVersion.objects.filter(version=version).first()
    if row is not None and row.disabled:
        raise MasterKeyError(f"master key version {version} is disabled")
    return row


def wrap_primary(
    backend: KMSBackend, key: bytes, *, aad: bytes, version: int | None = None
) -> WrappedKey:
    """Wrap ``key`` under ``version`` (default: the primary), registering it first if new."""
    number = backend.primary_version() if version is None else version
    if _usable_row(number) is None:
        register_versions(backend)
    return backend.wrap(key, aad=aad, version=number)


def unwrap_checked(
    backend: KMSBackend, blob: bytes, *, version: int, aad: bytes, what: str
) -> bytes:
    """Unwrap, turning an authentication failure into WrongMasterKey or CorruptedKey.

    ``what`` names the row in the error (``"DEK of sig-3"``).
    """
    row = _usable_row(version)
    try:
        return backend.unwrap(blob, version=version, aad=aad)
    except CorruptedKeyError as exc:
        if row is not None:
            _check(backend, row)  # raises WrongMasterKeyError when the master is wrong
        raise CorruptedKeyError(f"{what}: {exc}") from None
