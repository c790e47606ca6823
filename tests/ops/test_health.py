"""Liveness and readiness: green when all is well, red naming the failing dependency."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.utils import timezone

import keyvault
from keyvault.models import ServerKey


def _ready(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/health/ready")
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


def test_readiness_is_green_with_every_dependency(vault, client: Client):
    status, body = _ready(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert list(body["checks"]) == ["database", "channel_layer", "key_vault", "audit_log"]
    assert {check["status"] for check in body["checks"].values()} == {"ok"}


def test_liveness_needs_nothing(db, client: Client, settings, tmp_path: Path):
    # No vault at all: readiness is red, liveness is not.
    settings.KEYVAULT_MASTER_KEY_FILE = str(tmp_path / "absent.json")
    keyvault.reset_caches()
    response = client.get("/health/live")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok", "checks": {}}


def test_master_key_removed_turns_readiness_red(vault, client: Client, settings):
    keyring = Path(settings.KEYVAULT_MASTER_KEY_FILE)
    keyring.unlink()
    keyvault.reset_caches()
    status, body = _ready(client)
    assert status == 503
    assert body["status"] == "fail"
    assert body["checks"]["key_vault"] == {
        "status": "fail",
        "reason": "master key missing",
        "seconds": body["checks"]["key_vault"]["seconds"],
    }
    assert body["checks"]["database"]["status"] == "ok"
    # The public answer names the dependency, not the file.
    assert str(keyring) not in json.dumps(body)
    assert client.get("/health/live").status_code == 200


def test_unwritable_audit_table_turns_readiness_red(vault, audit_insert_blocked, client):
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["audit_log"]["status"] == "fail"
    assert body["checks"]["audit_log"]["reason"] == "audit log not writable"
    assert body["checks"]["key_vault"]["status"] == "ok"


def test_probe_leaves_no_row(vault, client: Client):
    from securemsg.audit.models import AuditEvent

    before = AuditEvent.objects.count()
    assert _ready(client)[0] == 200
    assert AuditEvent.objects.count() == before
    assert not AuditEvent.objects.filter(event="ops.readiness_probe").exists()


def test_no_active_key_turns_readiness_red(vault, client: Client):
    ServerKey.objects.filter(purpose="encryption", state="active").update(state="disabled")
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["key_vault"]["reason"] == "no active key"


def test_overdue_rotation_turns_readiness_red(vault, client: Client):
    from keyvault.conf import app_settings

    late = timezone.now() - app_settings.max_age("signing") - app_settings.grace - timedelta(days=1)
    ServerKey.objects.filter(purpose="signing", state="active").update(activated_at=late)
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["key_vault"]["reason"] == "key rotation overdue"


def test_rotation_due_within_grace_only_warns(vault, client: Client):
    from keyvault.conf import app_settings

    due = timezone.now() - app_settings.max_age("signing") - timedelta(hours=1)
    ServerKey.objects.filter(purpose="signing", state="active").update(activated_at=due)
    status, body = _ready(client)
    assert status == 200
    assert body["status"] == "warn"
    assert body["checks"]["key_vault"] == {
        "status": "warn",
        "reason": "key vault work due",
        "seconds": body["checks"]["key_vault"]["seconds"],
    }


def test_unreachable_redis_turns_readiness_red(vault, client: Client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Port 1 on localhost: nothing listens, the connection is refused at once.
            "CONFIG": {"hosts": ["redis://:not-a-real-password@127.0.0.1:1/0"]},
        }
    }
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["channel_layer"]["reason"] in (
        "channel layer unreachable",
        "channel layer timeout",
    )
    assert "not-a-real-password" not in json.dumps(body)


def test_edited_audit_row_turns_readiness_red(vault, client: Client):
    from securemsg.audit.models import AuditEvent

    row = AuditEvent.objects.order_by("-seq").first()
    assert row is not None
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET target_id = 'forged' WHERE seq = %s", [row.seq])
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["audit_log"]["reason"] == "audit chain broken"


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
def test_endpoints_are_not_cached(vault, client: Client, path: str):
    response = client.get(path)
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert django_settings.ROOT_URLCONF == "securemsg.urls"


def test_unusable_second_sink_turns_readiness_red(vault, client: Client, settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.SECUREMSG_AUDIT_FILE = str(blocker / "audit.jsonl")
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["audit_log"]["reason"] == "audit log not writable"


def test_a_held_sqlite_write_lock_fails_the_probe_within_its_timeout(vault, client: Client):
    # Another writer holds SQLite's lock; without a bounded wait the probe
    # would sit out the 30 s busy timeout and the answer would come too late.
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's busy timeout only")
    import sqlite3
    import time

    holder = sqlite3.connect(django_settings.DATABASES["default"]["NAME"], timeout=1)
    try:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        status, body = _ready(client)
        elapsed = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert status == 503, body
    assert body["checks"]["audit_log"]["status"] == "fail"
    assert elapsed < 15, f"readiness took {elapsed:.1f} s with the lock held"
