#!/usr/bin/env python3
"""Encrypted ping/pong on one securemsg/1 session vs plaintext JSON ping/pong, same stack.

One Daphne process serves ``bench.plain_asgi:application``: the project's
app plus a plaintext JSON ping/pong consumer behind the same WebSocket
middleware, once as Channels ships it (the goal's baseline) and once
dispatched as the securemsg/1 consumer dispatches (without Channels'
per-frame connection clean-up: the like-for-like cost of securemsg/1). One
client (the Python client's session for the encrypted side, a bare
``websockets`` connection for the plain sides) does sequential round trips,
alternating blocks between the sides so that drift in machine load hits
all. Then ``send`` → ``ack`` round trips (the message is stored encrypted
and committed before the ack) for several body sizes. Site as shipped
(SQLite, in-memory layer, limits 0).

Usage: python bench/e2e_messages.py [--rounds 10] [--block 300] [--sends 200] [--persistent-db]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import json
import time
import uuid
from typing import Any

import websockets

from bench._harness import (
    PERSISTENT_DB,
    PLAIN_APP,
    Daphne,
    latency_summary,
    open_channel,
    open_socket,
    plot,
    prepare_site,
    print_table,
    run,
    write_results,
)
from securemsg.client import SecureChannel
from securemsg.protocol import ping_request

GOAL = 0.90
#: Body sizes of the send -> ack measurement (bytes; 4096 is the protocol maximum).
SEND_SIZES = (64, 1024, 4096)


async def _encrypted_block(channel: SecureChannel, n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        await channel.send_message(ping_request(str(i)))
        reply = await channel.receive()
        times.append(time.perf_counter() - start)
        if reply.get("t") != "pong":
            raise RuntimeError(f"expected pong, got {reply.get('t')}")
    return times


async def _plain_block(socket: websockets.ClientConnection, n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        await socket.send(json.dumps({"t": "ping", "id": str(i)}))
        reply = json.loads(await socket.recv())
        times.append(time.perf_counter() - start)
        if reply.get("t") != "pong":
            raise RuntimeError(f"expected pong, got {reply.get('t')}")
    return times


async def _sends(channel: SecureChannel, to: str, size: int, n: int) -> list[float]:
    body = "x" * size
    times = []
    for _ in range(n):
        start = time.perf_counter()
        ack = await channel.send_text(to, body, request_id=str(uuid.uuid4()))
        times.append(time.perf_counter() - start)
        if ack.get("t") != "ack":
            raise RuntimeError(f"send failed: {ack}")
    return times


async def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="alternating blocks per side")
    parser.add_argument("--block", type=int, default=300, help="round trips per block")
    parser.add_argument("--sends", type=int, default=200, help="send -> ack per body size")
    parser.add_argument(
        "--persistent-db",
        action="store_true",
        help="run the server on bench/settings_persistent_db.py (CONN_MAX_AGE=600)",
    )
    args = parser.parse_args()

    site = prepare_site(users=2)
    alice, bob = list(site.sessions)
    env = PERSISTENT_DB if args.persistent_db else {}
    server = Daphne(site, app=PLAIN_APP, env=env).start()
    try:
        channel = await open_channel(server, site, alice)
        plain = await open_socket(server, site.sessions[alice], "/ws/plain/")
        lean = await open_socket(server, site.sessions[alice], "/ws/plain-lean/")
        await _encrypted_block(channel, 200)  # warm-up
        await _plain_block(plain, 200)
        await _plain_block(lean, 200)
        encrypted: list[float] = []
        clear: list[float] = []
        clear_lean: list[float] = []
        # CPU seconds (server process, this client process) spent per side.
        cpu = {"encrypted": [0.0, 0.0], "plain": [0.0, 0.0], "plain_lean": [0.0, 0.0]}
        for _ in range(args.rounds):
            for side in ("encrypted", "plain", "plain_lean"):
                server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
                if side == "encrypted":
                    encrypted += await _encrypted_block(channel, args.block)
                elif side == "plain":
                    clear += await _plain_block(plain, args.block)
                else:
                    clear_lean += await _plain_block(lean, args.block)
                cpu[side][0] += server.cpu_seconds() - server_cpu
                cpu[side][1] += time.process_time() - client_cpu
        await plain.close()
        await lean.close()
        sends = {size: await _sends(channel, bob, size, args.sends) for size in SEND_SIZES}
        await channel.transport.close()
    finally:
        server.stop()

    enc, pln = latency_summary(encrypted), latency_summary(clear)
    lean_stats = latency_summary(clear_lean)
    ratio = enc["per_second"] / pln["per_second"]
    ratio_lean = enc["per_second"] / lean_stats["per_second"]
    send_stats = {str(size): latency_summary(times) for size, times in sends.items()}
    print_table(
        ["workload", "round trips", "per second", "p50 ms", "p99 ms"],
        [
            ["plaintext JSON ping/pong", pln["n"], pln["per_second"], pln["p50_ms"], pln["p99_ms"]],
            [
                "plaintext, securemsg's dispatch",
                lean_stats["n"],
                lean_stats["per_second"],
                lean_stats["p50_ms"],
                lean_stats["p99_ms"],
            ],
            ["securemsg/1 ping/pong", enc["n"], enc["per_second"], enc["p50_ms"], enc["p99_ms"]],
            *[
                [f"send -> ack, {size} B body", s["n"], s["per_second"], s["p50_ms"], s["p99_ms"]]
                for size, s in send_stats.items()
            ],
        ],
    )
    print(f"\nencrypted / plaintext round trips per second = {ratio:.3f}  (goal >= {GOAL})")
    print(f"encrypted / plaintext with securemsg's dispatch = {ratio_lean:.3f}")
    cpu_us = {
        side: {
            "server_us_per_round_trip": 1e6 * values[0] / (args.rounds * args.block),
            "client_us_per_round_trip": 1e6 * values[1] / (args.rounds * args.block),
        }
        for side, values in cpu.items()
    }
    for side, values in cpu_us.items():
        print(
            f"CPU per round trip, {side}: server {values['server_us_per_round_trip']:.0f} µs,"
            f" client {values['client_us_per_round_trip']:.0f} µs"
        )
    output = {
        "settings": vars(args),
        "plaintext_ping": pln,
        "plaintext_same_dispatch_ping": lean_stats,
        "encrypted_ping": enc,
        "ratio": ratio,
        "ratio_same_dispatch": ratio_lean,
        "goal": GOAL,
        "cpu": cpu_us,
        "send_ack": send_stats,
    }
    name = "e2e_messages-persistent-db" if args.persistent_db else "e2e_messages"
    print(f"wrote {write_results(name, output)}")

    def draw(ax: Any) -> None:
        import numpy as np

        for label, values in (
            ("plaintext JSON", clear),
            ("plaintext, same dispatch", clear_lean),
            ("securemsg/1", encrypted),
        ):
            ordered = np.sort(np.array(values) * 1000)
            ax.plot(ordered, np.linspace(0, 1, len(ordered)), label=label)
        for size, times in sends.items():
            ordered = np.sort(np.array(times) * 1000)
            ax.plot(ordered, np.linspace(0, 1, len(ordered)), "--", label=f"send->ack {size} B")
        ax.set_xscale("log")
        ax.set_xlabel("round-trip latency, ms (log)")
        ax.set_ylabel("fraction of round trips")
        ax.set_title(f"ping/pong on one session: ratio {ratio:.2f} (goal {GOAL})")
        ax.grid(True, alpha=0.3)
        ax.legend()

    plot(name, draw)
    return output


if __name__ == "__main__":
    run(main)
