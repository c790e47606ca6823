"""The metrics endpoint: off by default, protected, and counting what the consumer does."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from securemsg.protocol import delivered_notice, encode_json, send_request
from tests.support.ws import connect_as, handshake

TOKEN = "metrics-token-for-tests-7c1d"


def test_metrics_are_off_without_configuration(db, client: Client):
    assert client.get("/metrics").status_code == 404


def test_token_is_required(db, client: Client, settings):
    from keyvault._secret import Secret

    settings.SECUREMSG_METRICS_TOKEN = Secret(TOKEN)
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    good = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert good.status_code == 200
    assert good["Content-Type"].startswith("text/plain")
    text = good.content.decode()
    for name in (
        "securemsg_handshakes_completed_total",
        "securemsg_secure_sessions_open",
        "securemsg_records_total",
        "securemsg_state_up 1.0",
        "securemsg_messages_pending",
        "django_http_requests_total_by_method_total",
    ):
        assert name in text, name
    assert TOKEN not in text


def test_allow_list(db, client: Client, settings):
    settings.SECUREMSG_METRICS_ALLOW = ["10.0.0.0/8"]
    assert client.get("/metrics").status_code == 403  # the test client is 127.0.0.1
    settings.SECUREMSG_METRICS_ALLOW = ["10.0.0.0/8", "127.0.0.1"]
    assert client.get("/metrics").status_code == 200
    settings.SECUREMSG_METRICS_ALLOW = ["not-a-network"]
    assert client.get("/metrics").status_code == 403


def test_allow_list_and_token_both_apply(db, client: Client, settings):
    from keyvault._secret import Secret

    settings.SECUREMSG_METRICS_TOKEN = Secret(TOKEN)
    settings.SECUREMSG_METRICS_ALLOW = ["192.0.2.0/24"]
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 403
    settings.SECUREMSG_METRICS_ALLOW = ["127.0.0.0/8"]
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_key_age_gauges(vault, client: Client, settings):
    settings.SECUREMSG_METRICS_ALLOW = ["127.0.0.1"]
    text = client.get("/metrics").content.decode()
    assert 'securemsg_key_age_seconds{purpose="signing"}' in text
    assert 'securemsg_key_max_age_seconds{purpose="encryption"} 2.592e+06' in text
    assert 'securemsg_key_rotations{purpose="signing"} 0.0' in text


@pytest.mark.asyncio
async def test_handshake_and_send_move_the_counters(vault, user_factory, sample):
    alice = await sync_to_async(user_factory)("alice")
    bob = await sync_to_async(user_factory)("bob")
    before: dict[str, float] = {
        "completed": sample("securemsg_handshakes_completed_total"),
        "hs_count": sample("securemsg_handshake_duration_seconds_count"),
        "open": sample("securemsg_secure_sessions_open"),
        "in": sample("securemsg_records_total", {"direction": "in"}),
        "out": sample("securemsg_records_total", {"direction": "out"}),
        "stored": sample("securemsg_messages_stored_total"),
        "delivered": sample("securemsg_messages_delivered_total"),
        "audit": sample("securemsg_audit_events_total", {"event": "handshake.completed"}),
        "lookups": sample(
            "securemsg_vault_cache_lookups_total", {"kind": "private", "result": "hit"}
        )
        + sample("securemsg_vault_cache_lookups_total", {"kind": "private", "result": "miss"}),
    }
    sockets: list[Any] = []
    for user in (alice, bob):
        communicator, connected, code = await connect_as(user)
        assert connected and code is None
        sockets.append(await handshake(communicator, vault, username=user.username))
    a, b = sockets
    assert sample("securemsg_handshakes_completed_total") == before["completed"] + 2
    assert sample("securemsg_handshake_duration_seconds_count") == before["hs_count"] + 2
    assert sample("securemsg_secure_sessions_open") == before["open"] + 2
    assert sample("securemsg_audit_events_total", {"event": "handshake.completed"}) == (
        before["audit"] + 2
    )
    lookups = sample(
        "securemsg_vault_cache_lookups_total", {"kind": "private", "result": "hit"}
    ) + sample("securemsg_vault_cache_lookups_total", {"kind": "private", "result": "miss"})
    assert lookups > before["lookups"]

    await a.send(send_request(str(uuid.uuid4()), "bob", "hello"))
    await a.receive_until("ack")
    msg = await b.receive_until("msg")
    await b.send(delivered_notice(msg["mid"]))
    await a.receive_until("receipt")
    assert sample("securemsg_messages_stored_total") == before["stored"] + 1
    assert sample("securemsg_messages_delivered_total") == before["delivered"] + 1
    assert sample("securemsg_records_total", {"direction": "in"}) == before["in"] + 2
    # ack and receipt to alice, msg to bob.
    assert sample("securemsg_records_total", {"direction": "out"}) >= before["out"] + 3

    for socket in sockets:
        await socket.close()
    assert sample("securemsg_secure_sessions_open") == before["open"]


@pytest.mark.asyncio
async def test_failed_handshake_and_rejected_record_are_counted(vault, user_factory, sample):
    alice = await sync_to_async(user_factory)("alice")
    communicator, connected, _ = await connect_as(alice)
    assert connected
    failed = sample("securemsg_handshakes_failed_total", {"reason": "malformed"})
    await communicator.send_to(text_data="not json")
    await communicator.receive_output(timeout=5)
    assert sample("securemsg_handshakes_failed_total", {"reason": "malformed"}) == failed + 1
    await communicator.disconnect()

    communicator, connected, _ = await connect_as(alice)
    socket = await handshake(communicator, vault, username="alice")
    rejected = sample("securemsg_records_rejected_total", {"close_code": "4410"})
    frame = {"t": "rec", "seq": 0, "ct": "AAAA", "mac": "AAAA"}
    await communicator.send_to(text_data=encode_json(frame))
    code = await socket.expect_close()
    assert sample("securemsg_records_rejected_total", {"close_code": str(code)}) >= rejected + 1
    await communicator.disconnect()
