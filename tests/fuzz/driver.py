"""A fuzzing driver for the server side of securemsg/1, shared by the tests and the bench.

``ServerFuzzer`` holds one honest client and the server state machines
(``ServerHandshake``, then ``Session`` and the consumer's request parser)
and feeds the server honest, mutated, truncated, reordered, duplicated,
oversized and garbage frames. Every choice comes from a ``random.Random``
passed in, so hypothesis (``st.randoms()``) and the bench script drive the
same code. The driver lets any exception other than ``ProtocolError``
escape (the caller counts or fails on it) and raises ``ForgeryError`` when
the server accepts something the honest client did not send:

- a ``client_finished`` while the honest client holds another transcript
  (or none: its handshake failed), or
- a record whose opened plaintext is not the client's message of the seq
  the server expects next (a changed, replayed, reordered or invented one).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from securemsg.protocol import (
    MAX_FRAME_SIZE,
    ClientHandshake,
    KeySet,
    ProtocolError,
    ServerHandshake,
    Session,
    StaleKeyError,
    b64u_decode,
    b64u_encode,
    encode_json,
    parse_client_request,
    published_key,
    send_request,
)
from securemsg.protocol._schedule import derive_handshake_secrets

USER = "alice"


class ForgeryError(AssertionError):
    """The server accepted a handshake message or record the honest client did not send."""


@dataclass(frozen=True)
class FuzzKeys:
    """The server's signing and encryption keys and a reusable client ephemeral key."""

    sig: rsa.RSAPrivateKey
    enc: rsa.RSAPrivateKey
    client: rsa.RSAPrivateKey
    key_set: KeySet
    pins: tuple[str, ...]

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        """ServerKeyring: the active signing key."""
        return "sig-1", self.sig

    def decryption_key(self, enc_kid: str) -> rsa.RSAPrivateKey:
        """ServerKeyring: the encryption key ``enc-1``; anything else is stale (4412)."""
        if enc_kid != "enc-1":
            raise StaleKeyError("unknown enc_kid")
        return self.enc


@functools.cache
def fuzz_keys() -> FuzzKeys:
    """RSA-2048 keys made once per process (the suite accepts 2048..4096)."""
    sig, enc, client = (rsa.generate_private_key(65537, 2048) for _ in range(3))
    sig_key = published_key(kid="sig-1", use="sig", public_key=sig.public_key())
    enc_key = published_key(kid="enc-1", use="enc", public_key=enc.public_key())
    key_set = KeySet(keys=(sig_key, enc_key), endorsements=())
    return FuzzKeys(sig, enc, client, key_set, (sig_key.fingerprint,))


# --- mutations -------------------------------------------------------------------

Wire = str | bytes

_ODD_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 2**64, 2**70, 1.5, "", "x", "1", [], {}, [1, 2], {"a": 1},
    "\ud800", "A" * 300, "==", "+/", -(2**63),
)  # fmt: skip


def _b64_fields(frame: dict[str, Any]) -> list[str]:
    names = []
    for key, value in frame.items():
        if isinstance(value, str) and value and key not in ("type", "suite", "enc_kid"):
            try:
                b64u_decode(value, field=key)
            except ProtocolError:
                continue
            names.append(key)
    return names


def _drop_field(frame: dict[str, Any], rng: random.Random) -> Wire:
    if frame:
        del frame[rng.choice(sorted(frame))]
    return encode_json(frame)


def _retype_field(frame: dict[str, Any], rng: random.Random) -> Wire:
    frame[rng.choice(sorted(frame))] = rng.choice(_ODD_VALUES)
    return json.dumps(frame)


