"""bench/fuzz_protocol.py runs, reports its count, and exits 0 on a small budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fuzz_script_reports_frames_and_no_findings() -> None:
    result = subprocess.run(
        [sys.executable, "bench/fuzz_protocol.py", "--frames", "3000", "--max-seconds", "60"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["frames"] >= 3000
    assert report["forgeries_accepted"] == 0
    assert report["exceptions_not_protocol_error"] == {}
    assert report["fresh_handshake_after"] is True
    assert sum(report["refusals_by_error"].values()) > 100
