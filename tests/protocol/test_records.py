"""Record layer: sequencing, reflection, cross-session, truncation, epochs and key update."""

from __future__ import annotations

import os
from typing import Any

import pytest

from securemsg.protocol import (
    MAX_PLAINTEXT_SIZE,
    AuthenticationFailedError,
    MalformedMessageError,
    SequenceError,
    Session,
    UnexpectedMessageError,
    b64u_decode,
    b64u_encode,
    encode_json,
)
from securemsg.protocol._schedule import HandshakeSecrets

from .conftest import run_handshake

SECRETS = HandshakeSecrets(c2s=bytes(range(32)), s2c=bytes(range(1, 33)), finished_key=b"")
TH = bytes(32)
SID = bytes(16)


class Clock:
    """An injected monotonic clock."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def _pair(**kw) -> tuple[Session, Session]:
    client = Session(role="client", th=TH, session_id=SID, secrets=SECRETS, **kw)
    server = Session(role="server", th=TH, session_id=SID, secrets=SECRETS, **kw)
    return client, server


def _one(session: Session, message: dict[str, Any]) -> dict[str, Any]:
    (frame,) = session.seal(message)
    return frame


def test_records_flow_both_ways_with_increasing_seq() -> None:
    client, server = _pair()
    for i in range(3):
        frame = _one(client, {"t": "ping", "id": str(i)})
        assert frame["seq"] == i
        assert server.open(frame) == {"t": "ping", "id": str(i)}
    assert server.open(encode_json(_one(client, {"t": "ping"}))) == {"t": "ping"}


def test_replayed_record_is_4409() -> None:
    client, server = _pair()
    frame = _one(client, {"t": "ping"})
    server.open(frame)
    with pytest.raises(SequenceError) as info:
        server.open(frame)
    assert info.value.close_code == 4409


def test_reordered_records_are_4409() -> None:
    client, server = _pair()
    first, second = _one(client, {"t": "ping"}), _one(client, {"t": "ping"})
    assert first["seq"] == 0
    with pytest.raises(SequenceError):
        server.open(second)


def test_sequence_gap_is_4409() -> None:
    client, server = _pair()
    _one(client, {"t": "ping"})  # lost
    _one(client, {"t": "ping"})
    with pytest.raises(SequenceError):
        server.open(_one(client, {"t": "ping"}))


def test_seq_rewritten_to_expected_value_fails_authentication() -> None:
    client, server = _pair()
    _one(client, {"t": "ping"})
    frame = dict(_one(client, {"t": "ping"}), seq=0)
    with pytest.raises(AuthenticationFailedError):
        server.open(frame)


def test_reflected_record_is_4410() -> None:
    _, server = _pair()
    # The server's own record sent back to it has the expected seq 0 but
    # the other direction's key, nonce tag and AAD byte.
    reflected = _one(server, {"t": "pong"})
    with pytest.raises(AuthenticationFailedError) as info:
        server.open(reflected)
    assert info.value.close_code == 4410


def test_record_from_another_session_is_4410(make_pair) -> None:
    one = run_handshake(make_pair())
    two = run_handshake(make_pair(random=os.urandom))
    assert one.client_session is not None and two.server_session is not None
    frame = _one(one.client_session, {"t": "ping"})
    with pytest.raises(AuthenticationFailedError):
        two.server_session.open(frame)


def test_same_keys_other_session_id_is_4410() -> None:
    client = Session(role="client", th=TH, session_id=bytes(16), secrets=SECRETS)
    server = Session(role="server", th=TH, session_id=b"\x01" * 16, secrets=SECRETS)
    with pytest.raises(AuthenticationFailedError):
        server.open(_one(client, {"t": "ping"}))


@pytest.mark.parametrize("keep", [0, 1, 15, 16, -1])
def test_truncated_ct_is_4410(keep: int) -> None:
    client, server = _pair()
    frame = _one(client, {"t": "ping"})
    ct = b64u_decode(frame["ct"])
    frame["ct"] = b64u_encode(ct[:keep] if keep >= 0 else ct[:-1])
    with pytest.raises(AuthenticationFailedError) as info:
        server.open(frame)
    assert info.value.close_code == 4410


def test_bad_tag_is_4410() -> None:
    client, server = _pair()
    frame = _one(client, {"t": "ping"})
    ct = bytearray(b64u_decode(frame["ct"]))
    ct[-1] ^= 0x80
    frame["ct"] = b64u_encode(bytes(ct))
    with pytest.raises(AuthenticationFailedError):
        server.open(frame)


def test_session_is_dead_after_an_error() -> None:
    client, server = _pair()
    good = _one(client, {"t": "ping"})
    with pytest.raises(AuthenticationFailedError):
        server.open(dict(good, ct=b64u_encode(b"x" * 20)))
    with pytest.raises(UnexpectedMessageError):
        server.open(good)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "rec", "seq": "0", "ct": "AAAA"},
        {"type": "rec", "seq": True, "ct": "AAAA"},
        {"type": "rec", "ct": "AAAA"},
        {"type": "rec", "seq": 0},
        {"type": "rec", "seq": 0, "ct": "AAAA="},
        {"seq": 0, "ct": "AAAA"},
    ],
)
def test_malformed_records_are_4400(frame: dict[str, Any]) -> None:
    _, server = _pair()
    with pytest.raises(MalformedMessageError):
        server.open(frame)


def test_oversize_frame_record_is_4400() -> None:
    _, server = _pair()
    with pytest.raises(MalformedMessageError):
        server.open('{"type":"rec","seq":0,"ct":"' + "A" * 65_536 + '"}')


def test_plaintext_limit() -> None:
    client, server = _pair()
    body = "x" * (MAX_PLAINTEXT_SIZE - len(encode_json({"t": "msg", "body": ""})))
    assert server.open(_one(client, {"t": "msg", "body": body})) == {"t": "msg", "body": body}
    with pytest.raises(ValueError):
        client.seal({"t": "msg", "body": body + "x"})


def test_authentic_oversize_plaintext_is_4400() -> None:
    from securemsg.protocol._crypto import aead_seal
    from securemsg.protocol._records import record_aad, record_nonce
    from securemsg.protocol._schedule import epoch_key

    _, server = _pair()
    plaintext = encode_json({"t": "x", "pad": "y" * MAX_PLAINTEXT_SIZE}).encode()
    ct = aead_seal(
        epoch_key(SECRETS.c2s, TH), record_nonce(1, 0), plaintext, record_aad(SID, 1, 0, 0)
    )
    with pytest.raises(MalformedMessageError):
        server.open({"type": "rec", "seq": 0, "ct": b64u_encode(ct)})


def test_utf8_is_written_not_escaped() -> None:
    client, server = _pair()
    frame = _one(client, {"t": "send", "body": "é" * 10})
    # 10 two-byte characters + framing; \u escapes would need 60 bytes.
    assert len(b64u_decode(frame["ct"])) - 16 == len('{"t":"send","body":""}') + 20
    assert server.open(frame) == {"t": "send", "body": "é" * 10}


def test_explicit_key_update() -> None:
    client, server = _pair()
    update = client.update_keys()
    assert client.send_epoch == 1
    assert server.open(update) is None
    assert server.recv_epoch == 1
    assert server.open(_one(client, {"t": "ping"})) == {"t": "ping"}
    # seq does not restart at an update.
    assert _one(client, {"t": "ping"})["seq"] == 2


def test_record_under_old_epoch_after_update_fails() -> None:
    client, server = _pair()
    stale = Session(role="client", th=TH, session_id=SID, secrets=SECRETS)
    server.open(client.update_keys())
    _one(stale, {"t": "ping"})  # consumes seq 0 of the stale copy
    with pytest.raises(AuthenticationFailedError):
        server.open(_one(stale, {"t": "ping"}))  # seq 1 under epoch 0


def test_automatic_update_by_record_count() -> None:
    client, server = _pair(update_after_records=4)
    sent = []
    for _ in range(5):
        sent.extend(client.seal({"t": "ping"}))
    # indices 0,1,2 are pings; index 3 must be the update, then epoch 1.
    opened = [server.open(frame) for frame in sent]
    assert opened[3] is None
    assert len(sent) == 6 and client.send_epoch == 1 and server.recv_epoch == 1


def test_automatic_update_by_age() -> None:
    clock = Clock()
    client, server = _pair(now=clock)
    (first,) = client.seal({"t": "ping"})
    clock.value += 3599.0
    (second,) = client.seal({"t": "ping"})
    server.open(first)
    server.open(second)
    clock.value += 1.0
    frames = client.seal({"t": "ping"})
    assert len(frames) == 2 and client.send_epoch == 1
    assert server.open(frames[0]) is None
    assert server.open(frames[1]) == {"t": "ping"}
    assert server.recv_epoch == 1


def test_receiver_rejects_index_beyond_epoch_limit() -> None:
    _, server = _pair(update_after_records=8, max_records_per_epoch=16)
    sender = Session(
        role="client",
        th=TH,
        session_id=SID,
        secrets=SECRETS,
        update_after_records=10_000,
        max_records_per_epoch=10_001,
    )
    for _ in range(16):
        server.open(_one(sender, {"t": "ping"}))
    with pytest.raises(SequenceError) as info:
        server.open(_one(sender, {"t": "ping"}))
    assert info.value.close_code == 4409


def test_old_secret_is_not_kept_after_update() -> None:
    client, _ = _pair()
    client.update_keys()
    held = [v for v in vars(client._send).values() if isinstance(v, bytes)]
    assert SECRETS.c2s not in held
