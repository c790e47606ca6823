#!/usr/bin/env python3
"""Records per second sealed and opened by securemsg/1, against bare AES-GCM.

The baseline does the same work a record needs without the protocol layer:
JSON-encode the message, AES-256-GCM encrypt with a nonce and AAD,
base64url-encode into a {"type","seq","ct"} frame and JSON-encode it; and
the reverse for opening (parse the frame, decode base64url, decrypt, parse
the plaintext). The clarifications set the 10 % goal against this
comparison. Bare AESGCM alone is printed for reference.

Method: for each body size and operation, ``--rounds`` rounds; each round
times a batch of baseline operations and a batch of protocol operations
back to back in this process (the order alternates between rounds, so
drift and frequency changes hit both sides alike). Each rate is a batch's
count over the thread's CPU time (``--wall`` for wall time), with garbage
collection paused during the batch. Printed: the best and the median rate of each
side, the ratio of the bests, and the median of the per-round ratios (the
most robust number on a shared machine). Every protocol open runs on a
fresh receiver over a stream of distinct records (seq 0, 1, 2, ...), as
on the wire. Usage: python bench/protocol_records.py [--rounds 101] [--batch-seconds 0.02]
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import platform
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cryptography
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from securemsg.protocol import Session, encode_json
from securemsg.protocol._schedule import HandshakeSecrets

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (200, 16 * 1024)

# A batch function runs ``n`` operations and returns nothing.
Batch = Callable[[int], None]


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# This thread's CPU time: on a shared machine, time spent descheduled while
# other processes run is not counted (wall time is available with --wall).
_clock = time.thread_time


def _timed(batch: Batch, n: int) -> float:
    """Operations per second of one batch of ``n`` (garbage collection paused)."""
    gc.collect()
    gc.disable()
    try:
        start = _clock()
        batch(n)
        return n / (_clock() - start)
    finally:
        gc.enable()


def _message(size: int, number: int = 0) -> dict[str, Any]:
    return {
        "t": "msg",
        "mid": f"m-{number:06d}",
        "from": "alice",
        "to": "bob",
        "ts": "2025-01-01T00:00:00Z",
        "body": "x" * size,
    }


_SESSION_ARGS: dict[str, Any] = {
    "th": bytes(32),
    "session_id": bytes(16),
    "secrets": HandshakeSecrets(bytes(32), bytes(range(32)), b""),
    "update_after_records": 2**23,
}


class Workload:
    """The four batch functions (and bare AESGCM) for one body size."""

    def __init__(self, size: int, batch: int) -> None:
        self.message = message = _message(size)
        self.batch = batch
        self.sender = Session(role="server", **_SESSION_ARGS)
        # A stream of distinct records, opened by a fresh receiver each batch.
        stream_sender = Session(role="server", **_SESSION_ARGS)
        self.stream = [encode_json(stream_sender.seal(_message(size, i))[0]) for i in range(batch)]
        self.aead = AESGCM(bytes(32))
        self.aad = b"securemsg/1 rec" + bytes(16) + struct.pack(">BQI", 2, 0, 0)
        self.nonce = struct.pack(">IQ", 2, 0)
        # The baseline opens distinct frames of the same size too, so that both
        # sides read cold memory alike (one hot frame would flatter it).
        self.base_stream = [self._base_seal_one(_message(size, i)) for i in range(batch)]
        self.plaintext = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        self.ciphertext = self.aead.encrypt(self.nonce, self.plaintext, self.aad)

    def _base_seal_one(self, message: dict[str, Any] | None = None) -> str:
        message = self.message if message is None else message
        pt = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        ct = self.aead.encrypt(self.nonce, pt, self.aad)
        frame = {"type": "rec", "seq": 0, "ct": _b64u(ct)}
        return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))

    def base_seal(self, n: int) -> None:
        seal_one = self._base_seal_one
        for _ in range(n):
            seal_one()

    def base_open(self, n: int) -> None:
        aead, nonce, aad = self.aead, self.nonce, self.aad
        loads = json.loads
        for sealed in self.base_stream[:n]:
            frame = loads(sealed)
            loads(aead.decrypt(nonce, _unb64u(frame["ct"]), aad))

    def protocol_seal(self, n: int) -> None:
        seal, message = self.sender.seal, self.message
        for _ in range(n):
            encode_json(seal(message)[0])

    def protocol_open(self, n: int) -> None:
        receiver = Session(role="client", **_SESSION_ARGS)
        open_record = receiver.open
        for frame in self.stream[:n]:
            open_record(frame)

    def aesgcm_encrypt(self, n: int) -> None:
        for _ in range(n):
            self.aead.encrypt(self.nonce, self.plaintext, self.aad)

    def aesgcm_decrypt(self, n: int) -> None:
        for _ in range(n):
            self.aead.decrypt(self.nonce, self.ciphertext, self.aad)


def _batch_size(fn: Batch, seconds: float, cap: int) -> int:
    """A batch size that takes about ``seconds`` (at most ``cap``)."""
    rate = _timed(fn, 50)
    return max(50, min(cap, int(rate * seconds)))


def measure(size: int, rounds: int, seconds: float) -> dict[str, Any]:
    """Interleaved rounds of baseline and protocol for one body size."""
    probe = Workload(size, 50)
    # The open stream holds one batch of distinct records; cap its memory.
    cap = 4000 if size > 1024 else 20000
    n = min(
        _batch_size(probe.protocol_open, seconds, cap), _batch_size(probe.base_open, seconds, cap)
    )
    work = Workload(size, n)
    pairs = {
        "seal": (work.base_seal, work.protocol_seal),
        "open": (work.base_open, work.protocol_open),
    }
    result: dict[str, Any] = {"batch": n}
    for op, (baseline, protocol) in pairs.items():
        base_rates: list[float] = []
        proto_rates: list[float] = []
        baseline(n // 5)  # warm up both
        protocol(n // 5)
        for i in range(rounds):
            first, second = (baseline, protocol) if i % 2 == 0 else (protocol, baseline)
            a = _timed(first, n)
            b = _timed(second, n)
            base, proto = (a, b) if i % 2 == 0 else (b, a)
            base_rates.append(base)
            proto_rates.append(proto)
        ratios = [p / b for p, b in zip(proto_rates, base_rates, strict=True)]
        result[op] = {
            "protocol_best": max(proto_rates),
            "protocol_median": statistics.median(proto_rates),
            "baseline_best": max(base_rates),
            "baseline_median": statistics.median(base_rates),
            "ratio_of_bests": max(proto_rates) / max(base_rates),
            "median_ratio": statistics.median(ratios),
            "ratios": ratios,
        }
    result["aesgcm_encrypt"] = max(_timed(work.aesgcm_encrypt, n) for _ in range(3))
    result["aesgcm_decrypt"] = max(_timed(work.aesgcm_decrypt, n) for _ in range(3))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=101)
    parser.add_argument("--batch-seconds", type=float, default=0.02)
    parser.add_argument(
        "--wall", action="store_true", help="time with the wall clock, not this thread's CPU time"
    )
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args()
    global _clock
    if args.wall:
        _clock = time.perf_counter
    results: dict[str, Any] = {}
    print(
        f"{'body':>6} {'op':4} {'proto best':>11} {'base best':>10} {'best ratio':>10} "
        f"{'proto med':>10} {'base med':>10} {'med ratio':>9} {'overhead':>8} {'AESGCM/s':>9}"
    )
    for size in SIZES:
        r = measure(size, args.rounds, args.batch_seconds)
        results[str(size)] = r
        for op, bare in (("seal", "aesgcm_encrypt"), ("open", "aesgcm_decrypt")):
            s = r[op]
            print(
                f"{size:6} {op:4} {s['protocol_best']:11.0f} {s['baseline_best']:10.0f} "
                f"{s['ratio_of_bests']:10.3f} {s['protocol_median']:10.0f} "
                f"{s['baseline_median']:10.0f} {s['median_ratio']:9.3f} "
                f"{100 * (1 / s['median_ratio'] - 1):7.1f}% {r[bare]:9.0f}"
            )
    print("ratio = protocol rate / baseline rate (1.0 = no overhead; goal >= 1/1.1 = 0.909)")
    if args.no_save:
        return
    RESULTS.mkdir(exist_ok=True)
    out = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "cryptography": cryptography.__version__,
        "rounds": args.rounds,
        "batch_seconds": args.batch_seconds,
        "clock": "wall" if args.wall else "thread CPU time",
        "rates": results,
    }
    (RESULTS / "protocol_records.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
