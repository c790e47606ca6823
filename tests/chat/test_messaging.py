"""Sending, delivery, receipts, history and storage through the real consumer."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import sync_to_async

from securemsg.chat.models import Message
from securemsg.protocol import delivered_notice, history_request, ping_request, send_request

pytestmark = pytest.mark.asyncio


def _id() -> str:
    return str(uuid.uuid4())


async def test_message_round_trip_with_receipt(chat_users, secure):
    alice = await secure(chat_users["alice"])
    bob = await secure(chat_users["bob"])
    request_id = _id()
    await alice.send(send_request(request_id, "bob", "hello bob"))
    ack = await alice.receive_until("ack")
    assert ack["id"] == request_id and ack["ts"].endswith("Z")
    msg = await bob.receive_until("msg")
    assert (msg["mid"], msg["from"], msg["to"], msg["body"]) == (
        ack["mid"],
        "alice",
        "bob",
        "hello bob",
    )
    await bob.send(delivered_notice(msg["mid"]))
    receipt = await alice.receive_until("receipt")
    assert receipt == {"t": "receipt", "mid": ack["mid"], "state": "delivered"}
    stored = await sync_to_async(Message.objects.get)(mid=ack["mid"])
    assert stored.delivered_at is not None


async def test_resend_is_idempotent(chat_users, secure):
    alice = await secure(chat_users["alice"])
    request_id = _id()
    await alice.send(send_request(request_id, "bob", "once"))
    first = await alice.receive_until("ack")
    await alice.send(send_request(request_id, "bob", "different content, same id"))
    second = await alice.receive_until("ack")
    assert first == second
    assert await sync_to_async(Message.objects.count)() == 1


async def test_body_is_encrypted_at_rest(chat_users, secure):
    alice = await secure(chat_users["alice"])
    secret_body = "the eagle lands at midnight"
    await alice.send(send_request(_id(), "bob", secret_body))
    await alice.receive_until("ack")
    stored = await sync_to_async(Message.objects.get)()
    assert secret_body.encode() not in bytes(stored.ciphertext)


async def test_undelivered_messages_arrive_after_next_handshake(chat_users, secure):
    alice = await secure(chat_users["alice"])
    mids = []
    for text in ("one", "two", "three"):
        await alice.send(send_request(_id(), "bob", text))
        mids.append((await alice.receive_until("ack"))["mid"])
    bob = await secure(chat_users["bob"])
    received = [await bob.receive_until("msg") for _ in mids]
    assert [m["mid"] for m in received] == mids
    assert [m["body"] for m in received] == ["one", "two", "three"]


async def test_sender_other_sessions_get_the_message_but_not_the_sending_one(chat_users, secure):
    alice1 = await secure(chat_users["alice"])
    alice2 = await secure(chat_users["alice"])
    await alice1.send(send_request(_id(), "alice", "note to self"))
    ack = await alice1.receive_until("ack")
    copy = await alice2.receive_until("msg")
    assert copy["mid"] == ack["mid"]
    await alice1.send(ping_request("p1"))
    # The next thing alice1 sees is the pong: no msg for its own send.
    assert await alice1.receive() == {"t": "pong", "id": "p1"}


async def test_history_pages_oldest_first(chat_users, secure):
    alice = await secure(chat_users["alice"])
    mids = []
    for i in range(5):
        await alice.send(send_request(_id(), "bob", f"m{i}"))
        mids.append((await alice.receive_until("ack"))["mid"])
    await alice.send(history_request("bob", limit=3, request_id="h1"))
    page = await alice.receive_until("history")
    assert page["id"] == "h1" and page["more"] is True
    assert [m["body"] for m in page["messages"]] == ["m2", "m3", "m4"]
    assert all(m["delivered"] is False for m in page["messages"])
    await alice.send(history_request("bob", before=mids[2], limit=3, request_id="h2"))
    older = await alice.receive_until("history")
    assert [m["body"] for m in older["messages"]] == ["m0", "m1"]
    assert older["more"] is False


async def test_history_page_fits_one_record(chat_users, secure):
    alice = await secure(chat_users["alice"])
    big = "x" * 4096
    for _ in range(12):
        await alice.send(send_request(_id(), "bob", big))
        await alice.receive_until("ack")
    await alice.send(history_request("bob", limit=100))
    page = await alice.receive_until("history")
    assert 1 <= len(page["messages"]) < 12
    assert page["more"] is True


@pytest.mark.parametrize(
    ("request_message", "code"),
    [
        ({"t": "send", "id": "s1", "to": "nobody", "body": "hi"}, "unknown_user"),
        ({"t": "send", "id": "s2", "to": "bob", "body": "é" * 2049}, "body_too_long"),
        ({"t": "history", "id": "h1", "with": "bob", "limit": 0}, "bad_request"),
        ({"t": "history", "id": "h2", "with": "bob", "before": "nope"}, "unknown_message"),
        ({"t": "history", "id": "h3", "with": "nobody"}, "unknown_user"),
        ({"t": "dance", "id": "d1"}, "bad_request"),
    ],
)
async def test_application_errors_keep_the_session(chat_users, secure, request_message, code):
    alice = await secure(chat_users["alice"])
    await alice.send(request_message)
    error = await alice.receive_until("error")
    assert error["code"] == code
    assert error["id"] == request_message["id"]
    await alice.send(ping_request())
    assert await alice.receive() == {"t": "pong"}


async def test_long_id_gets_bad_request_with_null_id(chat_users, secure):
    alice = await secure(chat_users["alice"])
    await alice.send({"t": "ping", "id": "x" * 65})
    error = await alice.receive_until("error")
    assert error["code"] == "bad_request" and error["id"] is None


async def test_delivered_from_someone_else_changes_nothing(chat_users, secure, user_factory):
    alice = await secure(chat_users["alice"])
    await alice.send(send_request(_id(), "bob", "for bob only"))
    ack = await alice.receive_until("ack")
    carol = await secure(await sync_to_async(user_factory)("carol"))
    await carol.send(delivered_notice(ack["mid"]))
    await carol.send(ping_request())
    assert await carol.receive() == {"t": "pong"}
    stored = await sync_to_async(Message.objects.get)(mid=ack["mid"])
    assert stored.delivered_at is None
