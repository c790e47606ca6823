"""Valid handshakes and the handshake state machines."""

from __future__ import annotations

import pytest

from securemsg.protocol import (
    AuthenticationFailedError,
    CloseCode,
    UnexpectedMessageError,
    b64u_decode,
    decode_frame,
    encode_json,
)

from .conftest import MemoryKeyring, run_handshake


def test_valid_handshake_establishes_matching_sessions(make_pair, keyring: MemoryKeyring) -> None:
    pair = run_handshake(make_pair())
    client, server = pair.client_session, pair.server_session
    assert client is not None and server is not None
    assert (
        client.session_id
        == server.session_id
        == b64u_decode(pair.frames["server_hello"]["session_id"])
    )
    assert client.th == server.th
    assert pair.server.sig_kid == "sig-1" and pair.server.enc_kid == "enc-1"
    # The server used its private keys exactly once each (vault usage counters).
    assert sorted(keyring.calls) == ["decrypt", "sign"]
    for frame in client.seal({"t": "ping", "id": "p1"}):
        assert server.open(frame) == {"t": "ping", "id": "p1"}
    for frame in server.seal({"t": "pong", "id": "p1"}):
        assert client.open(frame) == {"t": "pong", "id": "p1"}


def test_handshake_accepts_frame_text(make_pair) -> None:
    pair = make_pair()
    hello_text = encode_json(pair.client.client_hello())
    server_hello = pair.server.receive_client_hello(hello_text)
    finished = pair.client.receive_server_hello(encode_json(server_hello).encode())
    established = pair.server.receive_client_finished(encode_json(finished))
    session = pair.client.receive_ready(encode_json(established.ready))
    assert session.session_id == established.session.session_id


def test_ready_plaintext_names_the_session(make_pair) -> None:
    pair = make_pair()
    run_handshake(pair)
    assert pair.frames["ready"]["seq"] == 0
    assert decode_frame(pair.frames["ready"])["type"] == "rec"


def test_second_client_hello_is_out_of_order(make_pair) -> None:
    pair = make_pair()
    hello = pair.client.client_hello()
    pair.server.receive_client_hello(hello)
    with pytest.raises(UnexpectedMessageError) as info:
        pair.server.receive_client_finished(hello)
    assert info.value.close_code == CloseCode.MALFORMED


def test_second_client_hello_after_ready_is_4400(make_pair) -> None:
    pair = run_handshake(make_pair())
    assert pair.server_session is not None
    with pytest.raises(UnexpectedMessageError) as info:
        pair.server_session.open(pair.frames["client_hello"])
    assert info.value.close_code == 4400


def test_client_hello_twice_to_the_state_machine_is_4400(make_pair) -> None:
    pair = make_pair()
    hello = pair.client.client_hello()
    pair.server.receive_client_hello(hello)
    with pytest.raises(UnexpectedMessageError):
        pair.server.receive_client_hello(hello)


def test_record_before_ready_is_4400(make_pair, sessions) -> None:
    client_session, _ = sessions
    pair = make_pair()
    pair.server.receive_client_hello(pair.client.client_hello())
    (record,) = client_session.seal({"t": "ping"})
    with pytest.raises(UnexpectedMessageError) as info:
        pair.server.receive_client_finished(record)
    assert info.value.close_code == 4400


def test_second_client_finished_is_4400(make_pair) -> None:
    pair = run_handshake(make_pair())
    with pytest.raises(UnexpectedMessageError):
        pair.server.receive_client_finished(pair.frames["client_finished"])


def test_client_rejects_application_record_instead_of_ready(make_pair) -> None:
    pair = make_pair()
    hello = pair.client.client_hello()
    server_hello = pair.server.receive_client_hello(hello)
    finished = pair.client.receive_server_hello(server_hello)
    established = pair.server.receive_client_finished(finished)
    # A server that skips "ready" and sends something else first.
    server_session = established.session
    (other,) = server_session.seal({"t": "pong"})
    pair2_ready_replaced = dict(other, seq=0)
    with pytest.raises((UnexpectedMessageError, AuthenticationFailedError)):
        pair.client.receive_ready(pair2_ready_replaced)


def test_state_machine_is_dead_after_an_error(make_pair) -> None:
    pair = make_pair()
    pair.server.receive_client_hello(pair.client.client_hello())
    with pytest.raises(AuthenticationFailedError):
        pair.server.receive_client_finished({"type": "client_finished", "mac": "A" * 43})
    assert pair.server.state == "failed"
    with pytest.raises(UnexpectedMessageError):
        pair.server.receive_client_finished({"type": "client_finished", "mac": "A" * 43})