def _flip_bit(frame: dict[str, Any], rng: random.Random) -> Wire:
    names = _b64_fields(frame)
    if not names:
        return _retype_field(frame, rng)
    name = rng.choice(names)
    data = bytearray(b64u_decode(frame[name], field=name))
    position = rng.randrange(len(data) * 8)
    data[position // 8] ^= 1 << (position % 8)
    frame[name] = b64u_encode(bytes(data))
    return encode_json(frame)


def _resize_b64(frame: dict[str, Any], rng: random.Random) -> Wire:
    names = _b64_fields(frame)
    if not names:
        return _drop_field(frame, rng)
    name = rng.choice(names)
    data = b64u_decode(frame[name], field=name)
    if rng.random() < 0.5:
        data = data[: rng.randrange(len(data))]
    else:
        data += rng.randbytes(rng.randint(1, 64))
    frame[name] = b64u_encode(data)
    return encode_json(frame)


def _noncanonical_b64(frame: dict[str, Any], rng: random.Random) -> Wire:
    names = _b64_fields(frame)
    if not names:
        return _drop_field(frame, rng)
    name = rng.choice(names)
    value = frame[name]
    frame[name] = rng.choice(
        [value + "=", value + "==", value.replace("A", "+", 1) + "/", " " + value]
    )
    return encode_json(frame)


def _truncate(frame: dict[str, Any], rng: random.Random) -> Wire:
    text = encode_json(frame)
    return text[: rng.randrange(len(text))]


def _duplicate_key(frame: dict[str, Any], rng: random.Random) -> Wire:
    key = rng.choice(sorted(frame))
    return encode_json(frame)[:-1] + "," + json.dumps(key) + ":" + json.dumps(frame[key]) + "}"


def _oversize(frame: dict[str, Any], rng: random.Random) -> Wire:
    frame[rng.choice(["pad", *sorted(frame)])] = "A" * (MAX_FRAME_SIZE + rng.randint(0, 64))
    return encode_json(frame)


def _json_bomb(frame: dict[str, Any], rng: random.Random) -> Wire:
    # Deep nesting and a huge array, both within the frame limit.
    depth = rng.choice([100, 1_000, 30_000])
    bomb = "[" * depth + "]" * depth if rng.random() < 0.5 else "[" + "0," * 30_000 + "0]"
    key = rng.choice(["pad", *sorted(frame)])
    return encode_json(frame)[:-1] + "," + json.dumps(key) + ":" + bomb + "}"


def _big_number(frame: dict[str, Any], rng: random.Random) -> Wire:
    key = rng.choice(sorted(frame))
    number = "9" * rng.choice([20, 5_000, 50_000])
    return encode_json(frame)[:-1] + "," + json.dumps(key) + ":" + number + "}"


def _swap_type(frame: dict[str, Any], rng: random.Random) -> Wire:
    frame["type"] = rng.choice(["client_hello", "client_finished", "rec", "server_hello", "REC"])
    return encode_json(frame)


def _change_seq(frame: dict[str, Any], rng: random.Random) -> Wire:
    seq = frame.get("seq", 0) if isinstance(frame.get("seq"), int) else 0
    frame["seq"] = rng.choice([seq + 1, seq - 1, -1, 2**64, 2**63, seq + 2**24])
    return encode_json(frame)


def _garbage_bytes(frame: dict[str, Any], rng: random.Random) -> Wire:
    return rng.randbytes(rng.randint(0, 256))


def _garbage_text(frame: dict[str, Any], rng: random.Random) -> Wire:
    return rng.choice(
        ["", "null", "[]", "{}", '"x"', "1", "{", "NaN", '{"type":NaN}', "\x00", "\ufeff{}"]
    )


# Semantics-preserving changes: the server may accept them (not a forgery).
def _reorder_keys(frame: dict[str, Any], rng: random.Random) -> Wire:
    items = list(frame.items())
    rng.shuffle(items)
    return json.dumps(dict(items), indent=rng.choice([None, 1]))


def _unknown_field(frame: dict[str, Any], rng: random.Random) -> Wire:
    frame["x-" + str(rng.randrange(100))] = rng.choice(_ODD_VALUES[:-1])
    return encode_json(frame)


MUTATIONS: tuple[Callable[[dict[str, Any], random.Random], Wire], ...] = (
    _drop_field, _retype_field, _flip_bit, _flip_bit, _resize_b64, _noncanonical_b64,
    _truncate, _duplicate_key, _oversize, _json_bomb, _big_number, _swap_type, _change_seq,
    _garbage_bytes, _garbage_text, _reorder_keys, _unknown_field,
)  # fmt: skip


def mutate(frame: dict[str, Any], rng: random.Random) -> Wire:
    """Return a mutated wire form of ``frame`` (the frame itself is not changed)."""
    return rng.choice(MUTATIONS)(json.loads(json.dumps(frame)), rng)


def garbage(rng: random.Random) -> Wire:
    """A frame of no particular message: random bytes, odd JSON or a bomb."""
    return mutate({"type": rng.choice(["client_hello", "rec", "zzz"]), "seq": 0}, rng)


# --- the driver -------------------------------------------------------------------


class ServerFuzzer:
    """One honest client and the server it talks to, fed fuzzed frames.

    ``frames`` counts every frame given to the server; ``dead`` is true once
    the server refused one (it never continues after a ProtocolError, like
    the consumer, which closes the socket).
    """

    def __init__(self, keys: FuzzKeys | None = None) -> None:
        self.keys = keys or fuzz_keys()
        self.frames = 0
        self.errors: dict[str, int] = {}
        self.forgeries = 0
        self.handshakes = 0
        self.reset()

    def reset(self) -> None:
        """Start over with a fresh server and client (what a reconnect does)."""
        self.server = ServerHandshake(self.keys, USER)
        self.client: ClientHandshake | None = ClientHandshake(
            self.keys.key_set, self.keys.pins, user=USER, client_key=self.keys.client
        )
        self.hello = self.client.client_hello()
        self.finished: dict[str, Any] | None = None
        self.server_session: Session | None = None
        self.client_session: Session | None = None
        self.sent: list[dict[str, Any] | None] = []  # plaintext of each c2s seq (None: update)
        self.frames_by_seq: list[dict[str, Any]] = []
        self.delivered = 0  # the next seq the server expects
        self.dead = False

    def fast_session(self) -> None:
        """Start over with an established session pair, skipping the RSA handshake.

        The sessions are built exactly as the handshakes build them (the same
        key schedule and Session class), from random secrets and TH, so the
        record layer can be fuzzed at full speed.
        """
        self.reset()
        th, session_id = random.randbytes(32), random.randbytes(16)
        secrets = derive_handshake_secrets(random.randbytes(32), random.randbytes(32), th)
        self.server_session = Session(role="server", th=th, session_id=session_id, secrets=secrets)
        self.client_session = Session(role="client", th=th, session_id=session_id, secrets=secrets)

    @property
    def phase(self) -> str:
        """``hello``, ``finished``, ``records`` or ``dead``."""
        if self.dead:
            return "dead"
        if self.server_session is not None:
            return "records"
        return "hello" if self.server.state == "start" else "finished"

    # --- delivering frames -----------------------------------------------------------

    def _refused(self, exc: ProtocolError) -> None:
        self.dead = True
        name = f"{type(exc).__name__}({int(exc.close_code)})"
        self.errors[name] = self.errors.get(name, 0) + 1

    def deliver(self, wire: Wire | dict[str, Any]) -> None:
        """Give the server one frame in its current phase."""
        if self.dead:
            return
        self.frames += 1
        if isinstance(wire, dict):
            wire = encode_json(wire)
        try:
            if self.server_session is not None:
                self._deliver_record(wire)
            elif self.server.state == "start":
                self._deliver_hello(wire)
            else:
                self._deliver_finished(wire)
        except ProtocolError as exc:
            self._refused(exc)

    def _deliver_hello(self, wire: Wire) -> None:
        server_hello = self.server.receive_client_hello(wire)
        if self.client is None:
            return
        try:
            self.finished = self.client.receive_server_hello(server_hello)
        except ProtocolError:
            # A mutated hello the server took (another client_key, nonce...):
            # the honest client cannot finish; no finished may pass now.
            self.client = None

    def _deliver_finished(self, wire: Wire) -> None:
        established = self.server.receive_client_finished(wire)
        if self.client is None or self.finished is None:
            self.forgeries += 1
            raise ForgeryError("client_finished accepted without the client's transcript")
        session = self.client.receive_ready(established.ready)
        if session.th != established.session.th:
            self.forgeries += 1
            raise ForgeryError("client_finished accepted for another transcript")
        self.server_session, self.client_session = established.session, session
        self.handshakes += 1

    def _deliver_record(self, wire: Wire) -> None:
        assert self.server_session is not None
        message = self.server_session.open(wire)
        expected = self.sent[self.delivered] if self.delivered < len(self.sent) else "missing"
        if message != expected:
            self.forgeries += 1
            raise ForgeryError(f"record accepted with seq {self.delivered}: {message!r:.80}")
        self.delivered += 1
        if message is not None:
            parse_client_request(message)  # what the consumer does next (4400 on bad fields)

    # --- actions (each one or a few frames) ---------------------------------------

    def step_hello(self, rng: random.Random) -> None:
        """Deliver the client_hello, mutated half of the time."""
        self.deliver(mutate(self.hello, rng) if rng.random() < 0.5 else self.hello)

    def step_finished(self, rng: random.Random) -> None:
        """Deliver client_finished (honest, mutated or an invented MAC)."""
        frame = self.finished or {"type": "client_finished", "mac": b64u_encode(rng.randbytes(32))}
        choice = rng.random()
        if choice < 0.4:
            self.deliver(frame)
        elif choice < 0.6:
            self.deliver({"type": "client_finished", "mac": b64u_encode(rng.randbytes(32))})
        else:
            self.deliver(mutate(frame, rng))

    def step_seal(self, rng: random.Random) -> None:
        """The client seals a message or a key update (not yet delivered)."""
        assert self.client_session is not None
        if rng.random() < 0.1:
            self.frames_by_seq.append(self.client_session.update_keys())
            self.sent.append(None)
            return
        request = send_request(
            f"id-{len(self.sent)}", "bob", rng.choice(["hi", "<b>x</b>", "é" * 50])
        )
        frames = self.client_session.seal(request)  # an update record may come first
        for index, frame in enumerate(frames):
            self.frames_by_seq.append(frame)
            self.sent.append(request if index == len(frames) - 1 else None)

    def step_record(self, rng: random.Random) -> None:
        """Deliver a record: the next one, a later one, an old one, or a mutated one."""
        if self.delivered >= len(self.frames_by_seq):
            self.step_seal(rng)
        choice = rng.random()
        if choice < 0.6:
            self.deliver(self.frames_by_seq[self.delivered])  # in order
        elif choice < 0.7:
            self.deliver(rng.choice(self.frames_by_seq))  # reordered or duplicated
        elif choice < 0.95:
            self.deliver(mutate(self.frames_by_seq[self.delivered], rng))
        else:
            self.deliver(garbage(rng))

    def step(self, rng: random.Random) -> None:
        """One action fitting the current phase."""
        phase = self.phase
        if phase == "hello":
            self.step_hello(rng)
        elif phase == "finished":
            self.step_finished(rng)
        elif phase == "records":
            self.step_record(rng)

    def honest_handshake_works(self) -> bool:
        """Whether a fresh client completes a handshake and one record round trip."""
        self.reset()
        self.deliver(self.hello)
        if self.finished is not None:
            self.deliver(self.finished)
        if self.phase != "records":
            return False
        assert self.client_session is not None and self.server_session is not None
        self.step_seal(random.Random(0))
        self.deliver(self.frames_by_seq[0])
        (reply,) = self.server_session.seal({"t": "pong"})
        return self.phase == "records" and self.client_session.open(reply) == {"t": "pong"}
