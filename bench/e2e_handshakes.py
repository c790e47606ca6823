#!/usr/bin/env python3
"""Handshakes per second through real Daphne processes vs one core's raw RSA rate.

One run: prepare a site as shipped (SQLite, in-memory channel layer,
RSA-3072 server keys, every limit 0, the handshake's audit event committed
before ``ready``), measure one core's raw RSA-3072 OAEP-decrypt + PSS-sign
rate, then drive 1 and 2 Daphne processes with many concurrent Python
clients (``securemsg.client.handshake`` over ``websockets``; client RSA-2048
keys made in advance), measuring the raw rate again after each row. Each handshake is a full
connect (cookie, origin check, session load), securemsg/1 handshake and close.
Ratio = handshakes/s ÷ raw pairs/s of one core, measured just before and just
after each row (the mean of the two), as the machine's speed drifts within a run.

The floor rows (``bench/plain_asgi.py``) run the same connect and two round
trips on a bare Channels consumer that does nothing, then one that does only
one raw RSA pair on a thread pool: what Daphne and this load client reach on
this machine before any securemsg work. "of floor" is each row's rate ÷ the
RSA floor's with as many processes.

``--backend postgres-redis`` runs the same on a throw-away PostgreSQL cluster and
redis-server started for the run (tests/support/services.py), the production
layout of docs/deployment.md.

Usage: python bench/e2e_handshakes.py [--handshakes 400] [--concurrency 32] [--seconds 60]
       [--backend sqlite|postgres-redis] [--shipped-only] [--no-floor]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from bench._harness import (
    APP,
    DB_THREADS,
    PERSISTENT_DB,
    PLAIN_APP,
    Daphne,
    Site,
    open_channel,
    open_socket,
    plot,
    prepare_site,
    print_table,
    raw_rsa_rate,
    run,
    write_results,
)

#: Client keys generated before the run and used in turn (the server's work
#: does not depend on whether a client key is fresh).
CLIENT_KEYS = 48
GOAL = 0.85
#: The stack's floor (bench/plain_asgi.py): a connect and two handshake-shaped
#: round trips on a bare Channels consumer, without and with one raw RSA pair.
FLOORS = (
    ("floor: Daphne + Channels only", "/ws/floor/"),
    ("floor: Daphne + Channels + RSA pair", "/ws/floor-rsa/"),
)


#: The floor's two client frames, about the size of ``client_hello`` and ``client_finished``.
_FLOOR_HELLO = json.dumps({"type": "client_hello", "pad": "A" * 560})
_FLOOR_FINISHED = json.dumps({"type": "client_finished", "pad": "A" * 620})


async def _floor_exchange(server: Daphne, session_key: str, path: str) -> None:
    """Connect, two handshake-shaped round trips with no cryptography, close."""
    socket_ = await open_socket(server, session_key, path)
    try:
        await socket_.send(_FLOOR_HELLO)
        await socket_.recv()
        await socket_.send(_FLOOR_FINISHED)
        await socket_.recv()
    finally:
        await socket_.close()


async def _drive(
    servers: list[Daphne],
    site: Site,
    keys: list[rsa.RSAPrivateKey],
    total: int,
    concurrency: int,
    seconds: float,
    floor_path: str | None = None,
) -> dict[str, Any]:
    """``total`` handshakes (or floor exchanges on ``floor_path``) from ``concurrency`` clients."""
    users = list(site.sessions)
    issued = 0
    done = 0
    failed = 0
    deadline = time.monotonic() + seconds

    async def worker(worker_id: int) -> None:
        nonlocal issued, done, failed
        while issued < total and time.monotonic() < deadline:
            index = issued
            issued += 1
            server = servers[index % len(servers)]
            user = users[index % len(users)]
            try:
                if floor_path is None:
                    channel = await open_channel(server, site, user, keys[index % len(keys)])
                    await channel.transport.close()
                else:
                    await _floor_exchange(server, site.sessions[user], floor_path)
                done += 1
            except Exception as exc:  # counted and reported, never silently dropped
                failed += 1
                if failed <= 3:
                    print(f"  handshake {index} failed: {exc!r}")

    cpu_before = [s.cpu_seconds() for s in servers]
    client_before = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - start
    server_cpu = sum(s.cpu_seconds() for s in servers) - sum(cpu_before)
    client_cpu = time.process_time() - client_before
    return {
        "processes": len(servers),
        "completed": done,
        "failed": failed,
        "seconds": elapsed,
        "per_second": done / elapsed,
        "server_cpu_ms_per_handshake": 1000 * server_cpu / max(done, 1),
        "client_cpu_ms_per_handshake": 1000 * client_cpu / max(done, 1),
        "server_cpu_utilisation": server_cpu / elapsed,
    }


async def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=400, help="per configuration")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60, help="time cap per configuration")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument(
        "--shipped-only", action="store_true", help="skip the persistent-connection variant"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres-redis"), default="sqlite")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-stack floor rows")
    args = parser.parse_args()
    if args.backend == "sqlite":
        return await _measure(args, {})
    from tests.support.services import start_postgres, start_redis

    redis = start_redis()
    try:
        postgres = start_postgres()
        try:
            return await _measure(args, {"DATABASE_URL": postgres.url(), "REDIS_URL": redis.url})
        finally:
            postgres.stop()
    finally:
        redis.stop()


async def _measure(args: argparse.Namespace, backend_env: dict[str, str]) -> dict[str, Any]:

    print("preparing the site and client keys ...")
    site = prepare_site(users=args.users, env=backend_env)
    keys = [rsa.generate_private_key(65537, 2048) for _ in range(CLIENT_KEYS)]
    variants: list[tuple[str, dict[str, str]]] = [("as shipped", {})]
    if not args.shipped_only:
        variants.append(("persistent DB connections", PERSISTENT_DB))
        variants.append(("persistent + DB thread pool", DB_THREADS))
    rows: list[tuple[str, int, str, dict[str, str], str | None]] = []
    for processes in (1, 2):
        # Each floor row right after the rows it is compared with: the machine drifts.
        rows += [(variant, processes, APP, env, None) for variant, env in variants]
        if not args.no_floor:
            rows += [(variant, processes, PLAIN_APP, {}, path) for variant, path in FLOORS[::-1]]
    raws = [raw_rsa_rate()]
    runs = []
    for variant, processes, app, env, floor_path in rows:
        servers = [Daphne(site, app=app, env=env).start() for _ in range(processes)]
        try:
            await _drive(servers, site, keys, 20, 4, 30, floor_path)  # warm-up: caches, imports
            result = await _drive(
                servers, site, keys, args.handshakes, args.concurrency, args.seconds, floor_path
            )
        finally:
            for server in servers:
                server.stop()
        raws.append(raw_rsa_rate())
        result["variant"] = variant
        # Against the raw rate measured just before and just after this row.
        result["raw_pairs_per_second"] = (
            raws[-2]["pairs_per_second"] + raws[-1]["pairs_per_second"]
        ) / 2
        result["ratio_to_one_core_raw"] = result["per_second"] / result["raw_pairs_per_second"]
        runs.append(result)
    raw_before, raw_after = raws[0], raws[-1]
    raw = sum(r["pairs_per_second"] for r in raws) / len(raws)
    floor_rates = {r["processes"]: r["per_second"] for r in runs if r["variant"] == FLOORS[1][0]}
    for result in runs:
        # The share of what the bare stack reaches with the same RSA work and processes.
        floor_rate = floor_rates.get(result["processes"])
        result["share_of_rsa_floor"] = result["per_second"] / floor_rate if floor_rate else None

    print(
        "\nraw RSA-3072 decrypt+sign, one core, before the first row and after each: "
        + ", ".join(f"{r['pairs_per_second']:.1f}" for r in raws)
        + f"/s (mean {raw:.1f}/s)\n"
    )
    print_table(
        [
            "variant",
            "processes",
            "handshakes",
            "failed",
            "per second",
            "raw/s",
            "ratio",
            "of floor",
            "server CPU ms/hs",
            "client CPU ms/hs",
        ],
        [
            [
                r["variant"],
                r["processes"],
                r["completed"],
                r["failed"],
                r["per_second"],
                r["raw_pairs_per_second"],
                r["ratio_to_one_core_raw"],
                "" if r["share_of_rsa_floor"] is None else r["share_of_rsa_floor"],
                r["server_cpu_ms_per_handshake"],
                r["client_cpu_ms_per_handshake"],
            ]
            for r in runs
        ],
    )
    print(f"\ngoal: ratio >= {GOAL} with one process")
    output = {
        "settings": vars(args),
        "client_keys": CLIENT_KEYS,
        "raw_before": raw_before,
        "raw_after": raw_after,
        "raw_runs": raws,
        "raw_pairs_per_second": raw,
        "runs": runs,
        "goal": GOAL,
    }
    name = "e2e_handshakes" if args.backend == "sqlite" else f"e2e_handshakes-{args.backend}"
    print(f"wrote {write_results(name, output)}")

    def draw(ax: Any) -> None:
        labels = ["raw RSA\n(1 core)"] + [
            f"{r['processes']} Daphne\n{r['variant']}".replace(
                "persistent DB connections", "persistent DB"
            )
            .replace("persistent + DB thread pool", "4 DB threads")
            .replace(FLOORS[0][0], "floor,\nno RSA")
            .replace(FLOORS[1][0], "floor +\nRSA pair")
            for r in runs
        ]
        values = [raw] + [r["per_second"] for r in runs]
        palette = {
            "as shipped": "#3b7dd8",
            "persistent DB connections": "#2e8b57",
            FLOORS[0][0]: "#bbbbbb",
            FLOORS[1][0]: "#7f8c8d",
        }
        colors = ["#999999"] + [palette.get(r["variant"], "#d35400") for r in runs]
        ax.bar(labels, values, color=colors)
        ax.axhline(GOAL * raw, color="#c0392b", linestyle="--", label=f"goal {GOAL:.0%} of raw")
        for x, v in enumerate(values):
            ax.text(x, v, f"{v:.0f}/s", ha="center", va="bottom")
        ax.set_ylabel("handshakes (or RSA pairs) per second")
        ax.set_title(f"securemsg/1 handshakes end to end ({args.backend}), RSA-3072, 2-core VM")
        ax.tick_params(axis="x", labelsize=8)
        ax.legend()

    plot(name, draw)
    return output


if __name__ == "__main__":
    run(main)
