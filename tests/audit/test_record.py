"""``record``: the row, the chain hash, field hygiene and transactions."""

from __future__ import annotations

import hashlib
import itertools
import json
import types

import pytest
from django.db import transaction
from django.test import RequestFactory

import securemsg.audit
from accounts.models import User
from securemsg.audit import AuditFieldError, AuditUnavailable, record
from securemsg.audit.models import AuditEvent, ChainHead


def _expected_hash(row: AuditEvent) -> str:
    """The documented formula, written out independently of the implementation."""
    body = {
        "seq": row.seq,
        "ts": row.ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "event": row.event,
        "outcome": row.outcome,
        "actor_id": row.actor_id,
        "actor_username": row.actor_username,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "details": row.details,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(bytes.fromhex(row.prev_hash) + canonical.encode()).hexdigest()


def test_public_names_match_all():
    public = {
        name
        for name, value in vars(securemsg.audit).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    public -= {"annotations", "Any"}
    assert public == set(securemsg.audit.__all__)


def test_rows_form_a_chain_with_the_documented_hash(events):
    seqs = events(3)
    assert seqs == [1, 2, 3]
    rows = list(AuditEvent.objects.order_by("seq"))
    assert rows[0].prev_hash == "0" * 64
    for before, row in itertools.pairwise(rows):
        assert row.prev_hash == before.hash
    for row in rows:
        assert row.hash == _expected_hash(row)
    head = ChainHead.objects.get()
    assert (head.seq, head.hash) == (3, rows[-1].hash)


def test_request_gives_address_agent_and_actor(user_factory):
    alice = user_factory("alice")
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.7", HTTP_USER_AGENT="x" * 1000)
    request.user = alice
    record("user.created", request=request, target_type="user", target_id="9", note="ünï")
    row = AuditEvent.objects.get(event="user.created", target_id="9")
    assert (row.actor_id, row.actor_username, row.ip) == (alice.pk, "alice", "10.0.0.7")
    assert row.user_agent == "x" * 256
    assert row.details == {"note": "ünï"}
    assert row.hash == _expected_hash(row)


def test_asgi_scope_is_accepted(db):
    scope = {"client": ("2001:db8::1", 5000), "headers": [(b"user-agent", b"pyclient")]}
    record("handshake.failed", request=scope, outcome="failure", reason="decrypt", code=4410)
    row = AuditEvent.objects.get()
    assert (row.ip, row.user_agent) == ("2001:db8::1", "pyclient")
    assert row.details == {"reason": "decrypt", "code": 4410}


@pytest.mark.parametrize(
    "fields",
    [
        {"password": "hunter2"},
        {"details": {"new_password": "x"}},
        {"details": {"csrfmiddlewaretoken": "x"}},
        {"details": {"session_key": "x"}},
        {"details": {"sessionKey": "x"}},
        {"details": {"key": "x"}},
        {"details": {"private_key_pem": "x"}},
        {"details": {"nested": {"api_token": "x"}}},
        {"details": {"body": "hello"}},
        {"details": {"note": "-----BEGIN PRIVATE KEY-----"}},
        {"details": {"ratio": 0.5}},
        {"details": {f"k{i}": "x" * 500 for i in range(10)}},
        {"outcome": "maybe"},
    ],
)
def test_secret_or_malformed_fields_are_refused(db, fields):
    with pytest.raises(AuditFieldError):
        record("key.rotated", **fields)
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("name", ["Login", "auth", "auth.", "auth..x", "a.b c", 5])
def test_bad_event_names_are_refused(db, name):
    with pytest.raises(AuditFieldError):
        record(name)


def test_key_ids_are_not_mistaken_for_key_material(db):
    record("key.rotated", target_type="server_key", target_id="k2", key_id="k1", key_version=3)
    assert AuditEvent.objects.get().details == {"key_id": "k1", "key_version": 3}


def test_unwritable_log_raises_typed_error(unwritable):
    with pytest.raises(AuditUnavailable, match="cannot be written"):
        record("auth.logout")


def test_audit_failure_rolls_back_the_callers_action(unwritable):
    with pytest.raises(AuditUnavailable), transaction.atomic():
        User.objects.create(username="mallory")
        record("key.rotated", target_type="server_key", target_id="k1")
    assert not User.objects.filter(username="mallory").exists()


def test_callers_rollback_removes_the_event(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        record("key.rotated", target_type="server_key", target_id="k1")
        raise RuntimeError("rotation failed after recording")
    assert not AuditEvent.objects.exists()
    assert record("key.rotated") == 1
