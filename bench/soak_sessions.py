"""Memory soak: open and close 20,000 secure sessions in waves against one Daphne process.

Field-lessons issue, point 6. A site is prepared as the development
defaults ship (SQLite, in-memory channel layer, every limit off; see
``bench/_harness.py``), one Daphne process serves it, and the client runs
waves of sessions: each connects with a signed-in user's cookie, completes
the securemsg/1 handshake (the server records ``handshake.completed`` in
the audit log), does one encrypted ping/pong and closes. After each wave
the script waits for the server to settle and reads its resident memory
(``VmRSS``). The baseline is the memory after one warm-up wave, not at a
cold start (clarifications, "Performance"); the goal is every later wave
within 10 % of it.

Bounded: ``--sessions`` (default 20,000, after the warm-up) in ``--waves``
waves with ``--concurrency`` sessions at a time; a wave that exceeds
``--wave-timeout`` seconds stops the run. Exit status 0 when the goal is
met, 1 when not, 2 when sessions failed.

    .venv/bin/python bench/soak_sessions.py                  # the documented run
    .venv/bin/python bench/soak_sessions.py --sessions 2000 --waves 4   # a quick one
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._harness import (
    Daphne,
    Site,
    machine,
    open_channel,
    prepare_site,
    print_table,
    run,
    write_results,
)

#: Every wave after the warm-up must stay within this ratio of the baseline.
GOAL_RATIO = 1.10
#: Seconds the server gets after a wave before its memory is read.
SETTLE_SECONDS = 3.0
#: Signed-in users the sessions rotate through.
USERS = 50
#: Client keys made before the run and used in turn (the server's work does
#: not depend on whether a client key is fresh; making one per session would
#: measure the client's key generation).
CLIENT_KEYS = 16


async def _wave(
    server: Daphne, site: Site, keys: list[rsa.RSAPrivateKey], count: int, concurrency: int
) -> tuple[int, int]:
    """Open, use and close ``count`` sessions; return (completed, failed)."""
    users = list(site.sessions)
    issued = 0
    done = 0
    failed = 0

    async def worker() -> None:
        nonlocal issued, done, failed
        while issued < count:
            index = issued
            issued += 1
            try:
                user = users[index % len(users)]
                channel = await open_channel(server, site, user, keys[index % len(keys)])
                try:
                    await channel.send_message({"t": "ping", "id": f"p{index}"})
                    while (await channel.receive()).get("t") != "pong":
                        pass
                finally:
                    await channel.transport.close()
                done += 1
            except Exception as exc:  # counted and reported, never dropped silently
                failed += 1
                if failed <= 3:
                    print(f"  session {index} failed: {exc!r}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, failed


async def _settled_rss(server: Daphne) -> int:
    await asyncio.sleep(SETTLE_SECONDS)
    return server.rss_kib()


async def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20_000, help="after the warm-up wave")
    parser.add_argument("--waves", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--wave-timeout", type=float, default=900.0, help="seconds per wave")
    parser.add_argument(
        "--key-algorithm",
        default="RSA-2048",
        help="server key size (memory does not depend on it; RSA-2048 keeps the run short)",
    )
    args = parser.parse_args()
    per_wave = max(1, args.sessions // args.waves)
    keys = [rsa.generate_private_key(65537, 2048) for _ in range(CLIENT_KEYS)]
    site = prepare_site(users=USERS, env={"SECUREMSG_KEY_ALGORITHM": args.key_algorithm})
    server = Daphne(site).start()
    rows: list[dict[str, Any]] = []
    try:
        start_rss = server.rss_kib()
        started = time.perf_counter()
        done, failed = await asyncio.wait_for(
            _wave(server, site, keys, per_wave, args.concurrency), args.wave_timeout
        )
        baseline = await _settled_rss(server)
        rows.append(_row("warm-up", per_wave, done, failed, baseline, baseline, started))
        for number in range(1, args.waves + 1):
            started = time.perf_counter()
            done, failed = await asyncio.wait_for(
                _wave(server, site, keys, per_wave, args.concurrency), args.wave_timeout
            )
            rss = await _settled_rss(server)
            rows.append(_row(str(number), per_wave, done, failed, rss, baseline, started))
            print(
                f"wave {number}: {done} sessions ({failed} failed), RSS {rss / 1024:.1f} MiB "
                f"= {rss / baseline:.3f} x baseline"
            )
    finally:
        server.stop()
    measured = rows[1:]
    worst = max(row["ratio"] for row in measured) if measured else 0.0
    result = {
        "machine": machine(),
        "key_algorithm": args.key_algorithm,
        "concurrency": args.concurrency,
        "sessions_per_wave": per_wave,
        "sessions": sum(row["completed"] for row in measured),
        "failed": sum(row["failed"] for row in rows),
        "rss_at_start_kib": start_rss,
        "baseline_kib": rows[0]["rss_kib"],
        "worst_ratio": worst,
        "goal_ratio": GOAL_RATIO,
        "goal_met": bool(measured) and worst <= GOAL_RATIO,
        "waves": rows,
    }
    print_table(
        ["wave", "sessions", "failed", "seconds", "RSS MiB", "x baseline"],
        [
            [r["wave"], r["completed"], r["failed"], r["seconds"], r["rss_kib"] / 1024, r["ratio"]]
            for r in rows
        ],
    )
    print(
        f"start {start_rss / 1024:.1f} MiB, baseline (after warm-up) "
        f"{result['baseline_kib'] / 1024:.1f} MiB, worst {worst:.3f} x "
        f"(goal <= {GOAL_RATIO}): {'met' if result['goal_met'] else 'NOT met'}"
    )
    print(f"results: {write_results('soak_sessions', result)}")
    return result


def _row(
    wave: str, planned: int, done: int, failed: int, rss: int, baseline: int, started: float
) -> dict[str, Any]:
    return {
        "wave": wave,
        "planned": planned,
        "completed": done,
        "failed": failed,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_kib": rss,
        "ratio": round(rss / baseline, 4),
    }


if __name__ == "__main__":
    outcome = run(main)
    if outcome["failed"]:
        raise SystemExit(2)
    raise SystemExit(0 if outcome["goal_met"] else 1)
