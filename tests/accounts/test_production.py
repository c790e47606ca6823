"""The production profile, run in subprocesses so its settings are really loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("prod_headers_probe.py")


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECUREMSG_", "DJANGO_"))}
    env.update(
        SECUREMSG_ENV="production",
        SECRET_KEY="p" * 20 + "-production-secret-for-tests-only-0123456789",
        ALLOWED_HOSTS="testserver,chat.example.org",
        SECUREMSG_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONPATH=str(ROOT),
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def _manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean(tmp_path: Path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_missing_secret_key_stops_with_clear_message(tmp_path: Path):
    result = _manage(tmp_path, "check", SECRET_KEY="")
    assert result.returncode == 2
    assert "SECRET_KEY is required" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECUREMSG_ENV": "staging"}, "SECUREMSG_ENV"),
        ({"SECUREMSG_HSTS_SECONDS": "a year"}, "SECUREMSG_HSTS_SECONDS"),
        ({"DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL"),
    ],
)
def test_bad_setting_names_the_variable(tmp_path: Path, overrides: dict[str, str], variable: str):
    result = _manage(tmp_path, "check", **overrides)
    assert result.returncode == 2, result.stderr
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_security_headers_in_production(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(PROBE), "/accounts/login/", "/", "/admin/login/"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    pages = json.loads(result.stdout)
    for path in ("/accounts/login/", "/", "/admin/login/"):
        headers = pages[path]["headers"]
        csp = headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert "default-src 'self'" in csp, path
        assert (
            headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        )
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
    cookies = pages["/accounts/login/"]["cookies"]
    assert cookies["csrftoken"] == {"secure": True, "httponly": True}
    # Plain HTTP is redirected to HTTPS.
    assert pages["plain-http"]["status"] == 301
    assert pages["plain-http"]["location"].startswith("https://")
