"""Backup and restore (docs/operations.md, "Backups"): a database copy plus the keyring,
restored into a fresh data directory, opens every key and message and the audit chain verifies."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

_DECRYPT_ALL = textwrap.dedent(
    """
    import json
    import django
    django.setup()
    from keyvault import open_data_key
    from keyvault.internal.access import private_key
    from keyvault.models import DataKey, ServerKey
    from securemsg.chat.internal import store
    from securemsg.chat.models import Message

    bodies = {}
    for message in Message.objects.select_related("recipient"):
        bodies[message.mid] = store.load_message(message.mid, message.recipient).body
    kids = []
    for key in ServerKey.objects.exclude(state="destroyed").order_by("kid"):
        private_key(key.kid)  # unwraps and checks it against the public key
        kids.append(key.kid)
    data_keys = 0
    for row in DataKey.objects.all():
        assert len(open_data_key(row.key_id, purpose=row.purpose)) == 32
        data_keys += 1
    print(json.dumps({"bodies": bodies, "kids": kids, "data_keys": data_keys}))
    """
)


@pytest.fixture
def own_audit_sink(settings: Any, tmp_path: Path) -> Path:
    """Give this test its own second-sink file, so the copy holds this test's events only."""
    path = tmp_path / "live" / "audit.jsonl"
    path.parent.mkdir()
    settings.SECUREMSG_AUDIT_FILE = str(path)
    return path


def _manage(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _python(data_dir, str(ROOT / "manage.py"), *args)


def _python(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECUREMSG_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"))
    }
    env |= {
        "SECUREMSG_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'db.sqlite3'}",
        "SECUREMSG_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "securemsg.settings",
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _backup_sqlite(source: str, target: Path) -> None:
    # The online backup API gives a consistent copy even in WAL mode
    # (the same as `sqlite3 db.sqlite3 ".backup backup.sqlite3"`).
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def test_restore_onto_a_new_data_directory(
    own_audit_sink, vault, user_factory, settings, tmp_path: Path
):
    from securemsg.audit.internal.checkpoints import take_checkpoint
    from securemsg.chat.internal import store

    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        pytest.skip("this test copies the SQLite file; PostgreSQL uses pg_dump (documented)")
    alice, bob, carol = (user_factory(name) for name in ("alice", "bob", "carol"))
    sent = {}
    for sender, to, body in [
        (alice, "bob", "first message"),
        (bob, "alice", "a reply"),
        (carol, "alice", "another conversation"),
    ]:
        result = store.store_message(sender, to, str(uuid.uuid4()), body)
        sent[result.mid] = body
    take_checkpoint()

    # Backup: the database, the master keyring, the audit log's second sink.
    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    _backup_sqlite(db["NAME"], restored / "db.sqlite3")
    shutil.copy2(settings.KEYVAULT_MASTER_KEY_FILE, restored / "master-keyring.json")
    for sink in own_audit_sink.parent.glob("audit.jsonl*"):
        shutil.copy2(sink, restored / sink.name)

    decrypted = _python(restored, "-c", _DECRYPT_ALL)
    assert decrypted.returncode == 0, decrypted.stderr
    report = json.loads(decrypted.stdout)
    assert report["bodies"] == sent
    assert report["kids"] == ["enc-1", "sig-1"]
    assert report["data_keys"] >= 2  # at least one per conversation

    verify = _manage(restored, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "audit verify: OK" in verify.stdout
    doctor = _manage(restored, "securemsg", "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr


def test_database_without_the_keyring_is_refused(vault, settings, tmp_path: Path):
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        pytest.skip("copies the SQLite file")
    restored = tmp_path / "no-keyring"
    restored.mkdir()
    _backup_sqlite(db["NAME"], restored / "db.sqlite3")
    doctor = _manage(restored, "securemsg", "doctor")
    assert doctor.returncode == 2
    assert "MasterKeyMissingError" in doctor.stdout
    # Nothing was created in place of the missing master key.
    assert not (restored / "master-keyring.json").exists()
