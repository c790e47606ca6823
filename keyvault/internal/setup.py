"""``keyvault init``: the master key and one active key per purpose, created only when safe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from ..exceptions import MasterKeyMissingError
from ..kms import get_backend
from . import audit_hook
from .lifecycle import ensure_active_keys
from .master import register_versions, verify_master_key, wrapped_material_exists

__all__ = ["InitReport", "initialize"]


@dataclass
class InitReport:
    """What ``initialize`` created (empty lists: nothing to do)."""

    master_created: bool = False
    versions_registered: list[int] = field(default_factory=list)
    keys_created: list[str] = field(default_factory=list)


def initialize(*, actor: Any = None) -> InitReport:
    """Create what is missing; never a master key while wrapped key material exists.

    With wrapped keys in the database and the master key missing or wrong,
    a new master key would orphan every key: raise MasterKeyMissingError /
    WrongMasterKeyError and create nothing.
    """
    backend = get_backend()
    report = InitReport()
    if not backend.exists():
        if wrapped_material_exists():
            raise MasterKeyMissingError(
                "the database holds wrapped keys but the master key is missing "
                f"({backend.describe()}); restore it, do not create a new one"
            )
        if not backend.creates_automatically:
            raise MasterKeyMissingError(
                f"no master key in {backend.describe()}; this backend needs an operator "
                "to create it (see docs/keyvault.md)"
            )
        with transaction.atomic():
            backend.create()
            audit_hook.record("master.created", actor=actor, backend=backend.name)
        report.master_created = True
    verify_master_key(backend)
    report.versions_registered = register_versions(backend, actor=actor)
    report.keys_created = [key.kid for key in ensure_active_keys(actor=actor)]
    return report
