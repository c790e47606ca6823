#!/usr/bin/env python3
"""securemsg vs the seed article's Node.js peer (Express + socket.io 1.7 + node-rsa), one run.

The peer (bench/peer_node/server.js, written from the article's description,
see its header) is installed with npm at bench time and driven by its own
Node load client (socket.io-client 1.7), over the websocket-only transport
and socket.io's default (long polling, then upgrade). A peer "handshake" is
connect until the first AES reply decrypts; a round trip is one AES-CBC
message and its fixed encrypted reply. securemsg is measured in the same run
as shipped (one Daphne process, SQLite, limits 0) with the Python client: a
handshake is connect + securemsg/1 handshake + the first encrypted ping/pong;
a round trip is an encrypted ping/pong. The peer does far less (no server
authentication, no MAC, RSA-2048 with OAEP-SHA-1, no sign-in, no audit log).

Usage: python bench/e2e_peer.py [--handshakes 200] [--concurrency 16] [--round-trips 2000]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench._harness import (
    ROOT,
    Daphne,
    Site,
    free_port,
    latency_summary,
    open_channel,
    plot,
    prepare_site,
    print_table,
    run,
    write_results,
)
from securemsg.protocol import ping_request

PEER = ROOT / "bench" / "peer_node"
#: A client run may take this long (count and --seconds bound it first).
NODE_TIMEOUT = 300


def _npm_install() -> None:
    if (PEER / "node_modules" / "socket.io").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is missing (apt-get install npm)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True, timeout=600)


def _key_files(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(65537, 2048)
    private, public = directory / "client-key.pem", directory / "client-pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _peer(args: argparse.Namespace) -> list[dict[str, Any]]:
    _npm_install()
    directory = Path(tempfile.mkdtemp(prefix="securemsg-peer-"))
    private, public = _key_files(directory)
    port = free_port()
    server = subprocess.Popen(
        ["node", "server.js", str(port), str(public)],
        cwd=PEER,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        results = []
        for transport in ("websocket", "default"):
            done = subprocess.run(
                [
                    "node",
                    "client.js",
                    f"http://127.0.0.1:{port}",
                    str(private),
                    transport,
                    str(args.handshakes),
                    str(args.concurrency),
                    str(args.round_trips),
                    str(args.seconds),
                ],
                cwd=PEER,
                capture_output=True,
                text=True,
                timeout=NODE_TIMEOUT,
                check=True,
            )
            data = json.loads(done.stdout.strip().splitlines()[-1])
            seconds = [ms / 1000 for ms in data["round_trips_ms"]]
            results.append(
                {
                    "system": f"seed peer, socket.io {transport}",
                    "handshakes": data["handshakes"],
                    "round_trips": latency_summary(seconds),
                }
            )
        return results
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


async def _ours(args: argparse.Namespace) -> dict[str, Any]:
    site: Site = prepare_site(users=args.concurrency)
    users = list(site.sessions)
    keys = [rsa.generate_private_key(65537, 2048) for _ in range(32)]
    server = Daphne(site).start()
    try:
        issued = done = failed = 0
        deadline = time.monotonic() + args.seconds

        async def worker() -> None:
            nonlocal issued, done, failed
            while issued < args.handshakes and time.monotonic() < deadline:
                index = issued
                issued += 1
                try:
                    channel = await open_channel(
                        server, site, users[index % len(users)], keys[index % len(keys)]
                    )
                    await channel.send_message(ping_request("first"))
                    await channel.receive()
                    await channel.transport.close()
                    done += 1
                except Exception:  # counted in the table
                    failed += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - start
        channel = await open_channel(server, site, users[0], keys[0])
        times = []
        for i in range(args.round_trips):
            if time.monotonic() > deadline + args.seconds:
                break
            t = time.perf_counter()
            await channel.send_message(ping_request(str(i)))
            await channel.receive()
            times.append(time.perf_counter() - t)
        await channel.transport.close()
    finally:
        server.stop()
    return {
        "system": "securemsg/1 (Daphne, Python client)",
        "handshakes": {
            "completed": done,
            "failed": failed,
            "seconds": elapsed,
            "per_second": done / elapsed,
        },
        "round_trips": latency_summary(times),
    }


async def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60, help="time cap per part")
    args = parser.parse_args()

    rows = [*_peer(args), await _ours(args)]
    ours = rows[-1]
    print_table(
        ["system", "handshakes/s", "failed", "round trips/s", "p50 ms", "p99 ms"],
        [
            [
                r["system"],
                r["handshakes"]["per_second"],
                r["handshakes"]["failed"],
                r["round_trips"]["per_second"],
                r["round_trips"]["p50_ms"],
                r["round_trips"]["p99_ms"],
            ]
            for r in rows
        ],
    )
    for peer in rows[:-1]:
        print(
            f"securemsg / {peer['system']}: handshakes"
            f" {ours['handshakes']['per_second'] / peer['handshakes']['per_second']:.2f},"
            f" round trips"
            f" {ours['round_trips']['per_second'] / peer['round_trips']['per_second']:.2f}"
        )
    output = {"settings": vars(args), "rows": rows}
    print(f"wrote {write_results('e2e_peer', output)}")

    def draw(ax: Any) -> None:
        names = [r["system"].replace(" (", "\n(").replace(", ", "\n") for r in rows]
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r["handshakes"]["per_second"] for r in rows], 0.4)
        ax.set_ylabel("handshakes per second (left bars)")
        twin = ax.twinx()
        twin.bar(
            [i + 0.2 for i in x],
            [r["round_trips"]["per_second"] for r in rows],
            0.4,
            color="#2e8b57",
        )
        twin.set_ylabel("sequential round trips per second (right bars)")
        ax.set_xticks(list(x), names, fontsize=8)
        ax.set_title("securemsg vs the seed article's socket.io + node-rsa peer")

    plot("e2e_peer", draw)
    return output


if __name__ == "__main__":
    run(main)
