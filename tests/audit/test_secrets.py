"""Known secrets go through every recording path; none reaches the table, an export or a page."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from securemsg.audit import AuditFieldError, record

NEW_PASSWORD = "brand-new-secret-passphrase-991"
SECRETS = (
    "correct-horse-battery-staple-42",  # the factory password (tests/conftest.py)
    "wrong-but-secret-guess-5150",
    NEW_PASSWORD,
    "s3ss10n-k3y-zzzzzzzzzz",
    "handshake-client-secret-q9q9q9",
    "message-body-plaintext-7a7a7a",
)


def _dump_table() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditevent")
        rows = cursor.fetchall()
        cursor.execute("SELECT * FROM audit_checkpoint")
        rows += cursor.fetchall()
    return repr(rows)


def test_no_secret_is_stored_exported_or_shown(user_factory, password, vault, tmp_path: Path):
    assert password == SECRETS[0]
    alice = user_factory("alice")
    root = user_factory("root", is_staff=True, is_superuser=True)
    browser = Client()
    # Sign-in failure and success with the password in the form.
    browser.post("/accounts/login/", {"username": "alice", "password": SECRETS[1]})
    browser.post("/accounts/login/", {"username": "alice", "password": password})
    # Password change through the page.
    browser.post(
        "/accounts/password/",
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    browser.post("/accounts/logout/")
    # Emitters that try to log secrets are refused, not recorded.
    for name, value in [
        ("session_key", SECRETS[3]),
        ("client_secret", SECRETS[4]),
        ("body", SECRETS[5]),
        ("password", SECRETS[1]),
    ]:
        with pytest.raises(AuditFieldError):
            record("handshake.completed", actor=alice, **{name: value})
    # Legitimate handshake-like and key vault events.
    record("handshake.completed", actor=alice, session_id="sess-1", sig_kid="k1", enc_kid="k2")
    record("handshake.failed", outcome="failure", reason="decrypt", close_code=4410)
    record("key.rotated", target_type="server_key", target_id="k3", previous_kid="k1")
    # Outputs: the table, a retention export, admin exports and pages.
    export = tmp_path / "audit.jsonl"
    call_command("audit", "export", "--output", str(export), stdout=StringIO())
    admin = Client()
    admin.force_login(root)
    outputs = {"table": _dump_table(), "export": export.read_text()}
    for fmt in ("csv", "jsonl"):
        response = admin.get(f"/admin/audit/auditevent/export/{fmt}/")
        outputs[fmt] = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    pages = ["/admin/audit/auditevent/", "/admin/audit/auditevent/dashboard/"]
    from securemsg.audit.models import AuditEvent

    pages += [
        f"/admin/audit/auditevent/{pk}/change/"
        for pk in AuditEvent.objects.values_list("pk", flat=True)
    ]
    for url in pages:
        outputs[url] = admin.get(url).content.decode()
    assert AuditEvent.objects.filter(event="auth.password_changed").exists()
    assert AuditEvent.objects.filter(event="auth.login_failed").exists()
    hits = [
        (where, secret) for where, text in outputs.items() for secret in SECRETS if secret in text
    ]
    assert hits == []
