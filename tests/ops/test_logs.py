"""Structured logs and the ids that tie a log line, an audit event and a metric together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from securemsg.audit.models import AuditEvent
from securemsg.ops import logs
from tests.support.ws import connect_as, handshake

ROOT = Path(__file__).resolve().parents[2]
SECRET_PASSWORD = "wrong-but-secret-guess-5150"
METRICS_TOKEN = "metrics-token-never-logged-0b9e"


def test_request_id_is_answered_and_recorded_in_audit_events(db, user_factory, client: Client):
    user_factory("alice")
    response = client.post("/accounts/login/", {"username": "alice", "password": SECRET_PASSWORD})
    request_id = response["X-Request-ID"]
    assert len(request_id) == 16
    event = AuditEvent.objects.get(event="auth.login_failed")
    assert event.details["request_id"] == request_id
    assert client.get("/health/live")["X-Request-ID"] != request_id


def test_client_request_id_is_kept_only_behind_a_trusted_proxy(db, client: Client, settings):
    given = "proxy-assigned-0001"
    assert client.get("/health/live", HTTP_X_REQUEST_ID=given)["X-Request-ID"] != given
    settings.SECUREMSG_TRUSTED_PROXY_COUNT = 1
    assert client.get("/health/live", HTTP_X_REQUEST_ID=given)["X-Request-ID"] == given
    bad = "bad id with spaces"
    assert client.get("/health/live", HTTP_X_REQUEST_ID=bad)["X-Request-ID"] != bad


@pytest.mark.asyncio
async def test_connection_id_is_recorded_in_handshake_events(vault, user_factory):
    alice = await sync_to_async(user_factory)("alice")
    for _ in range(2):
        communicator, connected, _code = await connect_as(alice)
        assert connected
        await handshake(communicator, vault, username="alice")
        await communicator.disconnect()
    query = AuditEvent.objects.filter(event="handshake.completed").order_by("seq")
    rows = await sync_to_async(lambda: list(query))()
    ids = [row.details["connection_id"] for row in rows]
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(len(value) == 16 for value in ids)


def test_secret_keys_are_redacted():
    event: dict[str, Any] = {
        "event": "x",
        "password": "p",
        "Authorization": "Bearer t",
        "session_key": "s",
        "request_id": "r",
        "status_code": 200,
    }
    cleaned = logs.redact_secrets(None, "info", event)
    assert cleaned["password"] == cleaned["Authorization"] == cleaned["session_key"] == "[redacted]"
    assert (cleaned["request_id"], cleaned["status_code"]) == ("r", 200)


@pytest.mark.parametrize("fmt", logs.FORMATS)
def test_logged_tracebacks_do_not_show_local_variables(fmt: str) -> None:
    import logging
    import logging.config

    config = logs.logging_config(
        {"version": 1, "handlers": {"console": {"class": "logging.StreamHandler"}}}, fmt=fmt
    )
    formatter = logging.config.DictConfigurator(config).configure_custom(
        dict(config["formatters"]["structured"])
    )

    def fails(password: str) -> None:
        raise RuntimeError("it failed")

    try:
        fails(SECRET_PASSWORD)
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    text = formatter.format(record)
    assert "it failed" in text  # the traceback is there...
    assert SECRET_PASSWORD not in text  # ...without the frame's locals


def test_bad_log_format_is_refused():
    with pytest.raises(ValueError, match="SECUREMSG_LOG_FORMAT"):
        logs.logging_config({}, fmt="xml")


_PROBE = textwrap.dedent(
    f"""
    import django
    django.setup()
    from django.test import Client
    client = Client()
    login = client.post(
        "/accounts/login/",
        {{"username": "nobody", "password": {SECRET_PASSWORD!r}}},
        secure=True,
    )
    metrics = client.get(
        "/metrics", HTTP_AUTHORIZATION="Bearer {METRICS_TOKEN}-wrong", secure=True
    )
    print(login["X-Request-ID"], login.status_code, metrics.status_code)
    """
)


def test_production_logs_are_json_with_request_id_and_no_secret(vault, settings, tmp_path):
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("sqlite3"):
        pytest.skip("shares the SQLite test database with the child process")
    env = {
        **os.environ,
        "SECUREMSG_ENV": "production",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "testserver",
        "SECUREMSG_SSL_REDIRECT": "0",
        "SECUREMSG_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{db['NAME']}",
        "SECUREMSG_METRICS_TOKEN": METRICS_TOKEN,
        # The test's vault: the audit log needs its key to record the sign-in.
        "SECUREMSG_MASTER_KEY_FILE": settings.KEYVAULT_MASTER_KEY_FILE,
        "DJANGO_SETTINGS_MODULE": "securemsg.settings",
    }
    env.pop("SECUREMSG_LOG_FORMAT", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    request_id, login_status, metrics_status = done.stdout.split()
    assert (login_status, metrics_status) == ("200", "403")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    finished = [r for r in records if r["event"] == "request finished"]
    login = next(r for r in finished if r["path"] == "/accounts/login/")
    assert login["request_id"] == request_id
    assert {"timestamp", "level", "logger"} <= login.keys()
    assert SECRET_PASSWORD not in done.stderr
    assert METRICS_TOKEN not in done.stderr
