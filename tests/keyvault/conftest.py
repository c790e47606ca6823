"""Fixtures of the key vault tests: a vault on a temporary keyring, audit capture, SoftHSM2."""

from __future__ import annotations

from typing import Any

import pytest


class AuditRecorder:
    """Stands in for ``securemsg.audit.record`` and keeps every event it is given.

    The audit log is another issue's work; these tests check which events
    the vault records and that a failing audit log rolls the action back.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.fail_on: str | None = None

    def __call__(self, event: str, *, actor: Any = None, request: Any = None, **fields: Any):
        if self.fail_on is not None and event == self.fail_on:
            raise RuntimeError(f"audit log unavailable ({event})")
        self.events.append((event, dict(fields, actor=actor)))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, fields in self.events if event == name]


@pytest.fixture(autouse=True)
def audit(monkeypatch: pytest.MonkeyPatch) -> AuditRecorder:
    """Capture the vault's audit events."""
    from securemsg import audit as audit_module

    recorder = AuditRecorder()
    monkeypatch.setattr(audit_module, "record", recorder)
    return recorder


@pytest.fixture(autouse=True)
def vault_settings(settings: Any, tmp_path: Any) -> Any:
    """A local-backend vault on a keyring in a temp dir, RSA-2048 for speed, clean caches."""
    from keyvault import reset_caches
    from keyvault.internal import usage

    settings.KEYVAULT_BACKEND = "local"
    settings.KEYVAULT_MASTER_KEY_FILE = str(tmp_path / "master-keyring.json")
    settings.KEYVAULT_KEY_ALGORITHM = "RSA-2048"
    reset_caches()
    usage.discard()
    yield settings
    reset_caches()
    usage.discard()


@pytest.fixture
def vault(db: None, vault_settings: Any) -> Any:
    """An initialised vault: master key v1, active sig-1 and enc-1."""
    import keyvault

    keyvault.initialize()
    return keyvault
