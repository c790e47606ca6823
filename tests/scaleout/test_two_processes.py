"""Two Daphne processes on PostgreSQL + Redis behave as one service."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async

from securemsg.audit.models import AuditEvent
from securemsg.client import ClientError, SecureChannel
from tests.scaleout.conftest import OP_TIMEOUT, Cluster, receive_type

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.asyncio]

#: Bounded wait for every process to pick up a rotation (the cache checks the
#: vault generation once a second; protocol.md allows 60 s).
ROTATION_PICKUP_SECONDS = 10.0


async def test_users_on_different_processes_exchange_messages(cluster: Cluster, channels) -> None:
    a, b = cluster.servers
    alice = channels(await cluster.connect("alice", a))
    bob = channels(await cluster.connect("bob", b))

    ack = await alice.send_text("bob", "hello from A")
    assert ack["t"] == "ack"
    msg = await receive_type(bob, "msg")
    assert (msg["from"], msg["to"], msg["body"], msg["mid"]) == (
        "alice",
        "bob",
        "hello from A",
        ack["mid"],
    )
    await bob.confirm(msg)
    receipt = await receive_type(alice, "receipt")
    assert receipt["mid"] == ack["mid"]

    reply = await bob.send_text("alice", "hello from B")
    assert (await receive_type(alice, "msg"))["mid"] == reply["mid"]


async def test_a_user_on_both_processes_gets_each_message_on_both(
    cluster: Cluster, channels
) -> None:
    a, b = cluster.servers
    carol_a = channels(await cluster.connect("carol", a))
    carol_b = channels(await cluster.connect("carol", b))
    alice = channels(await cluster.connect("alice", b))
    ack = await alice.send_text("carol", "to both of carol's sessions")
    for session in (carol_a, carol_b):
        assert (await receive_type(session, "msg"))["mid"] == ack["mid"]


async def _handshake_kids(cluster: Cluster, channels) -> list[str]:
    kids = []
    for server in cluster.servers:
        channel = channels(await cluster.connect("alice", server))
        kids.append(channel.sig_kid)
    return kids


async def test_key_rotation_by_command_is_picked_up_by_both_processes(
    cluster: Cluster, channels
) -> None:
    before = await _handshake_kids(cluster, channels)
    assert len(set(before)) == 1
    old_kid = before[0]
    _keys, old_document = await cluster.keys(cluster.servers[0])

    for purpose in ("signing", "encryption"):
        result = await asyncio.to_thread(cluster.manage, "keyvault", "rotate", "--purpose", purpose)
        assert result.returncode == 0, result.stdout + result.stderr

    # Both processes sign new handshakes with the new key, without a restart,
    # and a client that pinned only the old key accepts it (it is endorsed).
    from tests.support.ws import active_pins

    old_pins = active_pins(old_document)
    deadline = time.monotonic() + ROTATION_PICKUP_SECONDS
    seen: dict[int, str] = {}
    while len(seen) < len(cluster.servers) and time.monotonic() < deadline:
        for index, server in enumerate(cluster.servers):
            if index in seen:
                continue
            key_set, _ = await cluster.keys(server)
            channel = channels(await cluster.connect("alice", server, pins=old_pins))
            if channel.sig_kid != old_kid:
                assert key_set.active_key("enc").kid != old_document_enc(old_document)
                seen[index] = channel.sig_kid
        await asyncio.sleep(0.2)
    assert len(seen) == 2, f"not every process picked up the rotation: {seen}"
    assert len(set(seen.values())) == 1

    # A session set up before the rotation still works, across processes.
    bob = channels(await cluster.connect("bob", cluster.servers[1], pins=old_pins))
    alice = channels(await cluster.connect("alice", cluster.servers[0], pins=old_pins))
    ack = await alice.send_text("bob", "after rotation")
    assert (await receive_type(bob, "msg"))["mid"] == ack["mid"]


def old_document_enc(document: dict[str, Any]) -> str:
    """kid of the active encryption key of a keys.json document."""
    return str(
        next(
            key["kid"]
            for key in document["keys"]
            if key["use"] == "enc" and key["state"] == "active"
        )
    )


#: Tries per client in the audit test.
CONNECT_ATTEMPTS = 3
#: Concurrent clients per process in the audit test; each handshake and each
#: send writes one audit event or message from its process.
CLIENTS_PER_PROCESS = 12


async def test_audit_chain_stays_linear_with_both_processes_writing(
    cluster: Cluster, channels
) -> None:
    before = await sync_to_async(AuditEvent.objects.count)()

    async def one(index: int) -> None:
        server = cluster.servers[index % 2]
        # A session the server drops under load (see the report: a Redis read
        # timeout ends the consumer) is retried; the chain must hold either way.
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                channel = channels(await cluster.connect(("alice", "bob")[index % 2], server))
                ack = await channel.send_text(
                    "carol", f"audit load {index}", request_id=f"load-{index}"
                )
                assert ack["t"] == "ack"
                return
            except (websockets.ConnectionClosed, ClientError):
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise

    await asyncio.wait_for(
        asyncio.gather(*(one(i) for i in range(2 * CLIENTS_PER_PROCESS))), timeout=120
    )
    events = await sync_to_async(
        lambda: list(
            AuditEvent.objects.filter(event="handshake.completed").values_list("seq", flat=True)
        )
    )()
    assert len(events) >= 2 * CLIENTS_PER_PROCESS
    seqs = await sync_to_async(lambda: list(AuditEvent.objects.values_list("seq", flat=True)))()
    assert sorted(seqs) == list(range(min(seqs), min(seqs) + len(seqs))), "gaps or duplicates"
    assert len(seqs) >= before + 2 * CLIENTS_PER_PROCESS

    verified = await asyncio.to_thread(cluster.manage, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


#: Reconnection attempts after the Redis restart (one every half second).
RECONNECT_ATTEMPTS = 40


async def _reconnect(cluster: Cluster, username: str, index: int) -> SecureChannel:
    last: BaseException | None = None
    for _ in range(RECONNECT_ATTEMPTS):
        try:
            return await cluster.connect(username, cluster.servers[index])
        except (OSError, websockets.ConnectionClosed, TimeoutError) as exc:
            last = exc
            await asyncio.sleep(0.5)
    raise AssertionError(f"{username} could not reconnect: {last!r}")


async def _send_until_acked(
    cluster: Cluster, channel: SecureChannel, body: str, request_id: str
) -> tuple[SecureChannel, str]:
    """Send with a fixed id, reconnecting and resending (idempotent) until acked."""
    for _ in range(RECONNECT_ATTEMPTS):
        try:
            ack = await channel.send_text("bob", body, request_id=request_id, timeout=5)
            return channel, str(ack["mid"])
        except Exception:  # a dropped socket or a 4500 during the outage
            await channel.transport.close()
            channel = await _reconnect(cluster, "alice", 0)
    raise AssertionError(f"no ack for {request_id}")


async def test_redis_restart_loses_no_stored_message(cluster: Cluster, channels) -> None:
    alice = await cluster.connect("alice", cluster.servers[0])
    bob = await cluster.connect("bob", cluster.servers[1])
    ack = await alice.send_text("bob", "before the restart")
    first = await receive_type(bob, "msg")
    assert first["mid"] == ack["mid"]
    await bob.confirm(first)
    await receive_type(alice, "receipt")  # the delivery is recorded

    # Redis goes away for a moment with both clients connected; alice keeps
    # sending (resending with the same id until acked, reconnecting if the
    # server dropped her).
    await asyncio.to_thread(cluster.redis.stop)
    sending = asyncio.create_task(
        _send_until_acked(cluster, alice, "during the outage", str(uuid.uuid4()))
    )
    await asyncio.sleep(1.0)  # the send reaches the server while Redis is down
    await asyncio.to_thread(cluster.redis.start)
    alice, during = await asyncio.wait_for(sending, timeout=OP_TIMEOUT * 3)
    alice, after = await _send_until_acked(cluster, alice, "after the restart", str(uuid.uuid4()))
    channels(alice)

    # bob's socket may have died with Redis: reconnect if needed; every
    # stored message arrives (live or from storage; at least once).
    expected = {during, after}
    got: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while set(got) != expected and time.monotonic() < deadline:
        try:
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                message = await bob.receive()
            if message.get("t") == "msg":
                got[message["mid"]] = message["body"]
                await bob.confirm(message)
        except (websockets.ConnectionClosed, OSError):
            await bob.transport.close()
            bob = await _reconnect(cluster, "bob", 1)
    channels(bob)
    assert got == {during: "during the outage", after: "after the restart"}
