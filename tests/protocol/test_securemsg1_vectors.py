"""Recompute or verify every value of tests/vectors/securemsg1.json from its inputs.

The JavaScript client checks the same file, so both implementations agree
byte for byte on TH, the key schedule, the finished MAC and the records.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from securemsg.protocol import (
    SUITE,
    Endorsement,
    KeySet,
    Session,
    b64u_decode,
    b64u_encode,
    encode_json,
    fingerprint,
    parse_key_set,
    published_key,
    record_aad,
    record_nonce,
    spki_der,
)
from securemsg.protocol._crypto import oaep_decrypt, pss_verify
from securemsg.protocol._schedule import (
    HandshakeSecrets,
    derive_handshake_secrets,
    epoch_key,
    finished_mac,
    next_epoch_secret,
)
from securemsg.protocol._transcript import TranscriptInputs, transcript_bytes, transcript_hash

from .vectors import load_vectors

V = load_vectors("securemsg1.json")
TH = bytes.fromhex(V["transcript"]["th_hex"])
INPUTS = V["inputs"]


def _private(name: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(V["keys"][name]["pkcs8_pem"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _h(name: str) -> bytes:
    return bytes.fromhex(INPUTS[name + "_hex"])


def _inputs() -> TranscriptInputs:
    return TranscriptInputs(
        client_key=bytes.fromhex(V["keys"]["client"]["spki_hex"]),
        client_nonce=_h("client_nonce"),
        enc_kid=INPUTS["enc_kid"],
        wrapped_client_secret=bytes.fromhex(V["wrapped_client_secret_hex"]),
        server_nonce=_h("server_nonce"),
        session_id=_h("session_id"),
        sig_kid=INPUTS["sig_kid"],
        wrapped_server_secret=bytes.fromhex(V["wrapped_server_secret_hex"]),
        user=INPUTS["user"],
    )


def test_description_documents_the_format() -> None:
    assert "_hex" in V["description"] and "base64url" in V["description"]
    assert V["suite"] == SUITE and V["version"] == 1


@pytest.mark.parametrize("name", ["server_sig", "server_sig_next", "server_enc", "client"])
def test_keys_spki_and_fingerprint(name: str) -> None:
    entry = V["keys"][name]
    key = _private(name)
    spki = spki_der(key.public_key())
    assert spki.hex() == entry["spki_hex"]
    assert fingerprint(spki) == entry["fingerprint"]
    assert key.key_size == entry["bits"]
    assert hashes.SHA256.digest_size == len(bytes.fromhex(entry["fingerprint"]))


def test_transcript_fields_and_th() -> None:
    inputs = _inputs()
    fields = V["transcript"]["fields"]
    assert [f["name"] for f in fields] == [name for name, _ in inputs.fields()]
    assert [f["hex"] for f in fields] == [value.hex() for _, value in inputs.fields()]
    assert bytes.fromhex(fields[0]["hex"]) == b"securemsg/1"
    assert bytes.fromhex(fields[1]["hex"]) == SUITE.encode()
    # The encoding is 4-byte big-endian length || bytes for each field, in order.
    expected = b"".join(
        struct.pack(">I", len(bytes.fromhex(f["hex"]))) + bytes.fromhex(f["hex"]) for f in fields
    )
    assert transcript_bytes(inputs) == expected == bytes.fromhex(V["transcript"]["input_hex"])
    digest = hashes.Hash(hashes.SHA256())
    digest.update(expected)
    assert transcript_hash(inputs) == digest.finalize() == TH


def test_wrapped_secrets_decrypt_to_the_inputs() -> None:
    wrapped_c = bytes.fromhex(V["wrapped_client_secret_hex"])
    wrapped_s = bytes.fromhex(V["wrapped_server_secret_hex"])
    assert oaep_decrypt(_private("server_enc"), wrapped_c) == _h("client_secret")
    assert oaep_decrypt(_private("client"), wrapped_s) == _h("server_secret")


def test_key_schedule() -> None:
    schedule = V["schedule"]
    ikm = _h("client_secret") + _h("server_secret")
    assert ikm.hex() == schedule["ikm_hex"]
    secrets = derive_handshake_secrets(_h("client_secret"), _h("server_secret"), TH)
    assert secrets.c2s.hex() == schedule["c2s_secret_0_hex"]
    assert secrets.s2c.hex() == schedule["s2c_secret_0_hex"]
    assert secrets.finished_key.hex() == schedule["finished_key_hex"]
    assert epoch_key(secrets.c2s, TH).hex() == schedule["c2s_key_0_hex"]
    assert epoch_key(secrets.s2c, TH).hex() == schedule["s2c_key_0_hex"]
    c2s_1 = next_epoch_secret(secrets.c2s, TH)
    assert c2s_1.hex() == schedule["c2s_secret_1_hex"]
    assert epoch_key(c2s_1, TH).hex() == schedule["c2s_key_1_hex"]


def test_finished_mac_and_frame() -> None:
    finished_key = bytes.fromhex(V["schedule"]["finished_key_hex"])
    mac = finished_mac(finished_key, TH)
    assert mac.hex() == V["finished_mac_hex"]
    frame = V["frames"]["client_finished"]
    assert frame["frame"] == {"type": "client_finished", "mac": b64u_encode(mac)}
    assert frame["frame_text"] == encode_json(frame["frame"])


def test_signature_verifies_over_th() -> None:
    signature = bytes.fromhex(V["signature_hex"])
    pss_verify(_private("server_sig").public_key(), signature, TH)


def test_hello_frames_carry_the_vector_values() -> None:
    hello = V["frames"]["client_hello"]["frame"]
    assert hello["v"] == 1 and hello["suite"] == SUITE
    assert b64u_decode(hello["client_key"]).hex() == V["keys"]["client"]["spki_hex"]
    assert b64u_decode(hello["client_nonce"]) == _h("client_nonce")
    assert hello["enc_kid"] == INPUTS["enc_kid"]
    assert b64u_decode(hello["wrapped_client_secret"]).hex() == V["wrapped_client_secret_hex"]
    server = V["frames"]["server_hello"]["frame"]
    assert b64u_decode(server["server_nonce"]) == _h("server_nonce")
    assert b64u_decode(server["session_id"]) == _h("session_id")
    assert server["sig_kid"] == INPUTS["sig_kid"] and server["user"] == INPUTS["user"]
    assert b64u_decode(server["wrapped_server_secret"]).hex() == V["wrapped_server_secret_hex"]
    assert b64u_decode(server["signature"]).hex() == V["signature_hex"]
    for name in ("client_hello", "server_hello"):
        assert V["frames"][name]["frame_text"] == encode_json(V["frames"][name]["frame"])


@pytest.mark.parametrize("index", range(len(V["records"])))
def test_record(index: int) -> None:
    record: dict[str, Any] = V["records"][index]
    direction = 1 if record["direction"] == "c2s" else 2
    session_id = _h("session_id")
    assert record_nonce(direction, record["seq"]).hex() == record["nonce_hex"]
    assert (
        record_aad(session_id, direction, record["seq"], record["epoch"]).hex() == record["aad_hex"]
    )
    aad = bytes.fromhex(record["aad_hex"])
    assert aad == b"securemsg/1 rec" + session_id + struct.pack(
        ">BQI", direction, record["seq"], record["epoch"]
    )
    schedule = V["schedule"]
    key_name = f"{record['direction']}_key_{record['epoch']}_hex"
    assert record["key_hex"] == schedule[key_name]
    key, nonce = bytes.fromhex(record["key_hex"]), bytes.fromhex(record["nonce_hex"])
    plaintext = bytes.fromhex(record["plaintext_hex"])
    assert plaintext == record["plaintext"].encode("utf-8")
    assert AESGCM(key).encrypt(nonce, plaintext, aad).hex() == record["ct_hex"]
    assert record["frame"] == {
        "type": "rec",
        "seq": record["seq"],
        "ct": b64u_encode(bytes.fromhex(record["ct_hex"])),
    }
    assert record["frame_text"] == encode_json(record["frame"])


def test_records_open_through_the_session_layer() -> None:
    secrets = derive_handshake_secrets(_h("client_secret"), _h("server_secret"), TH)
    kw: dict[str, Any] = {"th": TH, "session_id": _h("session_id"), "now": lambda: 0.0}
    client = Session(role="client", secrets=secrets, **kw)
    server = Session(role="server", secrets=HandshakeSecrets(secrets.c2s, secrets.s2c, b""), **kw)
    opened = []
    for record in V["records"]:
        receiver = server if record["direction"] == "c2s" else client
        opened.append(receiver.open(record["frame"]))
    assert opened[0] == {"t": "ready", "session": b64u_encode(_h("session_id"))}
    assert opened[3] is None  # the key update is consumed by the record layer
    assert server.recv_epoch == 1 and opened[4] == {"t": "ping", "id": "p-1"}


def test_endorsement_verifies_and_extends_trust() -> None:
    entry = V["endorsement"]
    next_spki = bytes.fromhex(entry["endorsed_spki_hex"])
    assert next_spki.hex() == V["keys"]["server_sig_next"]["spki_hex"]
    digest = hashes.Hash(hashes.SHA256())
    digest.update(next_spki)
    assert bytes.fromhex(entry["message_hex"]) == b"securemsg/1 endorse\x00" + digest.finalize()
    sig_key = _private("server_sig").public_key()
    pss_verify(sig_key, bytes.fromhex(entry["sig_hex"]), bytes.fromhex(entry["message_hex"]))
    endorsement = Endorsement(
        kid=entry["entry"]["kid"],
        by=entry["entry"]["by"],
        by_spki=b64u_decode(entry["entry"]["by_spki"]),
        sig=b64u_decode(entry["entry"]["sig"]),
    )
    assert endorsement.by_spki == spki_der(sig_key)
    key_set = KeySet(
        keys=(
            published_key(
                kid=endorsement.kid, use="sig", public_key=_private("server_sig_next").public_key()
            ),
        ),
        endorsements=(endorsement,),
    )
    parsed = parse_key_set(key_set.to_json())
    pin = V["keys"]["server_sig"]["fingerprint"]
    assert parsed.trusted_signing_key(endorsement.kid, [pin]) is not None
