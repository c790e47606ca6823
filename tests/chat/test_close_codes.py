"""Every close code of the consumer, driven through the real ASGI stack."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from securemsg.protocol import ClientHandshake, encode_json, parse_key_set, send_request
from tests.support.db_faults import block_inserts, unblock_inserts
from tests.support.ws import active_pins, connect_as, create_session, handshake

pytestmark = pytest.mark.asyncio


async def test_anonymous_is_closed_4401(vault):
    _communicator, connected, code = await connect_as(None)
    assert connected and code == 4401


@pytest.mark.parametrize("origin", ["http://evil.example", None, "null", "http://testserver:81"])
async def test_foreign_or_missing_origin_is_closed_4403(chat_users, origin):
    _communicator, connected, code = await connect_as(chat_users["alice"], origin=origin)
    assert connected and code == 4403


async def test_foreign_origin_without_session_is_4403_not_4401(vault):
    _communicator, _connected, code = await connect_as(None, origin="http://evil.example")
    assert code == 4403


async def _open(user):
    communicator, connected, code = await connect_as(user)
    assert connected and code is None
    return communicator


async def _expect_close(communicator, timeout=5.0) -> int:
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return int(output["code"])


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        '{"type": "client_hello", "v": "1"}',
        "[1, 2, 3]",
        '{"type": "client_hello", "v": 1, "suite": 5}',
        "x" * 70_000,
    ],
)
async def test_malformed_frames_close_4400(chat_users, frame):
    communicator = await _open(chat_users["alice"])
    await communicator.send_to(text_data=frame)
    assert await _expect_close(communicator) == 4400


async def test_binary_frame_closes_4400(chat_users):
    communicator = await _open(chat_users["alice"])
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert await _expect_close(communicator) == 4400


def _hello(document, **changes):
    client = ClientHandshake(parse_key_set(document), [])
    hello = client.client_hello()
    hello.update(changes)
    return client, hello


async def test_unsupported_version_closes_4426(chat_users, vault):
    communicator = await _open(chat_users["alice"])
    _client, hello = _hello(vault, v=2)
    await communicator.send_to(text_data=encode_json(hello))
    assert await _expect_close(communicator) == 4426


async def test_unknown_enc_kid_closes_4412(chat_users, vault):
    communicator = await _open(chat_users["alice"])
    _client, hello = _hello(vault, enc_kid="enc-999")
    await communicator.send_to(text_data=encode_json(hello))
    assert await _expect_close(communicator) == 4412


async def test_wrong_finished_mac_closes_4410(chat_users, vault):
    communicator = await _open(chat_users["alice"])
    _client, hello = _hello(vault)
    await communicator.send_to(text_data=encode_json(hello))
    await communicator.receive_from(timeout=10)
    await communicator.send_to(text_data=encode_json({"type": "client_finished", "mac": "A" * 43}))
    assert await _expect_close(communicator) == 4410


async def test_second_client_hello_closes_4400(chat_users, vault):
    communicator = await _open(chat_users["alice"])
    _client, hello = _hello(vault)
    await communicator.send_to(text_data=encode_json(hello))
    await communicator.receive_from(timeout=10)
    await communicator.send_to(text_data=encode_json(hello))
    assert await _expect_close(communicator) == 4400


async def test_replayed_record_closes_4409(chat_users, secure):
    alice = await secure(chat_users["alice"])
    (frame,) = alice.session.seal(send_request("r1", "bob", "hi"))
    await alice.communicator.send_to(text_data=encode_json(frame))
    await alice.receive_until("ack")
    await alice.communicator.send_to(text_data=encode_json(frame))
    assert await alice.expect_close() == 4409


async def test_tampered_record_closes_4410(chat_users, secure):
    alice = await secure(chat_users["alice"])
    (frame,) = alice.session.seal(send_request("r1", "bob", "hi"))
    frame["ct"] = ("B" if frame["ct"][0] != "B" else "C") + frame["ct"][1:]
    await alice.communicator.send_to(text_data=encode_json(frame))
    assert await alice.expect_close() == 4410


async def test_handshake_timeout_closes_4408(chat_users, settings):
    settings.SECUREMSG_HANDSHAKE_TIMEOUT = 0.5
    communicator = await _open(chat_users["alice"])
    assert await _expect_close(communicator, timeout=5) == 4408


async def test_idle_timeout_closes_4408(chat_users, secure, settings):
    settings.SECUREMSG_IDLE_TIMEOUT = 1
    alice = await secure(chat_users["alice"])
    assert await alice.expect_close(timeout=5) == 4408


async def test_too_many_sessions_closes_4429(chat_users, settings):
    settings.SECUREMSG_MAX_SESSIONS_PER_USER = 2
    first = await _open(chat_users["alice"])
    second = await _open(chat_users["alice"])
    _third, connected, code = await connect_as(chat_users["alice"])
    assert connected and code == 4429
    await first.disconnect()
    await second.disconnect()


@pytest.mark.usefixtures("one_rate_window")
async def test_handshake_rate_limit_closes_4429(chat_users, vault, settings):
    settings.SECUREMSG_HANDSHAKES_PER_MINUTE = 1
    communicator = await _open(chat_users["alice"])
    _client, hello = _hello(vault)
    await communicator.send_to(text_data=encode_json(hello))
    await communicator.receive_from(timeout=10)
    await communicator.disconnect()
    again = await _open(chat_users["alice"])
    _client, hello = _hello(vault)
    await again.send_to(text_data=encode_json(hello))
    assert await _expect_close(again) == 4429


@pytest.mark.usefixtures("one_rate_window")
async def test_message_rate_limit_is_an_error(chat_users, secure, settings):
    settings.SECUREMSG_MESSAGES_PER_MINUTE = 2
    alice = await secure(chat_users["alice"])
    for i in range(2):
        await alice.send(send_request(f"m{i}", "bob", "hi"))
        await alice.receive_until("ack")
    await alice.send(send_request("m2", "bob", "one too many"))
    error = await alice.receive_until("error")
    assert error["code"] == "rate_limited" and error["id"] == "m2"
    # A resend of an acknowledged id is answered even past the limit.
    await alice.send(send_request("m0", "bob", "hi"))
    assert (await alice.receive_until("ack"))["id"] == "m0"


async def _socket_on_own_session(user, document):
    """A secure socket opened with a sign-in session of its own: (the session's key, socket)."""
    key = await sync_to_async(create_session)(user)
    communicator, connected, code = await connect_as(user, session_key=key)
    assert connected and code is None, code
    return key, await handshake(communicator, document, username=user.username)


async def test_sign_out_closes_4401(chat_users, vault, client):
    # The cookie of a session the socket was opened with: sign-out closes it.
    session_key, alice = await _socket_on_own_session(chat_users["alice"], vault)
    client.cookies["sessionid"] = session_key
    response = await sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await alice.expect_close() == 4401
    await alice.communicator.disconnect()


async def test_sign_out_closes_only_that_session_and_its_notice_carries_no_key(
    chat_users, vault, client
):
    from channels.layers import get_channel_layer

    from securemsg.chat.consumer import user_group

    opened = [await _socket_on_own_session(chat_users["alice"], vault) for _ in range(2)]
    keys = [key for key, _socket in opened]
    sockets = [socket for _key, socket in opened]
    # Listen on the user's group like a consumer in another process would.
    layer = get_channel_layer()
    spy = await layer.new_channel()
    await layer.group_add(user_group(chat_users["alice"].pk), spy)
    client.cookies["sessionid"] = keys[0]
    assert (await sync_to_async(client.post)("/accounts/logout/")).status_code == 302
    assert await sockets[0].expect_close() == 4401
    notice = await layer.receive(spy)
    assert notice["type"] == "session.ended" and notice["reason"] == "signed_out"
    assert not any(key in repr(notice) for key in keys)
    # The other session of the same user stays open.
    await sockets[1].send({"t": "ping", "id": "still"})
    assert (await sockets[1].receive_until("pong"))["id"] == "still"


async def test_vault_failure_closes_4500(chat_users, vault, settings):
    import os

    import keyvault

    os.remove(settings.KEYVAULT_MASTER_KEY_FILE)
    await sync_to_async(keyvault.reset_caches)()
    communicator = await _open(chat_users["alice"])
    _client, hello = _hello(vault)
    await communicator.send_to(text_data=encode_json(hello))
    assert await _expect_close(communicator) == 4500


async def test_unwritable_audit_log_closes_4500_before_ready(chat_users, vault):
    def block_audit() -> None:
        block_inserts("audit_auditevent", "block_audit")

    def unblock_audit() -> None:
        unblock_inserts("audit_auditevent", "block_audit")

    communicator = await _open(chat_users["alice"])
    client = ClientHandshake(parse_key_set(vault), active_pins(vault))
    await communicator.send_to(text_data=encode_json(client.client_hello()))
    server_hello = await communicator.receive_from(timeout=10)
    finished = client.receive_server_hello(server_hello)
    await sync_to_async(block_audit)()
    try:
        await communicator.send_to(text_data=encode_json(finished))
        # No ready record: the handshake that cannot be audited does not complete.
        output = await communicator.receive_output(timeout=5)
        assert output["type"] == "websocket.close"
        assert output["code"] == 4500
    finally:
        await sync_to_async(unblock_audit)()


async def test_handshake_is_audited_without_secrets(chat_users, secure):
    from securemsg.audit.models import AuditEvent

    alice = await secure(chat_users["alice"])
    await alice.send(send_request("a1", "bob", "a very secret body"))
    await alice.receive_until("ack")
    events = await sync_to_async(
        lambda: list(AuditEvent.objects.filter(event="handshake.completed").values())
    )()
    assert len(events) == 1
    event = events[0]
    assert event["actor_username"] == "alice"
    assert event["details"]["session_id"] == alice.session.session_id.hex()
    dump = repr(await sync_to_async(lambda: list(AuditEvent.objects.values()))())
    assert "a very secret body" not in dump
