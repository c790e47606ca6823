"""Measure the cost of one password hash with securemsg's Argon2id parameters.

Prints a table comparing our parameters with OWASP's minimum (m=19 MiB,
t=2, p=1) measured in the same run, and writes bench/results/argon2_cost.json.
Run: .venv/bin/python bench/argon2_cost.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import argon2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(hasher: argon2.PasswordHasher, rounds: int) -> list[float]:
    """Seconds per hash over ``rounds`` hashes (after one warm-up)."""
    hasher.hash("warm-up password")
    times = []
    for i in range(rounds):
        start = time.perf_counter()
        hasher.hash(f"correct-horse-battery-staple-{i}")
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    from accounts.hashers import SecuremsgArgon2Hasher as Ours

    configs = {
        "securemsg": argon2.PasswordHasher(
            time_cost=Ours.time_cost, memory_cost=Ours.memory_cost, parallelism=Ours.parallelism
        ),
        "owasp-minimum": argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1),
    }
    results = {}
    for name, hasher in configs.items():
        times = measure(hasher, args.rounds)
        results[name] = {
            "m_kib": hasher.memory_cost,
            "t": hasher.time_cost,
            "p": hasher.parallelism,
            "median_ms": statistics.median(times) * 1000,
            "p90_ms": sorted(times)[int(len(times) * 0.9) - 1] * 1000,
            "hashes_per_second": 1 / statistics.median(times),
        }
    ratio = results["securemsg"]["median_ms"] / results["owasp-minimum"]["median_ms"]
    print(
        f"{'config':<15}{'m (KiB)':>9}{'t':>3}{'p':>3}{'median ms':>11}{'p90 ms':>9}{'hash/s':>8}"
    )
    for name, row in results.items():
        print(
            f"{name:<15}{row['m_kib']:>9}{row['t']:>3}{row['p']:>3}"
            f"{row['median_ms']:>11.1f}{row['p90_ms']:>9.1f}{row['hashes_per_second']:>8.1f}"
        )
    print(f"cost ratio securemsg / OWASP minimum: {ratio:.2f}  (cores: {os.cpu_count()})")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "argon2_cost.json").write_text(
        json.dumps({"results": results, "ratio": ratio}, indent=2)
    )


if __name__ == "__main__":
    main()
