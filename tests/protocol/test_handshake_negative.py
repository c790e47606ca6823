"""Handshake attacks and faults: each ends with the documented close code and typed error."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from securemsg.protocol import (
    AuthenticationFailedError,
    ClientHandshake,
    CloseCode,
    KeySet,
    MalformedMessageError,
    ProtocolError,
    ServerHandshake,
    StaleKeyError,
    UnsupportedVersionError,
    UntrustedSigningKeyError,
    b64u_decode,
    b64u_encode,
    encode_json,
    published_key,
    spki_der,
)
from securemsg.protocol._crypto import oaep_decrypt, oaep_encrypt
from securemsg.protocol._messages import parse_server_hello
from securemsg.protocol._schedule import derive_handshake_secrets, finished_mac
from securemsg.protocol._transcript import TranscriptInputs, transcript_hash

from .conftest import Keys, MemoryKeyring, counter_random


def _flip(value: str) -> str:
    data = bytearray(b64u_decode(value))
    data[len(data) // 2] ^= 0x01
    return b64u_encode(bytes(data))


def _expect(exc_type: type[ProtocolError], code: int, call: Any, *args: Any) -> ProtocolError:
    with pytest.raises(exc_type) as info:
        call(*args)
    assert info.value.close_code == code
    return info.value


# --- server_hello attacks, seen by the client ---


def test_wrong_signature_is_4410(make_pair) -> None:
    pair = make_pair()
    server_hello = pair.server.receive_client_hello(pair.client.client_hello())
    server_hello["signature"] = _flip(server_hello["signature"])
    _expect(AuthenticationFailedError, 4410, pair.client.receive_server_hello, server_hello)


def test_signature_by_unpinned_key_is_refused(keys: Keys, key_set: KeySet, pin: str) -> None:
    # The attacker's key is published (e.g. a substituted keys.json) but not endorsed.
    attacker_set = KeySet(
        keys=(
            *key_set.keys,
            published_key(kid="sig-x", use="sig", public_key=keys.other.public_key()),
        ),
        endorsements=(),
    )
    client = ClientHandshake(attacker_set, [pin], client_key=keys.client)
    server = ServerHandshake(MemoryKeyring("sig-x", keys.other, {"enc-1": keys.enc}), "alice")
    server_hello = server.receive_client_hello(client.client_hello())
    error = _expect(UntrustedSigningKeyError, 4410, client.receive_server_hello, server_hello)
    assert isinstance(error, UntrustedSigningKeyError) and not error.unknown


def test_unknown_sig_kid_is_refused_as_unknown(keys: Keys, key_set: KeySet, pin: str) -> None:
    # A key retired beyond its grace period is no longer published: same outcome.
    client = ClientHandshake(key_set, [pin], client_key=keys.client)
    server = ServerHandshake(MemoryKeyring("sig-old", keys.sig, {"enc-1": keys.enc}), "alice")
    server_hello = server.receive_client_hello(client.client_hello())
    error = _expect(UntrustedSigningKeyError, 4410, client.receive_server_hello, server_hello)
    assert isinstance(error, UntrustedSigningKeyError) and error.unknown and error.kid == "sig-old"


def test_rotated_key_endorsed_by_pin_is_accepted(
    keys: Keys, rotated_key_set: KeySet, pin: str
) -> None:
    client = ClientHandshake(rotated_key_set, [pin], client_key=keys.client)
    server = ServerHandshake(MemoryKeyring("sig-2", keys.sig_next, {"enc-1": keys.enc}), "alice")
    finished = client.receive_server_hello(server.receive_client_hello(client.client_hello()))
    session, ready = server.receive_client_finished(finished)
    assert client.receive_ready(ready).session_id == session.session_id


def test_server_naming_another_user_is_4410(keys: Keys, key_set: KeySet, pin: str) -> None:
    client = ClientHandshake(key_set, [pin], user="alice", client_key=keys.client)
    server = ServerHandshake(MemoryKeyring("sig-1", keys.sig, {"enc-1": keys.enc}), "mallory")
    server_hello = server.receive_client_hello(client.client_hello())
    _expect(AuthenticationFailedError, 4410, client.receive_server_hello, server_hello)


@pytest.mark.parametrize(
    "field", ["server_nonce", "session_id", "wrapped_server_secret", "user", "sig_kid"]
)
def test_tampered_server_hello_field_is_refused(make_pair, field: str) -> None:
    pair = make_pair()
    server_hello = pair.server.receive_client_hello(pair.client.client_hello())
    if field in ("user", "sig_kid"):
        server_hello[field] = server_hello[field] + "x"
    else:
        server_hello[field] = _flip(server_hello[field])
    with pytest.raises(AuthenticationFailedError) as info:
        pair.client.receive_server_hello(server_hello)
    assert info.value.close_code == 4410


# --- client_hello tampering: each field in turn (a man in the middle) ---


def _tamper_client_hello(hello: dict[str, Any], field: str, keys: Keys) -> None:
    if field == "client_key":
        hello[field] = b64u_encode(spki_der(keys.other.public_key()))
    elif field == "enc_kid":
        hello[field] = "enc-unknown"
    elif field == "v":
        hello[field] = 2
    elif field == "suite":
        hello[field] = "SM0-DOWNGRADE"
    elif field == "type":
        hello[field] = "client_finished"
    else:
        hello[field] = _flip(hello[field])


@pytest.mark.parametrize(
    ("field", "error", "code", "where"),
    [
        ("type", MalformedMessageError, 4400, "server"),
        ("v", UnsupportedVersionError, 4426, "server"),
        ("suite", UnsupportedVersionError, 4426, "server"),
        ("client_key", AuthenticationFailedError, 4410, "client"),
        ("client_nonce", AuthenticationFailedError, 4410, "client"),
        ("enc_kid", StaleKeyError, 4412, "server"),
        ("wrapped_client_secret", AuthenticationFailedError, 4410, "client"),
    ],
)
def test_tampered_client_hello_field(make_pair, keys: Keys, field, error, code, where) -> None:
    pair = make_pair()
    hello = pair.client.client_hello()
    _tamper_client_hello(hello, field, keys)
    if where == "server":
        _expect(error, code, pair.server.receive_client_hello, hello)
        return
    # The server cannot tell; the client sees a signature over another TH.
    server_hello = pair.server.receive_client_hello(hello)
    _expect(error, code, pair.client.receive_server_hello, server_hello)


def test_unsupported_version_and_suite_are_4426_mistyped_is_4400(make_pair) -> None:
    for value, error, code in [
        (2, UnsupportedVersionError, 4426),
        (0, UnsupportedVersionError, 4426),
        ("1", MalformedMessageError, 4400),
        (1.0, MalformedMessageError, 4400),
        (True, MalformedMessageError, 4400),
        (None, MalformedMessageError, 4400),
    ]:
        pair = make_pair()
        hello = dict(pair.client.client_hello(), v=value)
        _expect(error, code, pair.server.receive_client_hello, hello)
    pair = make_pair()
    hello = dict(pair.client.client_hello(), suite=["SM1"])
    _expect(MalformedMessageError, 4400, pair.server.receive_client_hello, hello)


def test_wrong_finished_mac_is_4410(make_pair) -> None:
    pair = make_pair()
    finished = pair.client.receive_server_hello(
        pair.server.receive_client_hello(pair.client.client_hello())
    )
    finished["mac"] = _flip(finished["mac"])
    _expect(AuthenticationFailedError, 4410, pair.server.receive_client_finished, finished)


def test_finished_mac_of_wrong_length_is_4400(make_pair) -> None:
    pair = make_pair()
    pair.server.receive_client_hello(pair.client.client_hello())
    frame = {"type": "client_finished", "mac": b64u_encode(bytes(31))}
    _expect(MalformedMessageError, 4400, pair.server.receive_client_finished, frame)


# --- the server's silent unwrap of a bad wrapped_client_secret ---


def _manual_finished(
    server_hello: dict[str, Any], hello: dict[str, Any], secret: bytes, client_key
) -> dict[str, Any]:
    """Compute client_finished as a client that believes ``secret`` was wrapped."""
    parsed = parse_server_hello(server_hello)
    th = transcript_hash(
        TranscriptInputs(
            client_key=b64u_decode(hello["client_key"]),
            client_nonce=b64u_decode(hello["client_nonce"]),
            enc_kid=hello["enc_kid"],
            wrapped_client_secret=b64u_decode(hello["wrapped_client_secret"]),
            server_nonce=parsed.server_nonce,
            session_id=parsed.session_id,
            sig_kid=parsed.sig_kid,
            wrapped_server_secret=parsed.wrapped_server_secret,
            user=parsed.user,
        )
    )
    server_secret = oaep_decrypt(client_key, parsed.wrapped_server_secret)
    secrets = derive_handshake_secrets(secret, server_secret, th)
    return {"type": "client_finished", "mac": b64u_encode(finished_mac(secrets.finished_key, th))}


@pytest.mark.parametrize(
    "fault", ["short_ciphertext", "oaep_failure", "31_byte_plaintext", "empty"]
)
def test_bad_wrapped_client_secret_is_silent_then_4410(
    keys: Keys, keyring: MemoryKeyring, fault: str
) -> None:
    secret = bytes(range(32))
    enc_public = keys.enc.public_key()
    wrapped = {
        "short_ciphertext": oaep_encrypt(enc_public, secret)[:-1],
        "oaep_failure": bytes(255) + b"\x01",
        "31_byte_plaintext": oaep_encrypt(enc_public, secret[:31]),
        "empty": b"",
    }[fault]
    client = ClientHandshake(
        KeySet(
            keys=(published_key(kid="enc-1", use="enc", public_key=enc_public),), endorsements=()
        ),
        [],
        client_key=keys.client,
    )
    hello = client.client_hello()
    hello["wrapped_client_secret"] = b64u_encode(wrapped)
    server = ServerHandshake(keyring, "alice", random=counter_random(7))
    server_hello = server.receive_client_hello(hello)  # no exception: no oracle
    assert server.state == "wait_finished" and "decrypt" in keyring.calls
    finished = _manual_finished(server_hello, hello, secret, keys.client)
    _expect(AuthenticationFailedError, 4410, server.receive_client_finished, finished)


def test_good_wrapped_secret_passes_the_manual_client(keys: Keys, keyring: MemoryKeyring) -> None:
    # Control for the test above: the same manual client succeeds with an honest wrap.
    secret = bytes(range(32))
    enc_public = keys.enc.public_key()
    client = ClientHandshake(
        KeySet(
            keys=(published_key(kid="enc-1", use="enc", public_key=enc_public),), endorsements=()
        ),
        [],
        client_key=keys.client,
    )
    hello = client.client_hello()
    hello["wrapped_client_secret"] = b64u_encode(oaep_encrypt(enc_public, secret))
    server = ServerHandshake(keyring, "alice")
    server_hello = server.receive_client_hello(hello)
    session, _ = server.receive_client_finished(
        _manual_finished(server_hello, hello, secret, keys.client)
    )
    assert len(session.session_id) == 16


def test_wrapped_client_secret_must_be_base64url(make_pair) -> None:
    pair = make_pair()
    hello = pair.client.client_hello()
    hello["wrapped_client_secret"] += "="
    _expect(MalformedMessageError, 4400, pair.server.receive_client_hello, hello)


# --- framing of handshake messages ---


def test_oversize_frame_is_4400(make_pair) -> None:
    pair = make_pair()
    hello = pair.client.client_hello()
    hello["padding"] = "x" * 65_536
    _expect(MalformedMessageError, 4400, pair.server.receive_client_hello, encode_json(hello))


def test_frame_at_the_limit_is_accepted(make_pair) -> None:
    pair = make_pair()
    hello = pair.client.client_hello()
    hello["padding"] = ""
    hello["padding"] = "x" * (65_536 - len(encode_json(hello)))
    text = encode_json(hello)
    assert len(text.encode()) == 65_536
    pair.server.receive_client_hello(text)  # unknown fields are ignored


@pytest.mark.parametrize("text", ["not json", "[1,2]", '"client_hello"', "{", "", '{"type":NaN}'])
def test_non_json_frame_is_4400(make_pair, text: str) -> None:
    _expect(MalformedMessageError, 4400, make_pair().server.receive_client_hello, text)


@pytest.mark.parametrize(
    "encoding",
    ["padded", "non_alphabet", "standard_alphabet", "non_canonical", "impossible_length"],
)
def test_malformed_base64_is_4400(make_pair, encoding: str) -> None:
    pair = make_pair()
    hello = pair.client.client_hello()
    nonce = hello["client_nonce"]  # 32 bytes: 43 characters, 2 unused trailing bits
    hello["client_nonce"] = {
        "padded": nonce + "=",
        "non_alphabet": nonce[:-1] + "*",
        "standard_alphabet": nonce[:-1] + "+",
        "non_canonical": nonce[:-1] + _ALPHABET[_ALPHABET.index(nonce[-1]) | 1],
        "impossible_length": nonce + "A",
    }[encoding]
    _expect(MalformedMessageError, 4400, pair.server.receive_client_hello, hello)


# --- the client's ephemeral key ---


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _pss_spki(spki: bytes) -> bytes:
    """Rewrite an rsaEncryption SPKI with the id-RSASSA-PSS algorithm identifier."""
    rsa_encryption = bytes.fromhex("300d06092a864886f70d0101010500")
    rsassa_pss = bytes.fromhex("300b06092a864886f70d01010a")
    assert spki[:2] == b"\x30\x82" and spki[4:19] == rsa_encryption
    body = rsassa_pss + spki[19:]
    return b"\x30\x82" + len(body).to_bytes(2, "big") + body


@pytest.fixture(scope="module")
def odd_keys() -> dict[str, bytes]:
    return {
        "too_small": spki_der(rsa.generate_private_key(65537, 1024).public_key()),
        "exponent_3": spki_der(rsa.generate_private_key(3, 2048).public_key()),
    }


@pytest.mark.parametrize(
    "kind", ["too_small", "exponent_3", "pss_identifier", "trailing_data", "not_der"]
)
def test_bad_client_key_is_4400(
    make_pair, keys: Keys, odd_keys: dict[str, bytes], kind: str
) -> None:
    good = spki_der(keys.client.public_key())
    spki = {
        "too_small": odd_keys["too_small"],
        "exponent_3": odd_keys["exponent_3"],
        "pss_identifier": _pss_spki(good),
        "trailing_data": good + b"\x00",
        "not_der": b"\x01\x02\x03",
    }[kind]
    pair = make_pair()
    hello = dict(pair.client.client_hello(), client_key=b64u_encode(spki))
    _expect(MalformedMessageError, 4400, pair.server.receive_client_hello, hello)


def test_missing_and_mistyped_fields_are_4400(make_pair) -> None:
    pair = make_pair()
    hello = pair.client.client_hello()
    for name in ("client_key", "client_nonce", "enc_kid", "wrapped_client_secret", "type"):
        for value in (None, 5, ["x"]):
            broken = dict(hello)
            if value is None:
                del broken[name]
            else:
                broken[name] = value
            _expect(MalformedMessageError, 4400, make_pair().server.receive_client_hello, broken)


def test_stale_enc_kid_is_4412(make_pair) -> None:
    pair = make_pair()
    hello = dict(pair.client.client_hello(), enc_kid="enc-0")
    _expect(StaleKeyError, CloseCode.STALE_KEY, pair.server.receive_client_hello, hello)
