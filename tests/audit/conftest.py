"""Fixtures of the audit log tests: a test signing key, event factories, raw SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.db import connection

from securemsg.audit.exceptions import CheckpointError
from securemsg.audit.internal import signer
from tests.support.db_faults import block_inserts, unblock_inserts

#: A key generated once per run stands in for the key vault's signing key.
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
TEST_KID = "test-sig-1"


class FakeVault:
    """In-memory ``sign_checkpoint`` / ``public_spki`` with switchable failure."""

    def __init__(self) -> None:
        self.keys = {
            TEST_KID: _KEY.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        }
        self.broken = False
        self.signed: list[bytes] = []

    def sign(self, message: bytes) -> tuple[str, bytes]:
        if self.broken:
            raise CheckpointError("key vault sign_checkpoint failed (no_active_key)")
        self.signed.append(message)
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return TEST_KID, _KEY.sign(message, pss, hashes.SHA256())

    def spki(self, kid: str) -> bytes:
        from keyvault.exceptions import UnknownKeyError

        if kid not in self.keys:
            raise CheckpointError("unknown") from UnknownKeyError(kid)
        return self.keys[kid]


def create_audit_key_quietly(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Create the audit key before the test, without the vault's own event.

    Made by the first event otherwise, together with a ``master.version_added``
    row (the test keyring's version is new to the database), which would
    shift every seq the tests name.
    """
    import keyvault
    from keyvault.internal import audit_hook

    with monkeypatch.context() as patch:
        patch.setattr(audit_hook, "record", lambda *args, **kwargs: None)
        return keyvault.new_data_key("audit", "chain-from:1")


@pytest.fixture(autouse=True)
def keyed_chain(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Tests that use the database start with an empty chain and its audit key."""
    names = set(request.fixturenames)
    if "transactional_db" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names or request.node.get_closest_marker("django_db") is not None:
        request.getfixturevalue("db")
    else:
        return None
    return create_audit_key_quietly(monkeypatch)


@pytest.fixture
def vault(monkeypatch: pytest.MonkeyPatch) -> FakeVault:
    """Checkpoints signed by an in-memory RSA key instead of the key vault."""
    fake = FakeVault()
    monkeypatch.setattr(signer, "sign_checkpoint", fake.sign)
    monkeypatch.setattr(signer, "public_spki", fake.spki)
    return fake


@pytest.fixture
def events(db: None) -> Callable[..., list[int]]:
    """Record ``n`` events: ``events(5)`` returns their seqs."""
    from securemsg.audit import record

    def make(n: int, event: str = "auth.login_failed", **fields: Any) -> list[int]:
        fields.setdefault("outcome", "failure")
        return [
            record(event, target_type="user", target_id=str(i), details={"n": i}, **fields)
            for i in range(n)
        ]

    return make


@pytest.fixture
def sql() -> Callable[..., list[tuple[Any, ...]]]:
    """Run raw SQL against the test database (the tamperer's tool)."""

    def run(statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description else []

    return run


def _make_unwritable() -> None:
    block_inserts("audit_auditevent", "audit_read_only")


@pytest.fixture
def make_unwritable(db: None) -> Iterator[Callable[[], None]]:
    """Call it to make the audit table refuse inserts, as a full disk or revoked grant would."""
    yield _make_unwritable
    unblock_inserts("audit_auditevent", "audit_read_only")


@pytest.fixture
def unwritable(make_unwritable: Callable[[], None]) -> None:
    """The audit table refuses inserts from the start of the test."""
    make_unwritable()
