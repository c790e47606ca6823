"""With the real key vault: rotation rolls back when unaudited; checkpoints it signs verify."""

from __future__ import annotations

from typing import Any

import pytest

from securemsg.audit.internal.checkpoints import take_checkpoint
from securemsg.audit.internal.sources import verify_database
from securemsg.audit.models import AuditEvent


@pytest.fixture
def keyed_chain() -> None:
    """Here the real vault's ``initialize`` makes the audit key (its first event does)."""


@pytest.fixture
def real_vault(db: None, settings: Any, tmp_path: Any) -> Any:
    """A local-backend vault (RSA-2048 for speed) on a temporary keyring."""
    import keyvault

    settings.KEYVAULT_BACKEND = "local"
    settings.KEYVAULT_MASTER_KEY_FILE = str(tmp_path / "master-keyring.json")
    settings.KEYVAULT_KEY_ALGORITHM = "RSA-2048"
    keyvault.reset_caches()
    keyvault.initialize()
    yield keyvault
    keyvault.reset_caches()


def test_rotation_is_rolled_back_when_it_cannot_be_audited(real_vault, make_unwritable):
    from keyvault.models import ServerKey

    before = list(ServerKey.objects.order_by("kid").values_list("kid", "state"))
    events = AuditEvent.objects.count()
    make_unwritable()
    with pytest.raises(real_vault.AuditFailedError):
        real_vault.rotate("signing")
    assert list(ServerKey.objects.order_by("kid").values_list("kid", "state")) == before
    assert AuditEvent.objects.count() == events


def test_rotation_events_and_vault_signed_checkpoints_verify(real_vault):
    take_checkpoint()
    real_vault.rotate("signing")
    assert AuditEvent.objects.filter(event="key.created", target_type="server_key").exists()
    take_checkpoint()  # signed by the new key; the first by the now retiring one
    kids = set(
        AuditEvent.objects.filter(event="audit.checkpoint").values_list("details__kid", flat=True)
    )
    assert len(kids) == 2
    result = verify_database()
    assert result.ok, result.broken
    assert result.checkpoints == 2
