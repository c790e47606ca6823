#!/usr/bin/env python3
"""Idle secure sessions held by one Daphne process: memory per connection, active latency.

One Daphne process as shipped (SQLite, in-memory layer, limits 0), with
``SECUREMSG_IDLE_TIMEOUT=0`` so that idle sessions stay open for the run.
Idle clients (Python client sessions over ``websockets``, client keys made in
advance, no client-side keepalive; Daphne's own 20 s pings stay on) are
opened in steps; after each step the bench records the server's resident
memory and, from one separate active session, ping/pong round trips and the
time of one more handshake. The memory baseline is taken after a warm-up
wave. Bounded by the target count and a time cap; stops early and says why
when opening fails.

Usage: python bench/e2e_idle.py [--target 5000] [--step 500] [--seconds 600] [--persistent-db]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import resource
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from bench._harness import (
    PERSISTENT_DB,
    Daphne,
    latency_summary,
    open_channel,
    plot,
    prepare_site,
    print_table,
    run,
    write_results,
)
from securemsg.client import SecureChannel
from securemsg.protocol import ping_request

CLIENT_KEYS = 48
#: Concurrent handshakes while opening a step.
OPENERS = 16
#: Ping round trips of the active session at each level.
PINGS = 200
#: Sessions of the warm-up wave (opened and kept) before the baseline.
WARM_UP = 100


async def _pings(channel: SecureChannel, n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        await channel.send_message(ping_request(str(i)))
        while (await channel.receive()).get("t") != "pong":
            pass
        times.append(time.perf_counter() - start)
    return times


async def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, default=5000)
    parser.add_argument("--step", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=600, help="cap on the whole run")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--persistent-db",
        action="store_true",
        help="run the server on bench/settings_persistent_db.py (CONN_MAX_AGE=600)",
    )
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    deadline = time.monotonic() + args.seconds

    site = prepare_site(users=args.users + 1, env={"SECUREMSG_IDLE_TIMEOUT": "0"})
    *idle_users, active_user = list(site.sessions)
    keys = [rsa.generate_private_key(65537, 2048) for _ in range(CLIENT_KEYS)]
    server = Daphne(site, env=PERSISTENT_DB if args.persistent_db else {}).start()
    idle: list[SecureChannel] = []
    failures: list[str] = []
    levels: list[dict[str, Any]] = []
    stopped = ""

    async def open_many(count: int) -> None:
        nonlocal stopped
        queue = list(range(len(idle), len(idle) + count))
        allowed = len(failures) + max(1, count // 10)

        async def opener() -> None:
            nonlocal stopped
            while queue and not stopped:
                index = queue.pop()
                if time.monotonic() > deadline:
                    stopped = "time cap reached"
                    return
                try:
                    channel = await open_channel(
                        server,
                        site,
                        idle_users[index % len(idle_users)],
                        keys[index % len(keys)],
                        keepalive=False,
                    )
                except Exception as exc:  # counted; too many in one step end the run
                    failures.append(repr(exc))
                    if len(failures) > allowed:
                        stopped = f"more than 10 % of a step failed to open, last: {exc!r}"
                    continue
                idle.append(channel)

        await asyncio.gather(*(opener() for _ in range(OPENERS)))

    try:
        active = await open_channel(server, site, active_user, keys[0])
        await open_many(WARM_UP)
        await _pings(active, 50)
        baseline = server.rss_kib()
        base_count = len(idle)
        while len(idle) < args.target and not stopped:
            step_start = time.perf_counter()
            await open_many(min(args.step, args.target - len(idle)))
            opening = time.perf_counter() - step_start
            await asyncio.sleep(1)
            pings = latency_summary(await _pings(active, PINGS))
            start = time.perf_counter()
            extra = await open_channel(server, site, active_user, keys[1])
            handshake_ms = 1000 * (time.perf_counter() - start)
            await extra.transport.close()
            rss = server.rss_kib()
            levels.append(
                {
                    "sessions": len(idle),
                    "rss_mib": rss / 1024,
                    "kib_per_session_since_baseline": (rss - baseline)
                    / max(1, len(idle) - base_count),
                    "handshakes_per_second_while_opening": args.step / opening,
                    "ping_p50_ms": pings["p50_ms"],
                    "ping_p99_ms": pings["p99_ms"],
                    "new_handshake_ms": handshake_ms,
                    "failed_opens_so_far": len(failures),
                }
            )
            level = levels[-1]
            print(
                f"  {level['sessions']:5d} sessions: RSS {level['rss_mib']:.0f} MiB,"
                f" ping p50 {level['ping_p50_ms']:.2f} ms p99 {level['ping_p99_ms']:.2f} ms,"
                f" new handshake {handshake_ms:.0f} ms"
            )
            if time.monotonic() > deadline:
                stopped = stopped or "time cap reached"
        await active.transport.close()
        for channel in idle:
            await channel.transport.close()
    finally:
        server.stop()

    print()
    print_table(
        ["sessions", "RSS MiB", "KiB/session", "ping p50 ms", "ping p99 ms", "new handshake ms"],
        [
            [
                lv["sessions"],
                lv["rss_mib"],
                lv["kib_per_session_since_baseline"],
                lv["ping_p50_ms"],
                lv["ping_p99_ms"],
                lv["new_handshake_ms"],
            ]
            for lv in levels
        ],
    )
    held = levels[-1]["sessions"] if levels else 0
    print(
        f"\nheld {held} idle secure sessions in one process (goal 5,000)"
        + (f"; {stopped}" if stopped else "")
    )
    output = {
        "settings": vars(args),
        "baseline_rss_mib": baseline / 1024,
        "baseline_sessions": base_count,
        "levels": levels,
        "held": held,
        "stopped": stopped,
        "failed_opens": len(failures),
        "first_failures": failures[:5],
        "persistent_db": args.persistent_db,
    }
    name = "e2e_idle-persistent-db" if args.persistent_db else "e2e_idle"
    print(f"wrote {write_results(name, output)}")

    _plot(name, levels)
    return output


def _plot(name: str, levels: list[dict[str, Any]]) -> None:
    def draw(ax: Any) -> None:
        sessions = [lv["sessions"] for lv in levels]
        ax.plot(sessions, [lv["rss_mib"] for lv in levels], "o-", label="server RSS, MiB")
        ax.set_xlabel("idle secure sessions in one Daphne process")
        ax.set_ylabel("resident memory, MiB")
        twin = ax.twinx()
        for key, style, color, label in (
            ("ping_p50_ms", "s--", "#2e8b57", "active ping p50"),
            ("ping_p99_ms", "^--", "#c0392b", "active ping p99"),
            ("new_handshake_ms", "d:", "#8e44ad", "new handshake"),
        ):
            twin.plot(sessions, [lv[key] for lv in levels], style, color=color, label=label)
        twin.set_yscale("log")
        twin.set_ylabel("ms (log)")
        ax.set_title("idle sessions: memory, and latency of an active user")
        ax.legend(loc="upper left")
        twin.legend(loc="lower right", fontsize=8)

    plot(name, draw)


if __name__ == "__main__":
    run(main)
