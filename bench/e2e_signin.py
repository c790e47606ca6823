#!/usr/bin/env python3
"""Sign-in latency and throughput through Daphne with the shipped Argon2id parameters.

One run: the bare Argon2id verification with securemsg's parameters
(m = 64 MiB, t = 2, p = 2) in this process; then sign-ins through the
login form of one Daphne process exactly as a browser does (GET the form
for the CSRF cookie, POST the credentials, expect 302; the Python client's
``Server.sign_in``), first one at a time for latency, then from several
concurrent clients for throughput. The server's CPU time per sign-in gives
how many sign-ins per second one core sustains. Site as shipped (SQLite).

Usage: python bench/e2e_signin.py [--sequential 20] [--seconds 10] [--max 120]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import time
from typing import Any

import argon2

from accounts.hashers import SecuremsgArgon2Hasher
from bench._harness import (
    PASSWORD,
    Daphne,
    latency_summary,
    plot,
    prepare_site,
    print_table,
    run,
    write_results,
)
from securemsg.client import Server

#: Concurrent clients of the throughput runs.
CONCURRENCY = (1, 2, 4)


def _bare_verify(rounds: int) -> list[float]:
    hasher = argon2.PasswordHasher(
        time_cost=SecuremsgArgon2Hasher.time_cost,
        memory_cost=SecuremsgArgon2Hasher.memory_cost,
        parallelism=SecuremsgArgon2Hasher.parallelism,
    )
    encoded = hasher.hash(PASSWORD)
    hasher.verify(encoded, PASSWORD)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        hasher.verify(encoded, PASSWORD)
        times.append(time.perf_counter() - start)
    return times


def _sign_in(server: Daphne, user: str) -> float:
    start = time.perf_counter()
    Server.from_url(server.url).sign_in(user, PASSWORD)
    return time.perf_counter() - start


async def _throughput(
    server: Daphne, users: list[str], clients: int, seconds: float, cap: int
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    done: list[float] = []

    async def client(index: int) -> None:
        user = users[index % len(users)]
        while time.monotonic() < deadline and len(done) < cap:
            done.append(await asyncio.to_thread(_sign_in, server, user))

    cpu = server.cpu_seconds()
    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - start
    server_cpu = server.cpu_seconds() - cpu
    return {
        "clients": clients,
        "sign_ins": len(done),
        "per_second": len(done) / elapsed,
        "server_cpu_ms_per_sign_in": 1000 * server_cpu / max(len(done), 1),
        **{k: v for k, v in latency_summary(done).items() if k.endswith("_ms")},
    }


async def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10, help="per throughput run")
    parser.add_argument("--max", type=int, default=120, help="sign-ins per throughput run")
    args = parser.parse_args()

    bare = latency_summary(_bare_verify(10))
    site = prepare_site(users=8, with_password=8)
    users = list(site.sessions)
    server = Daphne(site).start()
    try:
        _sign_in(server, users[0])  # warm-up
        sequential = latency_summary([_sign_in(server, users[0]) for _ in range(args.sequential)])
        runs = [
            await _throughput(server, users, clients, args.seconds, args.max)
            for clients in CONCURRENCY
        ]
    finally:
        server.stop()

    print(
        f"bare Argon2id verify (m=64 MiB, t=2, p=2): p50 {bare['p50_ms']:.1f} ms"
        f" ({1000 / bare['p50_ms']:.1f}/s in one process)"
    )
    print(
        f"sign-in through Daphne, one at a time: p50 {sequential['p50_ms']:.1f} ms,"
        f" p99 {sequential['p99_ms']:.1f} ms\n"
    )
    print_table(
        ["clients", "sign-ins", "per second", "p50 ms", "p99 ms", "server CPU ms each"],
        [
            [
                r["clients"],
                r["sign_ins"],
                r["per_second"],
                r["p50_ms"],
                r["p99_ms"],
                r["server_cpu_ms_per_sign_in"],
            ]
            for r in runs
        ],
    )
    per_core = 1000 / min(r["server_cpu_ms_per_sign_in"] for r in runs)
    print(f"\none core sustains about {per_core:.1f} sign-ins per second")
    output = {
        "settings": vars(args),
        "argon2": {"m_kib": 65536, "t": 2, "p": 2},
        "bare_verify": bare,
        "sequential": sequential,
        "concurrent": runs,
        "sign_ins_per_core_second": per_core,
    }
    print(f"wrote {write_results('e2e_signin', output)}")

    def draw(ax: Any) -> None:
        clients = [r["clients"] for r in runs]
        ax.plot(clients, [r["per_second"] for r in runs], "o-", label="sign-ins/s")
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("sign-ins per second")
        ax.set_xticks(clients)
        twin = ax.twinx()
        twin.plot(clients, [r["p50_ms"] for r in runs], "s--", color="#c0392b", label="p50 ms")
        twin.set_ylabel("p50 latency, ms")
        ax.set_title(
            f"sign-in via the form, Argon2id m=64 MiB t=2 p=2 (bare {bare['p50_ms']:.0f} ms)"
        )
        ax.legend(loc="upper left")
        twin.legend(loc="lower right")

    plot("e2e_signin", draw)
    return output


if __name__ == "__main__":
    run(main)
