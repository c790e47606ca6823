"""The message store: encryption at rest bound to the row, and redelivery from storage."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from securemsg.chat.exceptions import MessageIntegrityError
from securemsg.chat.internal import store
from securemsg.chat.models import Message
from securemsg.protocol import send_request


def test_swapped_ciphertexts_fail_to_open(chat_users):
    alice, bob = chat_users["alice"], chat_users["bob"]
    first = store.store_message(alice, "bob", "c1", "first body")
    second = store.store_message(bob, "alice", "c2", "second body")
    loaded = store.load_message(first.mid, bob)
    assert loaded is not None and loaded.body == "first body"
    with connection.cursor() as cursor:
        cursor.execute("SELECT mid, ciphertext FROM chat_message")
        blobs = dict(cursor.fetchall())
        for target, source in ((first.mid, second.mid), (second.mid, first.mid)):
            cursor.execute(
                "UPDATE chat_message SET ciphertext = %s WHERE mid = %s", [blobs[source], target]
            )
    for mid in (first.mid, second.mid):
        with pytest.raises(MessageIntegrityError):
            store.load_message(mid, alice)
    # Listing leaves the tampered rows out instead of failing the whole page.
    assert store.history(alice, "bob", None, 50) == ([], False)
    assert store.undelivered_for(bob) == []


def test_a_checked_send_is_looked_up_once_and_a_racing_duplicate_still_caught(chat_users):
    alice = chat_users["alice"]
    with CaptureQueriesContext(connection) as queries:
        first = store.store_message(alice, "bob", "c1", "hello", checked=True)
    lookups = [q["sql"] for q in queries if "client_id" in q["sql"] and "SELECT" in q["sql"]]
    assert first.created and lookups == []
    # The caller's check missed a send that raced in: the unique constraint answers.
    again = store.store_message(alice, "bob", "c1", "hello", checked=True)
    assert (again.mid, again.created) == (first.mid, False)
    assert store.store_message(alice, "bob", "c1", "hello").mid == first.mid
    assert Message.objects.filter(sender=alice, client_id="c1").count() == 1


def test_ciphertext_moved_to_another_sender_fails(chat_users, user_factory):
    alice, bob = chat_users["alice"], chat_users["bob"]
    sent = store.store_message(alice, "bob", "c1", "from alice")
    Message.objects.filter(mid=sent.mid).update(sender=bob, recipient=alice)
    with pytest.raises(MessageIntegrityError):
        store.load_message(sent.mid, bob)


def test_only_sender_and_recipient_can_load(chat_users, user_factory):
    sent = store.store_message(chat_users["alice"], "bob", "c1", "private")
    carol = user_factory("carol")
    assert store.load_message(sent.mid, carol) is None


@pytest.mark.asyncio
async def test_message_dropped_by_the_channel_layer_arrives_from_storage(
    chat_users, secure, settings, monkeypatch
):
    settings.SECUREMSG_REDELIVERY_SECONDS = 0.5
    alice = await secure(chat_users["alice"])
    bob = await secure(chat_users["bob"])

    from channels.layers import InMemoryChannelLayer

    async def drop(self, group, message):  # the layer loses every group message
        return None

    monkeypatch.setattr(InMemoryChannelLayer, "group_send", drop)
    await alice.send(send_request("d1", "bob", "survives the drop"))
    ack = await alice.receive_until("ack")
    msg = await bob.receive_until("msg", timeout=10)
    assert msg["mid"] == ack["mid"] and msg["body"] == "survives the drop"
    # Never twice to one session, however many sweeps run.
    await bob.send({"t": "ping", "id": "p"})
    while (reply := await bob.receive()) != {"t": "pong", "id": "p"}:
        assert reply.get("mid") != ack["mid"], "delivered twice"
    stored = await sync_to_async(Message.objects.get)(mid=ack["mid"])
    assert stored.delivered_at is None  # bob's test client did not confirm


@pytest.mark.asyncio
async def test_one_sweep_serves_every_session_of_the_process(
    chat_users, secure, settings, monkeypatch
):
    from channels.layers import InMemoryChannelLayer

    from securemsg.chat.sweeper import sweeper

    settings.SECUREMSG_REDELIVERY_SECONDS = 60  # the test runs the sweep itself
    alice = await secure(chat_users["alice"])
    bobs = [await secure(chat_users["bob"]) for _ in range(3)]

    async def drop(self, group, message):
        return None

    monkeypatch.setattr(InMemoryChannelLayer, "group_send", drop)
    await alice.send(send_request("s1", "bob", "one sweep for all"))
    ack = await alice.receive_until("ack")
    await sweeper.sweep_once()
    for bob in bobs:
        msg = await bob.receive_until("msg", timeout=5)
        assert msg["mid"] == ack["mid"]
    await sweeper.sweep_once()  # a second round sends nothing twice
    for bob in bobs:
        await bob.send({"t": "ping", "id": "p"})
        assert await bob.receive() == {"t": "pong", "id": "p"}
