"""Fill 1,000,000 audit events into a temporary SQLite file and time the admin list and verify.

Usage: ``.venv/bin/python bench/audit_million.py [--rows N]``. Prints a table
and writes ``bench/results/audit_million-<time>.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = [
    ("auth.login_succeeded", "success", 40),
    ("auth.login_failed", "failure", 25),
    ("auth.logout", "success", 20),
    ("handshake.completed", "success", 10),
    ("ratelimit.hit", "denied", 3),
    ("key.rotated", "success", 1),
    ("record.rejected", "failure", 1),
]


def _setup(data_dir: Path) -> None:
    os.environ["SECUREMSG_DATA_DIR"] = str(data_dir)
    os.environ["ALLOWED_HOSTS"] = "testserver"
    # The bench times the admin pages, not the two-factor step in front of them.
    os.environ["SECUREMSG_STAFF_OTP_REQUIRED"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "securemsg.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # A real vault and one real event: the audit key exists and the chain has
    # a head, so the bulk rows below continue a chain the writer started.
    call_command("keyvault", "init", verbosity=0)
    from securemsg import audit

    audit.record("audit.checkpoint", target_type="bench", target_id="start")


def _fill(rows: int) -> float:
    """Bulk insert ``rows`` events as the writer would: chain hash, MAC, second-sink lines."""
    from django.db import connection, transaction

    from securemsg.audit.app_settings import app_settings
    from securemsg.audit.internal import auditkey
    from securemsg.audit.internal.canonical import chain_hash, format_ts
    from securemsg.audit.internal.filesink import event_line
    from securemsg.audit.models import ChainHead

    key = auditkey.load("default")
    assert key is not None, "the audit key was not created"
    head = ChainHead.objects.get(pk=1)
    first = head.seq + 1
    sink = app_settings.FILE.open("ab")

    rng = random.Random(5)
    names = [name for name, _o, weight in EVENTS for _ in range(weight)]
    outcome = {name: o for name, o, _w in EVENTS}
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / rows
    prev = head.hash
    started = time.perf_counter()
    sql = (
        "INSERT INTO audit_auditevent (seq, ts, event, outcome, actor_id, actor_username, ip,"
        " user_agent, target_type, target_id, details, prev_hash, hash, mac, audit_key_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    batch: list[tuple[Any, ...]] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for seq in range(first, first + rows):
            event = rng.choice(names)
            user = rng.randrange(1, 5000)
            ts = start + step * seq
            row = {
                "seq": seq,
                "ts": format_ts(ts),
                "event": event,
                "outcome": outcome[event],
                "actor_id": None if event == "auth.login_failed" else user,
                "actor_username": "" if event == "auth.login_failed" else f"user{user}",
                "ip": f"10.{user % 256}.{(user >> 8) % 256}.{seq % 250 + 1}",
                "user_agent": "Mozilla/5.0 (bench)",
                "target_type": "user",
                "target_id": str(user),
                "details": {"username": f"user{user}"} if event == "auth.login_failed" else {},
            }
            digest = chain_hash(prev, row)
            mac = key.mac(digest)
            links = {"prev_hash": prev, "hash": digest, "mac": mac, "audit_key_id": key.key_id}
            sink.write(event_line({**row, **links}))
            sink.write(f'{{"type":"commit","seq":{seq},"hash":"{digest}"}}\n'.encode())
            batch.append(
                (
                    seq,
                    ts.replace(tzinfo=None).isoformat(sep=" "),
                    event,
                    row["outcome"],
                    row["actor_id"],
                    row["actor_username"],
                    row["ip"],
                    row["user_agent"],
                    "user",
                    row["target_id"],
                    json.dumps(row["details"]),
                    prev,
                    digest,
                    mac,
                    key.key_id,
                )
            )
            prev = digest
            if len(batch) == 20_000:
                cursor.executemany(sql, batch)
                batch.clear()
        cursor.executemany(sql, batch)
        cursor.execute(
            "UPDATE audit_chainhead SET seq = %s, hash = %s WHERE id = 1", [first + rows - 1, prev]
        )
    sink.close()
    return time.perf_counter() - started


def _time_pages(rows: int) -> dict[str, float]:
    from django.test import Client

    from accounts.models import User

    admin = User.objects.create_superuser("bench", password=None)
    client = Client()
    client.force_login(admin)
    today = datetime.now(UTC).date()
    urls = {
        "list (no filter)": "/admin/audit/auditevent/",
        "list ?event=auth.login_failed": "/admin/audit/auditevent/?event=auth.login_failed",
        "list ?event+outcome+7 days": "/admin/audit/auditevent/?event=auth.login_failed"
        f"&outcome=failure&ts_from={today - timedelta(days=7)}",
        "list ?actor=user42": "/admin/audit/auditevent/?actor=user42",
        "list search ?q=10.42.0.7": "/admin/audit/auditevent/?q=10.42.0.7",
        f"list page {max(1, min(500, rows // 100))}": "/admin/audit/auditevent/"
        f"?p={max(1, min(500, rows // 100))}",
        "dashboard": "/admin/audit/auditevent/dashboard/",
    }
    timings = {}
    for label, url in urls.items():
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            response = client.get(url)
            best = min(best, time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
        timings[label] = best
    return timings


def _time_verify() -> tuple[float, bool]:
    from securemsg.audit.internal.sources import verify_database

    started = time.perf_counter()
    result = verify_database()
    return time.perf_counter() - started, result.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    try:
        _setup(data_dir)
        fill = _fill(args.rows)
        pages = _time_pages(args.rows)
        verify, ok = _time_verify()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    results = {
        "rows": args.rows,
        "fill_seconds": round(fill, 2),
        "pages_seconds_best_of_3": {k: round(v, 4) for k, v in pages.items()},
        "verify_seconds": round(verify, 2),
        "verify_rows_per_second": round(args.rows / verify),
        "verify_ok": ok,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
    }
    print(f"{'measure':40} {'seconds':>10}")
    print(f"{'fill (bulk, chain computed)':40} {fill:>10.2f}")
    for label, seconds in pages.items():
        print(f"{label:40} {seconds:>10.4f}")
    print(f"{'audit verify (whole chain)':40} {verify:>10.2f}  ok={ok}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"audit_million-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
