#!/usr/bin/env python3
"""Push at least 100,000 generated frames through the server side of securemsg/1.

In process, no network: the driver of ``tests/fuzz/driver.py`` (the same
one the hypothesis state machine uses) feeds the server's handshake, record
layer and request parser honest, mutated, truncated, reordered, duplicated,
oversized and garbage frames. Fast path: most connections start from an
established session pair built with the real key schedule (no RSA), so the
record layer gets the bulk of the frames; every ``--handshake-every``-th
connection runs the full RSA handshake with fuzzed hello and finished
frames.

Reports the frames reached, refusals by error class and close code,
exceptions that are not ProtocolError (by class; must be none), forgeries
accepted (must be 0), and whether a fresh honest handshake and record round
trip succeed afterwards. Exit status 0 only when all of that holds and the
frame target was reached. Bounded by ``--frames`` and ``--max-seconds``.

Usage: python bench/fuzz_protocol.py [--frames 100000] [--max-seconds 600] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz.driver import ForgeryError, ServerFuzzer

# A connection ends at its first refusal; cap its length so fresh ones keep coming.
_MAX_STEPS_PER_CONNECTION = 200


def run(frames: int, max_seconds: float, seed: int, handshake_every: int) -> dict[str, object]:
    """Fuzz until ``frames`` frames or ``max_seconds``; return the report."""
    rng = random.Random(seed)
    fuzzer = ServerFuzzer()
    exceptions: dict[str, int] = {}
    first_traceback = ""
    connections = 0
    started = time.monotonic()
    deadline = started + max_seconds
    while fuzzer.frames < frames and time.monotonic() < deadline:
        connections += 1
        if connections % handshake_every == 0:
            fuzzer.reset()
        else:
            fuzzer.fast_session()
        for _ in range(_MAX_STEPS_PER_CONNECTION):
            if fuzzer.phase == "dead":
                break
            try:
                fuzzer.step(rng)
            except ForgeryError:
                break  # counted by the fuzzer
            except Exception as exc:  # the finding we look for: report every class
                name = type(exc).__name__
                exceptions[name] = exceptions.get(name, 0) + 1
                first_traceback = first_traceback or traceback.format_exc()
                break
    elapsed = time.monotonic() - started
    reached = fuzzer.frames
    fresh_ok = fuzzer.honest_handshake_works()
    return {
        "frames": reached,
        "target": frames,
        "seconds": round(elapsed, 1),
        "frames_per_second": round(reached / elapsed) if elapsed else None,
        "connections": connections,
        "full_handshakes_completed": fuzzer.handshakes,
        "refusals_by_error": dict(sorted(fuzzer.errors.items())),
        "exceptions_not_protocol_error": exceptions,
        "forgeries_accepted": fuzzer.forgeries,
        "fresh_handshake_after": fresh_ok,
        "first_traceback": first_traceback or None,
        "ok": reached >= frames and not exceptions and fuzzer.forgeries == 0 and fresh_ok,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--handshake-every", type=int, default=20)
    args = parser.parse_args()
    report = run(args.frames, args.max_seconds, args.seed, max(1, args.handshake_every))
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
