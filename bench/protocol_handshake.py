#!/usr/bin/env python3
"""Server-side cost of one securemsg/1 handshake, split into its parts.

Measures, in one run and on one core: raw RSA-3072 OAEP decryption and PSS
signing with ``cryptography``; then full server handshakes (client_hello
processing + client_finished) with the same keys, timing OAEP decrypt, PSS
sign and the rest separately. Prints a table with ratios and writes JSON
to bench/results/. Usage: python bench/protocol_handshake.py [--n 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import securemsg.protocol._handshake as handshake_module
from securemsg.protocol import ClientHandshake, KeySet, ServerHandshake, published_key

RESULTS = Path(__file__).resolve().parent / "results"
OAEP = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
PSS = padding.PSS(padding.MGF1(hashes.SHA256()), 32)


class Keyring:
    def __init__(self, sig: rsa.RSAPrivateKey, enc: rsa.RSAPrivateKey) -> None:
        self.sig, self.enc = sig, enc

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        return "sig-1", self.sig

    def decryption_key(self, enc_kid: str) -> rsa.RSAPrivateKey:
        return self.enc


def _per_op(fn: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    n = parser.parse_args().n
    sig = rsa.generate_private_key(65537, 3072)
    enc = rsa.generate_private_key(65537, 3072)
    client_key = rsa.generate_private_key(65537, 2048)
    key_set = KeySet(
        (
            published_key(kid="sig-1", use="sig", public_key=sig.public_key()),
            published_key(kid="enc-1", use="enc", public_key=enc.public_key()),
        ),
        (),
    )
    pin = key_set.active_key("sig").fingerprint
    ct = enc.public_key().encrypt(b"k" * 32, OAEP)
    raw_decrypt = _per_op(lambda: enc.decrypt(ct, OAEP), n)
    raw_sign = _per_op(lambda: sig.sign(b"t" * 32, PSS, hashes.SHA256()), n)

    # Client work is prepared outside the timed region; the server's parts
    # are timed by wrapping the two RSA wrappers the handshake calls.
    parts = {"oaep": 0.0, "pss": 0.0}
    real_unwrap = getattr(handshake_module, "oaep_unwrap_secret_silently")  # noqa: B009
    real_sign = getattr(handshake_module, "pss_sign")  # noqa: B009

    def timed_unwrap(*a: Any) -> bytes:
        t = time.perf_counter()
        try:
            return bytes(real_unwrap(*a))
        finally:
            parts["oaep"] += time.perf_counter() - t

    def timed_sign(*a: Any) -> bytes:
        t = time.perf_counter()
        try:
            return bytes(real_sign(*a))
        finally:
            parts["pss"] += time.perf_counter() - t

    setattr(handshake_module, "oaep_unwrap_secret_silently", timed_unwrap)  # noqa: B010
    setattr(handshake_module, "pss_sign", timed_sign)  # noqa: B010
    keyring = Keyring(sig, enc)
    total = 0.0
    for _ in range(n):
        client = ClientHandshake(key_set, [pin], client_key=client_key)
        hello = client.client_hello()
        server = ServerHandshake(keyring, "alice")
        t = time.perf_counter()
        server_hello = server.receive_client_hello(hello)
        total += time.perf_counter() - t
        finished = client.receive_server_hello(server_hello)
        t = time.perf_counter()
        server.receive_client_finished(finished)
        total += time.perf_counter() - t
    per = {k: v / n for k, v in parts.items()}
    handshake = total / n
    rest = handshake - per["oaep"] - per["pss"]
    raw = raw_decrypt + raw_sign
    rows = [
        ("raw RSA-3072 OAEP decrypt", raw_decrypt),
        ("raw RSA-3072 PSS sign", raw_sign),
        ("raw decrypt + sign", raw),
        ("handshake: OAEP decrypt (silent unwrap)", per["oaep"]),
        ("handshake: PSS sign", per["pss"]),
        ("handshake: the rest", rest),
        ("handshake: total (server side)", handshake),
    ]
    print(f"{'part':42} {'ms/op':>8}")
    for name, value in rows:
        print(f"{name:42} {value * 1000:8.3f}")
    print(
        f"\nhandshake / raw RSA = {handshake / raw:.3f}"
        f"  (overhead {100 * (handshake / raw - 1):.1f} %)"
    )
    print(f"rest / handshake = {100 * rest / handshake:.1f} %")
    result = {
        "n": n,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "ms": {name: value * 1000 for name, value in rows},
        "ratio_handshake_to_raw": handshake / raw,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "protocol_handshake.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
