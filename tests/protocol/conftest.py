"""Fixtures of the protocol-core tests: keys made once per session, a keyring, handshakes.

RSA key generation is slow, so every key is generated once per test session
and reused; RSA-2048 keeps the tests fast (the suite accepts 2048..4096).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from securemsg.protocol import (
    ClientHandshake,
    KeySet,
    ServerHandshake,
    Session,
    StaleKeyError,
    create_endorsement,
    published_key,
    spki_der,
)


@dataclass
class Keys:
    """The long-term server keys and a client ephemeral key of the tests."""

    sig: rsa.RSAPrivateKey
    sig_next: rsa.RSAPrivateKey
    enc: rsa.RSAPrivateKey
    client: rsa.RSAPrivateKey
    other: rsa.RSAPrivateKey  # an unrelated key (attacker, unpinned signer)


@dataclass
class MemoryKeyring:
    """An in-memory ServerKeyring, standing in for the Django key vault."""

    sig_kid: str
    sig: rsa.RSAPrivateKey
    enc: dict[str, rsa.RSAPrivateKey]
    calls: list[str] = field(default_factory=list)

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        self.calls.append("sign")
        return self.sig_kid, self.sig

    def decryption_key(self, enc_kid: str) -> rsa.RSAPrivateKey:
        self.calls.append("decrypt")
        try:
            return self.enc[enc_kid]
        except KeyError:
            raise StaleKeyError("unknown enc_kid") from None


def _generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def keys() -> Keys:
    """Five RSA-2048 keys, generated once per test session."""
    return Keys(*(_generate() for _ in range(5)))


@pytest.fixture(scope="session")
def key_set(keys: Keys) -> KeySet:
    """keys.json with one active signing key ("sig-1") and one encryption key ("enc-1")."""
    return KeySet(
        keys=(
            published_key(kid="sig-1", use="sig", public_key=keys.sig.public_key()),
            published_key(kid="enc-1", use="enc", public_key=keys.enc.public_key()),
        ),
        endorsements=(),
    )


@pytest.fixture(scope="session")
def rotated_key_set(keys: Keys) -> KeySet:
    """keys.json after a rotation: "sig-2" active, "sig-1" retiring, endorsed by sig-1."""
    endorsement = create_endorsement(
        kid="sig-2", spki=spki_der(keys.sig_next.public_key()), by="sig-1", by_private_key=keys.sig
    )
    return KeySet(
        keys=(
            published_key(
                kid="sig-1", use="sig", public_key=keys.sig.public_key(), state="retiring"
            ),
            published_key(kid="sig-2", use="sig", public_key=keys.sig_next.public_key()),
            published_key(kid="enc-1", use="enc", public_key=keys.enc.public_key()),
        ),
        endorsements=(endorsement,),
    )


@pytest.fixture(scope="session")
def pin(key_set: KeySet) -> str:
    """The fingerprint of sig-1, as a client pins it."""
    return key_set.active_key("sig").fingerprint


@pytest.fixture
def keyring(keys: Keys) -> MemoryKeyring:
    """A keyring that signs with sig-1 and decrypts enc-1."""
    return MemoryKeyring("sig-1", keys.sig, {"enc-1": keys.enc})


def counter_random(seed: int = 0) -> Callable[[int], bytes]:
    """A deterministic ``random``: distinct, reproducible bytes on every call."""
    state = {"n": seed}

    def draw(size: int) -> bytes:
        state["n"] += 1
        block = state["n"].to_bytes(4, "big")
        return (block * (size // 4 + 1))[:size]

    return draw


@dataclass
class Pair:
    """Both ends of one handshake plus the frames exchanged."""

    client: ClientHandshake
    server: ServerHandshake
    frames: dict[str, Any] = field(default_factory=dict)
    client_session: Session | None = None
    server_session: Session | None = None


@pytest.fixture
def make_pair(keys: Keys, key_set: KeySet, pin: str, keyring: MemoryKeyring) -> Callable[..., Pair]:
    """Build an un-started client/server handshake pair with fixed randomness."""

    def make(**client_kwargs: Any) -> Pair:
        options: dict[str, Any] = {"client_key": keys.client, "random": counter_random(0)}
        options.update(client_kwargs)
        client = ClientHandshake(key_set, [pin], user="alice", **options)
        server = ServerHandshake(keyring, "alice", random=counter_random(100))
        return Pair(client, server)

    return make


def run_handshake(pair: Pair) -> Pair:
    """Run a complete valid handshake on ``pair`` and record every frame."""
    pair.frames["client_hello"] = pair.client.client_hello()
    pair.frames["server_hello"] = pair.server.receive_client_hello(pair.frames["client_hello"])
    pair.frames["client_finished"] = pair.client.receive_server_hello(pair.frames["server_hello"])
    established = pair.server.receive_client_finished(pair.frames["client_finished"])
    pair.frames["ready"] = established.ready
    pair.server_session = established.session
    pair.client_session = pair.client.receive_ready(established.ready)
    return pair


@pytest.fixture
def sessions(make_pair: Callable[..., Pair]) -> Iterator[tuple[Session, Session]]:
    """An established (client, server) session pair."""
    pair = run_handshake(make_pair())
    assert pair.client_session is not None and pair.server_session is not None
    yield pair.client_session, pair.server_session


@pytest.fixture
def random_bytes() -> Callable[[int], bytes]:
    """Real randomness, for tests that must not share values between sessions."""
    return os.urandom
