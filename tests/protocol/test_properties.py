"""Property tests: mutations of what TH, the MAC or the tag cover are always rejected
with a ProtocolError (never another exception), and valid transcripts always succeed.

Budgets are small: every handshake example costs a few RSA-2048 operations.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from securemsg.protocol import (
    ClientHandshake,
    KeySet,
    ProtocolError,
    ServerHandshake,
    Session,
    b64u_decode,
    b64u_encode,
    encode_json,
)
from securemsg.protocol._schedule import HandshakeSecrets

from .conftest import Keys, MemoryKeyring

FIELDS = {
    "client_hello": [
        "type",
        "v",
        "suite",
        "client_key",
        "client_nonce",
        "enc_kid",
        "wrapped_client_secret",
    ],
    "server_hello": [
        "type",
        "v",
        "suite",
        "server_nonce",
        "session_id",
        "sig_kid",
        "user",
        "wrapped_server_secret",
        "signature",
    ],
    "client_finished": ["type", "mac"],
}
B64_FIELDS = {
    "client_key",
    "client_nonce",
    "wrapped_client_secret",
    "server_nonce",
    "session_id",
    "wrapped_server_secret",
    "signature",
    "mac",
    "ct",
}
HANDSHAKE_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FAST_SETTINGS = settings(max_examples=150, deadline=None)

OTHER_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),  # not encodable as JSON text
    st.text(max_size=20),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def mutations(draw: st.DrawFn, value: Any, b64: bool) -> tuple[bool, Any]:
    """Return (delete?, new value) differing from ``value``."""
    kind = draw(
        st.sampled_from(
            ["delete", "other", "flip", "truncate", "extend"] if b64 else ["delete", "other"]
        )
    )
    if kind == "delete":
        return True, None
    if kind == "other":
        new = draw(OTHER_VALUES)
        assume(new != value or type(new) is not type(value))
        return False, new
    data = bytearray(b64u_decode(value))
    if kind == "flip":
        assume(data)
        bit = draw(st.integers(0, len(data) * 8 - 1))
        data[bit // 8] ^= 1 << (bit % 8)
    elif kind == "truncate":
        assume(data)
        data = data[: draw(st.integers(0, len(data) - 1))]
    else:
        data += draw(st.binary(min_size=1, max_size=8))
    return False, b64u_encode(bytes(data))


def _mutate(frame: dict[str, Any], field: str, data: st.DataObject) -> dict[str, Any]:
    delete, new = data.draw(mutations(frame[field], field in B64_FIELDS))
    mutated = dict(frame)
    if delete:
        del mutated[field]
    else:
        mutated[field] = new
    return mutated


@HANDSHAKE_SETTINGS
@given(message=st.sampled_from(sorted(FIELDS)), data=st.data())
def test_mutated_handshake_is_always_rejected(
    keys: Keys, key_set: KeySet, pin: str, message: str, data: st.DataObject
) -> None:
    field = data.draw(st.sampled_from(FIELDS[message]))
    client = ClientHandshake(key_set, [pin], user="alice", client_key=keys.client)
    server = ServerHandshake(MemoryKeyring("sig-1", keys.sig, {"enc-1": keys.enc}), "alice")

    def maybe(name: str, frame: dict[str, Any]) -> Any:
        # Alternate between dict and text frames: both paths must behave.
        frame = _mutate(frame, field, data) if name == message else frame
        return encode_json(frame) if data.draw(st.booleans()) else frame

    try:
        hello = maybe("client_hello", client.client_hello())
        server_hello = maybe("server_hello", server.receive_client_hello(hello))
        finished = maybe("client_finished", client.receive_server_hello(server_hello))
        _, ready = server.receive_client_finished(finished)
        client.receive_ready(ready)
    except ProtocolError:
        return
    raise AssertionError(f"mutation of {message}.{field} was accepted")


def _pair() -> tuple[Session, Session]:
    secrets = HandshakeSecrets(bytes(range(32)), bytes(range(32, 64)), b"")
    kw: dict[str, Any] = {"th": bytes(32), "session_id": bytes(16), "secrets": secrets}
    return Session(role="client", **kw), Session(role="server", **kw)


@FAST_SETTINGS
@given(field=st.sampled_from(["seq", "ct", "type"]), data=st.data(), position=st.integers(0, 3))
def test_mutated_record_is_always_rejected(field: str, data: st.DataObject, position: int) -> None:
    client, server = _pair()
    frames = [f for i in range(4) for f in client.seal({"t": "ping", "id": str(i)})]
    for frame in frames[:position]:
        server.open(frame)
    target = frames[position]
    if field == "seq":
        new = data.draw(OTHER_VALUES | st.integers(min_value=0, max_value=2**64))
        assume(new != target["seq"] or type(new) is not int)
        mutated = dict(target, seq=new)
    else:
        mutated = _mutate(target, field, data)
    try:
        server.open(mutated)
    except ProtocolError:
        return
    raise AssertionError("mutated record accepted")


@FAST_SETTINGS
@given(frame=st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_arbitrary_frames_raise_only_protocol_errors(keys: Keys, frame: str | bytes) -> None:
    server = ServerHandshake(MemoryKeyring("sig-1", keys.sig, {"enc-1": keys.enc}), "alice")
    _, session = _pair()
    for call in (server.receive_client_hello, session.open):
        try:
            call(frame)
        except ProtocolError:
            continue
        raise AssertionError("garbage accepted")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@FAST_SETTINGS
@given(
    obj=st.dictionaries(
        st.sampled_from(
            [
                "type",
                "v",
                "suite",
                "client_key",
                "client_nonce",
                "enc_kid",
                "wrapped_client_secret",
                "seq",
                "ct",
                "mac",
            ]
        ),
        JSON_VALUES,
        max_size=8,
    )
)
def test_arbitrary_objects_raise_only_protocol_errors(keys: Keys, obj: dict[str, Any]) -> None:
    server = ServerHandshake(MemoryKeyring("sig-1", keys.sig, {"enc-1": keys.enc}), "alice")
    _, session = _pair()
    for call in (server.receive_client_hello, session.open):
        try:
            call(obj)
        except ProtocolError:
            continue
        raise AssertionError("garbage accepted")


@FAST_SETTINGS
@given(
    script=st.lists(
        st.tuples(
            st.sampled_from(["c2s", "s2c", "update_c2s", "update_s2c"]), st.text(max_size=300)
        ),
        max_size=12,
    )
)
def test_valid_record_transcripts_always_succeed(script: list[tuple[str, str]]) -> None:
    client, server = _pair()
    for action, body in script:
        sender, receiver = (client, server) if action.endswith("c2s") else (server, client)
        if action.startswith("update"):
            assert receiver.open(sender.update_keys()) is None
            continue
        message = {"t": "msg", "body": body}
        assert [receiver.open(f) for f in sender.seal(message)] == [message]
    assert client.send_epoch == server.recv_epoch and server.send_epoch == client.recv_epoch


@settings(max_examples=10, deadline=None)
@given(user=st.text(min_size=1, max_size=150), bodies=st.lists(st.text(max_size=50), max_size=3))
def test_valid_handshakes_always_succeed(
    keys: Keys, key_set: KeySet, pin: str, user: str, bodies: list[str]
) -> None:
    client = ClientHandshake(key_set, [pin], user=user, client_key=keys.client)
    server = ServerHandshake(MemoryKeyring("sig-1", keys.sig, {"enc-1": keys.enc}), user)
    finished = client.receive_server_hello(
        encode_json(server.receive_client_hello(encode_json(client.client_hello())))
    )
    server_session, ready = server.receive_client_finished(finished)
    client_session = client.receive_ready(ready)
    for body in bodies:
        for frame in client_session.seal({"t": "send", "id": "1", "to": user, "body": body}):
            assert server_session.open(encode_json(frame))["body"] == body  # type: ignore[index]
