#!/usr/bin/env python3
"""Generate tests/vectors/securemsg1.json, the securemsg/1 test vectors.

Run from the repository root: ``python scripts/make_vectors.py``. The RSA
keys are generated the first time and then read back from the existing
file, so re-running keeps them; ``--new-keys`` makes fresh ones. OAEP seeds
and PSS salts are random, so a re-run does not reproduce the file byte for
byte; every other value follows from the fixed inputs. The format is
described in the file's "description" field and in docs/protocol.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Runnable as "python scripts/make_vectors.py" from a checkout, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from securemsg.protocol import (
    SUITE,
    ClientHandshake,
    KeySet,
    ServerHandshake,
    Session,
    b64u_decode,
    create_endorsement,
    encode_json,
    encode_json_bytes,
    endorsement_message,
    published_key,
    record_aad,
    record_nonce,
    spki_der,
    transcript_bytes,
)
from securemsg.protocol._schedule import (
    derive_handshake_secrets,
    epoch_key,
    finished_mac,
    next_epoch_secret,
)
from securemsg.protocol._transcript import TranscriptInputs

OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "securemsg1.json"

DESCRIPTION = (
    "securemsg/1 test vectors (docs/protocol.md, 'Test vectors'). Encoding: every binary value "
    "is lowercase hex in a field whose name ends in _hex; text values are JSON strings; the "
    "'frame' objects are the exact wire messages (binary fields in them are base64url without "
    "padding) and 'frame_text' is their compact UTF-8 JSON encoding. 'keys' holds test-only RSA "
    "keys as PKCS#8 PEM with their SPKI DER (rsaEncryption) and fingerprint (hex SHA-256 of the "
    "SPKI). 'inputs' are the fixed random values: client_nonce and client_secret are what the "
    "client draws, server_nonce, session_id and server_secret what the server draws. "
    "'transcript.fields' lists the 11 TH fields in order (each hashed as a 4-byte big-endian "
    "length followed by the bytes; 'transcript.input_hex' is that concatenation). OAEP "
    "ciphertexts and PSS signatures are randomised: check them by decrypting (wrapped_*) and "
    "verifying (signature, endorsement.sig), not by comparing. AES-GCM is deterministic: "
    "re-encrypting 'plaintext_hex' with the epoch key, 'nonce_hex' and 'aad_hex' must give "
    "'ct_hex' (ciphertext || 16-byte tag). 'records' are in sending order; c2s seq 1 is a key "
    "update, so c2s seq 2 uses epoch 1."
)

CLIENT_NONCE = bytes(range(0x00, 0x20))
CLIENT_SECRET = bytes(range(0x20, 0x40))
SERVER_NONCE = bytes(range(0x40, 0x60))
SESSION_ID = bytes(range(0x60, 0x70))
SERVER_SECRET = bytes(range(0x70, 0x90))
USER = "alice"
ENC_KID = "enc-2025-01"
SIG_KID = "sig-2025-01"
SIG_NEXT_KID = "sig-2026-01"


def _scripted(*values: bytes) -> Callable[[int], bytes]:
    """A ``random`` that returns the given values in order (sizes must match)."""
    queue = list(values)

    def draw(size: int) -> bytes:
        value = queue.pop(0)
        if len(value) != size:
            raise AssertionError(f"scripted random: wanted {size} bytes, next is {len(value)}")
        return value

    return draw


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _load_keys(new_keys: bool) -> dict[str, rsa.RSAPrivateKey]:
    sizes = {"server_sig": 3072, "server_sig_next": 3072, "server_enc": 3072, "client": 2048}
    old: dict[str, Any] = {}
    if OUTPUT.exists() and not new_keys:
        old = json.loads(OUTPUT.read_text("utf-8"))["keys"]
    keys: dict[str, rsa.RSAPrivateKey] = {}
    for name, bits in sizes.items():
        if name in old:
            loaded = serialization.load_pem_private_key(
                old[name]["pkcs8_pem"].encode("ascii"), password=None
            )
            assert isinstance(loaded, rsa.RSAPrivateKey)
            keys[name] = loaded
        else:
            keys[name] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return keys


def _key_entry(key: rsa.RSAPrivateKey, kid: str | None) -> dict[str, Any]:
    spki = spki_der(key.public_key())
    entry: dict[str, Any] = {"kid": kid} if kid else {}
    entry.update(
        bits=key.key_size,
        pkcs8_pem=_pem(key),
        spki_hex=spki.hex(),
        fingerprint=published_key(kid="x", use="sig", public_key=key.public_key()).fingerprint,
    )
    return entry


class _Keyring:
    def __init__(self, keys: dict[str, rsa.RSAPrivateKey]) -> None:
        self._keys = keys

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        return SIG_KID, self._keys["server_sig"]

    def decryption_key(self, enc_kid: str) -> rsa.RSAPrivateKey:
        assert enc_kid == ENC_KID
        return self._keys["server_enc"]


def _record(
    session: Session, direction: str, message: dict[str, Any], epoch_secret: bytes, th: bytes
) -> dict[str, Any]:
    dir_tag = 1 if direction == "c2s" else 2
    epoch = session.send_epoch
    (frame,) = session.seal(message) if message != {"t": "update"} else (session.update_keys(),)
    seq = frame["seq"]
    return {
        "direction": direction,
        "seq": seq,
        "epoch": epoch,
        "key_hex": epoch_key(epoch_secret, th).hex(),
        "nonce_hex": record_nonce(dir_tag, seq).hex(),
        "aad_hex": record_aad(SESSION_ID, dir_tag, seq, epoch).hex(),
        "plaintext": encode_json(message),
        "plaintext_hex": encode_json_bytes(message).hex(),
        "ct_hex": _frame_ct(frame).hex(),
        "frame": frame,
        "frame_text": encode_json(frame),
    }


def _frame_ct(frame: dict[str, Any]) -> bytes:
    return b64u_decode(frame["ct"])


def build(keys: dict[str, rsa.RSAPrivateKey]) -> dict[str, Any]:
    """Run one handshake with the fixed inputs and record every value."""
    key_set = KeySet(
        keys=(
            published_key(kid=SIG_KID, use="sig", public_key=keys["server_sig"].public_key()),
            published_key(kid=ENC_KID, use="enc", public_key=keys["server_enc"].public_key()),
        ),
        endorsements=(),
    )
    pin = key_set.active_key("sig").fingerprint
    client = ClientHandshake(
        key_set,
        [pin],
        user=USER,
        client_key=keys["client"],
        random=_scripted(CLIENT_NONCE, CLIENT_SECRET),
        now=lambda: 0.0,
    )
    # The first server draw is the silent-unwrap substitute, unused here.
    server = ServerHandshake(
        _Keyring(keys),
        USER,
        random=_scripted(bytes(32), SERVER_NONCE, SESSION_ID, SERVER_SECRET),
        now=lambda: 0.0,
    )
    client_hello = client.client_hello()
    server_hello = server.receive_client_hello(client_hello)
    client_finished = client.receive_server_hello(server_hello)
    established = server.receive_client_finished(client_finished)
    client_session = client.receive_ready(established.ready)
    server_session = established.session

    inputs = TranscriptInputs(
        client_key=spki_der(keys["client"].public_key()),
        client_nonce=CLIENT_NONCE,
        enc_kid=ENC_KID,
        wrapped_client_secret=b64u_decode(client_hello["wrapped_client_secret"]),
        server_nonce=SERVER_NONCE,
        session_id=SESSION_ID,
        sig_kid=SIG_KID,
        wrapped_server_secret=b64u_decode(server_hello["wrapped_server_secret"]),
        user=USER,
    )
    th = client_session.th
    secrets = derive_handshake_secrets(CLIENT_SECRET, SERVER_SECRET, th)
    c2s_1 = next_epoch_secret(secrets.c2s, th)

    # Records, in sending order. The ready record was sealed by the server.
    ready = {
        "direction": "s2c",
        "seq": 0,
        "epoch": 0,
        "key_hex": epoch_key(secrets.s2c, th).hex(),
        "nonce_hex": record_nonce(2, 0).hex(),
        "aad_hex": record_aad(SESSION_ID, 2, 0, 0).hex(),
        "plaintext": encode_json({"t": "ready", "session": server_hello["session_id"]}),
        "plaintext_hex": encode_json_bytes(
            {"t": "ready", "session": server_hello["session_id"]}
        ).hex(),
        "ct_hex": _frame_ct(established.ready).hex(),
        "frame": established.ready,
        "frame_text": encode_json(established.ready),
    }
    send = {"t": "send", "id": "5f0c9a7e-0001", "to": "bob", "body": "Grüße, Bob! 👋"}
    ack = {"t": "ack", "id": "5f0c9a7e-0001", "mid": "m-1", "ts": "2025-01-01T12:00:00Z"}
    records = [
        ready,
        _record(client_session, "c2s", send, secrets.c2s, th),
        _record(server_session, "s2c", ack, secrets.s2c, th),
        _record(client_session, "c2s", {"t": "update"}, secrets.c2s, th),
        _record(client_session, "c2s", {"t": "ping", "id": "p-1"}, c2s_1, th),
    ]
    for record in records[1:]:
        receiver = server_session if record["direction"] == "c2s" else client_session
        receiver.open(record["frame"])  # self-check: the other side accepts it

    endorsement = create_endorsement(
        kid=SIG_NEXT_KID,
        spki=spki_der(keys["server_sig_next"].public_key()),
        by=SIG_KID,
        by_private_key=keys["server_sig"],
    )
    next_spki = spki_der(keys["server_sig_next"].public_key())
    frames = {
        "client_hello": client_hello,
        "server_hello": server_hello,
        "client_finished": client_finished,
    }
    return {
        "description": DESCRIPTION,
        "version": 1,
        "suite": SUITE,
        "keys": {
            "server_sig": _key_entry(keys["server_sig"], SIG_KID),
            "server_sig_next": _key_entry(keys["server_sig_next"], SIG_NEXT_KID),
            "server_enc": _key_entry(keys["server_enc"], ENC_KID),
            "client": _key_entry(keys["client"], None),
        },
        "inputs": {
            "client_nonce_hex": CLIENT_NONCE.hex(),
            "client_secret_hex": CLIENT_SECRET.hex(),
            "server_nonce_hex": SERVER_NONCE.hex(),
            "session_id_hex": SESSION_ID.hex(),
            "server_secret_hex": SERVER_SECRET.hex(),
            "user": USER,
            "enc_kid": ENC_KID,
            "sig_kid": SIG_KID,
        },
        "wrapped_client_secret_hex": inputs.wrapped_client_secret.hex(),
        "wrapped_server_secret_hex": inputs.wrapped_server_secret.hex(),
        "transcript": {
            "fields": [{"name": name, "hex": value.hex()} for name, value in inputs.fields()],
            "input_hex": transcript_bytes(inputs).hex(),
            "th_hex": th.hex(),
        },
        "schedule": {
            "ikm_hex": (CLIENT_SECRET + SERVER_SECRET).hex(),
            "c2s_secret_0_hex": secrets.c2s.hex(),
            "s2c_secret_0_hex": secrets.s2c.hex(),
            "finished_key_hex": secrets.finished_key.hex(),
            "c2s_key_0_hex": epoch_key(secrets.c2s, th).hex(),
            "s2c_key_0_hex": epoch_key(secrets.s2c, th).hex(),
            "c2s_secret_1_hex": c2s_1.hex(),
            "c2s_key_1_hex": epoch_key(c2s_1, th).hex(),
        },
        "finished_mac_hex": finished_mac(secrets.finished_key, th).hex(),
        "signature_hex": b64u_decode(server_hello["signature"]).hex(),
        "frames": {name: {"frame": f, "frame_text": encode_json(f)} for name, f in frames.items()},
        "records": records,
        "endorsement": {
            "entry": endorsement.to_json(),
            "message_hex": endorsement_message(next_spki).hex(),
            "endorsed_spki_hex": next_spki.hex(),
            "sig_hex": endorsement.sig.hex(),
        },
    }


def main() -> None:
    """Write the vectors file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-keys", action="store_true", help="generate fresh RSA keys")
    args = parser.parse_args()
    vectors = build(_load_keys(args.new_keys))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
