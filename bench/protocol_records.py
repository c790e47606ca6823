#!/usr/bin/env python3
"""Records per second sealed and opened by securemsg/1, against bare AES-GCM.

The baseline does the same work a record needs without the protocol layer:
JSON-encode the message, AES-256-GCM encrypt with a nonce and AAD,
base64url-encode into a {"type","seq","ct"} frame and JSON-encode it; and
the reverse for opening. The clarifications set the 10 % goal against this
comparison. Also prints bare AESGCM alone for reference. Usage:
python bench/protocol_records.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import struct
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from securemsg.protocol import Session
from securemsg.protocol._schedule import HandshakeSecrets

RESULTS = Path(__file__).resolve().parent / "results"


def _rate(fn: Any, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            fn()
        count += 100
    return count / (time.perf_counter() - start)


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def measure(size: int, seconds: float) -> dict[str, float]:
    message = {
        "t": "msg",
        "mid": "m-1",
        "from": "alice",
        "to": "bob",
        "ts": "2025-01-01T00:00:00Z",
        "body": "x" * size,
    }
    secrets = HandshakeSecrets(bytes(32), bytes(range(32)), b"")
    kw: dict[str, Any] = {
        "th": bytes(32),
        "session_id": bytes(16),
        "secrets": secrets,
        "update_after_records": 2**23,
    }
    sender = Session(role="server", **kw)
    frames = [json.dumps(f, separators=(",", ":")) for f in sender.seal(message)]
    seal_rate = _rate(lambda: json.dumps(sender.seal(message)[0], separators=(",", ":")), seconds)

    # Opening: a fresh receiver each batch, fed a pre-sealed stream of records.
    stream_sender = Session(role="server", **kw)
    stream = [
        json.dumps(stream_sender.seal(message)[0], separators=(",", ":")) for _ in range(60000)
    ]
    receiver = Session(role="client", **kw)
    position = iter(stream)
    open_rate = _rate(lambda: receiver.open(next(position)), min(seconds, 0.6))
    del frames

    aead = AESGCM(bytes(32))
    aad = b"securemsg/1 rec" + bytes(16) + struct.pack(">BQI", 2, 0, 0)
    nonce = struct.pack(">IQ", 2, 0)

    def base_seal() -> str:
        pt = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        ct = aead.encrypt(nonce, pt, aad)
        return json.dumps({"type": "rec", "seq": 0, "ct": _b64u(ct)}, separators=(",", ":"))

    sealed = base_seal()

    def base_open() -> Any:
        frame = json.loads(sealed)
        return json.loads(aead.decrypt(nonce, _unb64u(frame["ct"]), aad))

    pt = json.dumps(message, separators=(",", ":")).encode()
    ct = aead.encrypt(nonce, pt, aad)
    return {
        "seal": seal_rate,
        "open": open_rate,
        "baseline_seal": _rate(base_seal, seconds),
        "baseline_open": _rate(base_open, seconds),
        "aesgcm_encrypt": _rate(lambda: aead.encrypt(nonce, pt, aad), seconds),
        "aesgcm_decrypt": _rate(lambda: aead.decrypt(nonce, ct, aad), seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    seconds = parser.parse_args().seconds
    results = {}
    print(
        f"{'body':>7} {'op':5} {'records/s':>11} {'baseline/s':>11} {'ratio':>6} "
        f"{'overhead':>9} {'bare AESGCM/s':>14}"
    )
    for size in (200, 16 * 1024):
        r = measure(size, seconds)
        results[str(size)] = r
        for op, bare in (("seal", "aesgcm_encrypt"), ("open", "aesgcm_decrypt")):
            ratio = r[op] / r[f"baseline_{op}"]
            print(
                f"{size:7} {op:5} {r[op]:11.0f} {r[f'baseline_{op}']:11.0f} {ratio:6.3f} "
                f"{100 * (1 / ratio - 1):8.1f}% {r[bare]:14.0f}"
            )
    RESULTS.mkdir(exist_ok=True)
    out = {"python": platform.python_version(), "machine": platform.machine(), "rates": results}
    (RESULTS / "protocol_records.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
