#!/usr/bin/env python3
"""Server-side cost of one securemsg/1 handshake, split into its parts.

Measures, in one run and on one core: raw RSA-3072 OAEP decryption and PSS
signing with ``cryptography``; and full server handshakes (client_hello
processing + client_finished) with the same keys, timing OAEP decrypt, PSS
sign and the rest separately. ``--rounds`` rounds, each a batch of ``--n``
raw operations and a batch of ``--n`` handshakes back to back (the order
alternates), timed on this thread's CPU time. Prints the best and the
median per part, the ratio of the bests and the median per-round ratio,
and writes JSON to bench/results/. Usage:
python bench/protocol_handshake.py [--rounds 21] [--n 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cryptography
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

import securemsg.protocol._handshake as handshake_module
from bench.rsa_pair import OAEP, PSS
from securemsg.protocol import ClientHandshake, KeySet, ServerHandshake, published_key

RESULTS = Path(__file__).resolve().parent / "results"


class Keyring:
    def __init__(self, sig: rsa.RSAPrivateKey, enc: rsa.RSAPrivateKey) -> None:
        self.sig, self.enc = sig, enc

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        return "sig-1", self.sig

    def decryption_key(self, enc_kid: str) -> rsa.RSAPrivateKey:
        return self.enc


# This thread's CPU time: RSA runs in this thread (cryptography releases
# the GIL but not the thread), and time spent descheduled while other
# processes run on a shared machine is not counted.
_clock = time.thread_time


def _per_op(fn: Any, n: int) -> float:
    start = _clock()
    for _ in range(n):
        fn()
    return (_clock() - start) / n


class Bench:
    """Server handshakes with their RSA parts timed, and the raw RSA operations."""

    def __init__(self) -> None:
        self.sig = rsa.generate_private_key(65537, 3072)
        self.enc = rsa.generate_private_key(65537, 3072)
        self.client_key = rsa.generate_private_key(65537, 2048)
        self.key_set = KeySet(
            (
                published_key(kid="sig-1", use="sig", public_key=self.sig.public_key()),
                published_key(kid="enc-1", use="enc", public_key=self.enc.public_key()),
            ),
            (),
        )
        self.pin = self.key_set.active_key("sig").fingerprint
        self.keyring = Keyring(self.sig, self.enc)
        self.ct = self.enc.public_key().encrypt(b"k" * 32, OAEP)
        # The server's parts are timed by wrapping the two RSA wrappers the
        # handshake calls; the client's work is done outside the timed region.
        self.parts = {"oaep": 0.0, "pss": 0.0}
        real_unwrap = getattr(handshake_module, "oaep_unwrap_secret_silently")  # noqa: B009
        real_sign = getattr(handshake_module, "pss_sign")  # noqa: B009
        parts = self.parts

        def timed_unwrap(*a: Any) -> bytes:
            t = _clock()
            try:
                return bytes(real_unwrap(*a))
            finally:
                parts["oaep"] += _clock() - t

        def timed_sign(*a: Any) -> bytes:
            t = _clock()
            try:
                return bytes(real_sign(*a))
            finally:
                parts["pss"] += _clock() - t

        setattr(handshake_module, "oaep_unwrap_secret_silently", timed_unwrap)  # noqa: B010
        setattr(handshake_module, "pss_sign", timed_sign)  # noqa: B010

    def raw(self, n: int) -> tuple[float, float]:
        """Seconds per raw OAEP decrypt and per raw PSS sign."""
        decrypt = _per_op(lambda: self.enc.decrypt(self.ct, OAEP), n)
        sign = _per_op(lambda: self.sig.sign(b"t" * 32, PSS, hashes.SHA256()), n)
        return decrypt, sign

    def handshakes(self, n: int) -> dict[str, float]:
        """Seconds per server handshake, and per OAEP unwrap and PSS sign inside it."""
        self.parts.update(oaep=0.0, pss=0.0)
        total = 0.0
        for _ in range(n):
            client = ClientHandshake(self.key_set, [self.pin], client_key=self.client_key)
            hello = client.client_hello()
            server = ServerHandshake(self.keyring, "alice")
            t = _clock()
            server_hello = server.receive_client_hello(hello)
            total += _clock() - t
            finished = client.receive_server_hello(server_hello)
            t = _clock()
            server.receive_client_finished(finished)
            total += _clock() - t
        return {
            "handshake": total / n,
            "oaep": self.parts["oaep"] / n,
            "pss": self.parts["pss"] / n,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--n", type=int, default=20, help="operations per batch")
    parser.add_argument("--wall", action="store_true", help="time with the wall clock")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args()
    global _clock
    if args.wall:
        _clock = time.perf_counter
    bench = Bench()
    bench.raw(3)  # warm up
    bench.handshakes(3)
    samples: dict[str, list[float]] = {
        k: [] for k in ("decrypt", "sign", "raw", "oaep", "pss", "rest", "handshake", "ratio")
    }
    for i in range(args.rounds):
        # Alternate the order so that drift hits both sides alike.
        if i % 2 == 0:
            decrypt, sign = bench.raw(args.n)
            hs = bench.handshakes(args.n)
        else:
            hs = bench.handshakes(args.n)
            decrypt, sign = bench.raw(args.n)
        raw = decrypt + sign
        for key, value in (
            ("decrypt", decrypt),
            ("sign", sign),
            ("raw", raw),
            ("oaep", hs["oaep"]),
            ("pss", hs["pss"]),
            ("rest", hs["handshake"] - hs["oaep"] - hs["pss"]),
            ("handshake", hs["handshake"]),
            ("ratio", hs["handshake"] / raw),
        ):
            samples[key].append(value)
    names = {
        "decrypt": "raw RSA-3072 OAEP decrypt",
        "sign": "raw RSA-3072 PSS sign",
        "raw": "raw decrypt + sign",
        "oaep": "handshake: OAEP decrypt (silent unwrap)",
        "pss": "handshake: PSS sign",
        "rest": "handshake: the rest",
        "handshake": "handshake: total (server side)",
    }
    best = {k: min(v) for k, v in samples.items()}
    median = {k: statistics.median(v) for k, v in samples.items()}
    print(f"{'part':42} {'best ms':>8} {'median ms':>10}")
    for key, name in names.items():
        print(f"{name:42} {best[key] * 1000:8.3f} {median[key] * 1000:10.3f}")
    ratio_of_bests = best["handshake"] / best["raw"]
    print(
        f"\nhandshake / raw RSA: best {ratio_of_bests:.3f}, median of rounds "
        f"{median['ratio']:.3f} (overhead {100 * (median['ratio'] - 1):.1f} %; goal < 10 %)"
    )
    print(f"rest / handshake (median) = {100 * median['rest'] / median['handshake']:.1f} %")
    if args.no_save:
        return
    result = {
        "rounds": args.rounds,
        "n_per_batch": args.n,
        "clock": "wall" if args.wall else "thread CPU time",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "cryptography": cryptography.__version__,
        "best_ms": {names[k]: best[k] * 1000 for k in names},
        "median_ms": {names[k]: median[k] * 1000 for k in names},
        "ratio_of_bests": ratio_of_bests,
        "median_ratio": median["ratio"],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "protocol_handshake.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
