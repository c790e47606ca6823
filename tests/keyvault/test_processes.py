"""Across processes: rewrap survives SIGKILL mid-run; other processes see a rotation at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import keyvault
from keyvault.models import DataKey, ServerKey
from tests.support.db_faults import shared_database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _env(settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=shared_database_url(),
        SECUREMSG_KMS_BACKEND="local",
        SECUREMSG_MASTER_KEY_FILE=settings.KEYVAULT_MASTER_KEY_FILE,
        SECUREMSG_KEY_ALGORITHM="RSA-2048",
        DJANGO_SETTINGS_MODULE="securemsg.settings",
    )
    return env


def _every_key_decrypts(handles):
    keyvault.reset_caches()
    for kid in ServerKey.objects.values_list("kid", flat=True):
        from keyvault.internal.access import private_key

        assert private_key(kid).key_size == 2048
    for handle in handles:
        assert keyvault.open_data_key(handle.key_id, purpose="message") == handle.key


def test_rewrap_killed_mid_run_leaves_every_key_usable_and_rerun_completes(vault, settings):
    keyvault.rotate("signing")
    keyvault.rotate("encryption")
    handles = [keyvault.new_data_key("message", f"c{i}") for i in range(4)]
    assert keyvault.add_master_version() == 2
    env = _env(settings) | {"SECUREMSG_TEST_REWRAP_SLEEP": "0.4"}
    with subprocess.Popen(
        [sys.executable, "manage.py", "keyvault", "rewrap"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        # Wait until some, but not all, rows have moved, then kill without warning.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if ServerKey.objects.filter(master_version=2).count() >= 2:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    versions = set(ServerKey.objects.values_list("master_version", flat=True))
    versions |= set(DataKey.objects.values_list("master_version", flat=True))
    assert versions == {1, 2}, "the kill should land mid-run"
    _every_key_decrypts(handles)

    rerun = subprocess.run(
        [sys.executable, "manage.py", "keyvault", "rewrap"],
        cwd=ROOT,
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "every key is now under it" in rerun.stdout
    assert set(ServerKey.objects.values_list("master_version", flat=True)) == {2}
    assert set(DataKey.objects.values_list("master_version", flat=True)) == {2}
    _every_key_decrypts(handles)
    again = keyvault.rewrap()
    assert (again.server_keys, again.data_keys) == (0, 0)


WATCHER = """
import sys, time, django
django.setup()
import keyvault
print(keyvault.sign_checkpoint(b"x")[0], flush=True)
sys.stdin.readline()
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    kid = keyvault.sign_checkpoint(b"x")[0]
    if kid != "sig-1":
        break
    time.sleep(0.05)
print(kid, round(5 - (deadline - time.monotonic()), 2), flush=True)
"""


def test_a_second_process_sees_a_rotation_within_seconds(vault, settings):
    with subprocess.Popen(
        [sys.executable, "-c", WATCHER],
        cwd=ROOT,
        env=_env(settings),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "sig-1"  # cached in the other process
        keyvault.rotate("signing")
        proc.stdin.write("\n")
        proc.stdin.flush()
        kid, seconds = proc.stdout.readline().split()
        proc.wait(timeout=10)
    assert kid == "sig-2"
    assert float(seconds) <= 2.0
