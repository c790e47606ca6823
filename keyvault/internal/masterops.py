"""Operator actions on master key versions: add, compromise, set the minimum usable version."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ..exceptions import MasterKeyError
from ..kms import get_backend
from ..models import DataKey, MasterKeyVersion, ServerKey
from . import audit_hook
from .master import register_versions
from .rewrap import RewrapReport, rewrap

__all__ = ["add_master_version", "compromise_master_version", "set_minimum_master_version"]


def add_master_version(*, actor: Any = None) -> int:
    """Create a new master version in the KMS, make it primary and register it."""
    backend = get_backend()
    register_versions(backend, actor=actor)
    version = backend.add_version()
    register_versions(backend, actor=actor)
    return version


def _still_used(versions: list[int]) -> bool:
    return (
        ServerKey.objects.filter(master_version__in=versions).exclude(wrapped_dek=b"").exists()
        or DataKey.objects.filter(master_version__in=versions).exists()
    )


def _disable_version(version: int, actor: Any) -> None:
    """Mark ``version`` unusable and audit it (inside the caller's transaction)."""
    MasterKeyVersion.objects.filter(version=version).update(disabled=True)
    audit_hook.record(
        "master.version_disabled",
        actor=actor,
        target_type="master_version",
        target_id=str(version),
    )


def set_minimum_master_version(minimum: int, *, actor: Any = None) -> list[int]:
    """Disable every master version below ``minimum``; refused while a row still uses one."""
    older = list(
        MasterKeyVersion.objects.filter(version__lt=minimum, disabled=False).values_list(
            "version", flat=True
        )
    )
    if _still_used(older):
        raise MasterKeyError(
            f"keys are still wrapped under a version below {minimum}; run 'keyvault rewrap' first"
        )
    with transaction.atomic():
        for version in older:
            _disable_version(version, actor)
    return older


def compromise_master_version(version: int, *, actor: Any = None) -> RewrapReport:
    """Treat ``version`` as compromised: new primary if needed, re-wrap everything, disable it."""
    backend = get_backend()
    register_versions(backend, actor=actor)
    target = backend.primary_version()
    if target <= version:
        target = add_master_version(actor=actor)
    with transaction.atomic():
        MasterKeyVersion.objects.filter(version=version).update(compromised=True)
        audit_hook.record(
            "master.compromised",
            actor=actor,
            target_type="master_version",
            target_id=str(version),
            new_version=target,
        )
    report = rewrap(target, actor=actor)
    # Only versions that no row uses any more are disabled; with rows left
    # (a failure above raised already) nothing is disabled.
    if not _still_used([version]):
        with transaction.atomic():
            _disable_version(version, actor)
    return report
