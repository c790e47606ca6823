"""Re-wrapping every DEK and data key under another master version.

Crash-safe and resumable: each row is re-wrapped in its own transaction
(unwrap with its current version, wrap under the target, check the new
wrap opens, save, audit). A process killed at any instant leaves each row
wrapped under its old or its new version, both of which the keyring still
holds, and a rerun skips the rows already moved.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from ..exceptions import MasterKeyError, MasterKeyMissingError
from ..kms import KMSBackend, get_backend
from ..models import DataKey, MasterKeyVersion, ServerKey, State
from . import audit_hook
from .envelope import Binding, data_key_aad, server_key_aad
from .master import register_versions, unwrap_checked, wrap_primary

__all__ = ["TEST_SLEEP_ENV", "RewrapReport", "rewrap"]

#: Test hook: seconds to sleep after each row, so a test can kill the process mid-run.
TEST_SLEEP_ENV = "SECUREMSG_TEST_REWRAP_SLEEP"


@dataclass
class RewrapReport:
    """How many rows moved to ``version`` (rows already there are not counted)."""

    version: int
    server_keys: int = 0
    data_keys: int = 0


def _target(backend: KMSBackend, to_version: int | None) -> int:
    register_versions(backend)
    version = backend.primary_version() if to_version is None else to_version
    if version not in backend.versions():
        raise MasterKeyMissingError(f"master key version {version} is not present")
    if MasterKeyVersion.objects.filter(version=version, disabled=True).exists():
        raise MasterKeyError(f"master key version {version} is disabled")
    return version


def _pause() -> None:
    delay = os.environ.get(TEST_SLEEP_ENV)
    if delay:
        time.sleep(float(delay))


def _rewrap_blob(
    backend: KMSBackend, blob: bytes, *, source: int, target: int, aad: bytes, what: str
) -> bytes:
    """Return ``blob`` re-wrapped from master ``source`` to ``target``, checked to open."""
    key = unwrap_checked(backend, blob, version=source, aad=aad, what=what)
    wrapped = wrap_primary(backend, key, aad=aad, version=target)
    # Never save a wrap that does not open: the old one is still good.
    if unwrap_checked(backend, wrapped.blob, version=target, aad=aad, what=what) != key:
        raise MasterKeyError(f"re-wrapped {what} does not open; nothing changed")
    return wrapped.blob


def _audit_rewrap(target_type: str, target_id: str, source: int, target: int, actor: Any) -> None:
    audit_hook.record(
        "key.rewrapped",
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        from_version=source,
        to_version=target,
    )


def _rewrap_server_key(pk: int, version: int, backend: KMSBackend, actor: Any) -> bool:
    with transaction.atomic():
        row = ServerKey.objects.select_for_update().get(pk=pk)
        if row.master_version == version or not row.wrapped_dek:
            return False
        previous = row.master_version
        row.wrapped_dek = _rewrap_blob(
            backend,
            bytes(row.wrapped_dek),
            source=previous,
            target=version,
            aad=server_key_aad("dek", Binding.of(row)),
            what=f"DEK of {row.kid}",
        )
        row.master_version = version
        row.save(update_fields=["master_version", "wrapped_dek"])
        _audit_rewrap("server_key", row.kid, previous, version, actor)
    return True


def _rewrap_data_key(pk: int, version: int, backend: KMSBackend, actor: Any) -> bool:
    with transaction.atomic():
        row = DataKey.objects.select_for_update().get(pk=pk)
        if row.master_version == version:
            return False
        previous = row.master_version
        row.wrapped_key = _rewrap_blob(
            backend,
            bytes(row.wrapped_key),
            source=previous,
            target=version,
            aad=data_key_aad(key_id=row.key_id, purpose=row.purpose, context=row.context),
            what=f"data key {row.key_id}",
        )
        row.master_version = version
        row.save(update_fields=["master_version", "wrapped_key"])
        _audit_rewrap("data_key", row.key_id, previous, version, actor)
    return True


def rewrap(to_version: int | None = None, *, actor: Any = None) -> RewrapReport:
    """Move every wrapped key to ``to_version`` (default: the primary master version)."""
    backend = get_backend()
    report = RewrapReport(_target(backend, to_version))
    server_keys = (
        ServerKey.objects.exclude(master_version=report.version)
        .exclude(state=State.DESTROYED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in list(server_keys):
        if _rewrap_server_key(pk, report.version, backend, actor):
            report.server_keys += 1
            _pause()
    data_keys = DataKey.objects.exclude(master_version=report.version).order_by("pk")
    for pk in list(data_keys.values_list("pk", flat=True)):
        if _rewrap_data_key(pk, report.version, backend, actor):
            report.data_keys += 1
            _pause()
    return report
