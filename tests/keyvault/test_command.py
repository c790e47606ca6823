"""manage.py keyvault: output, idempotence and the documented exit statuses."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from keyvault.models import ServerKey

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    out = StringIO()
    call_command("keyvault", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def fails(*args):
    with pytest.raises(CommandError) as info:
        run(*args)
    return info.value


def test_init_is_idempotent(vault_settings):
    first = run("init")
    assert "Created master key version 1" in first and "sig-1" in first and "enc-1" in first
    assert "nothing to create" in run("init")
    assert ServerKey.objects.count() == 2


def test_rotate_status_and_due(vault):
    assert "sig-2 is active" in run("rotate", "--purpose", "signing")
    assert "enc-2" in run("rotate")  # both purposes
    assert "Nothing due." in run("rotate", "--due")
    status = run("status")
    assert "sig-1" in status and "retiring" in status and "rotate in" in status
    assert "master v1" in status and "[primary]" in status


def test_master_add_rewrap_and_min_version(vault):
    assert "Added master version 2" in run("master-add")
    assert "under master version 2" in run("rewrap")
    assert "Re-wrapped 0 server key(s)" in run("rewrap")  # idempotent
    assert "Disabled master version(s): 1" in run("master-min-version", "2")
    assert fails("rewrap", "--to-version", "1").returncode == 3


def test_min_version_refused_while_keys_use_it(vault):
    run("master-add")
    error = fails("master-min-version", "2")
    assert error.returncode == 3 and "rewrap" in str(error)


def test_master_compromised(vault):
    out = run("master-compromised", "1")
    assert "re-wrapped under version 2" in out
    assert set(ServerKey.objects.values_list("master_version", flat=True)) == {2}


def test_key_actions_and_illegal_transition_status(vault):
    run("rotate", "--purpose", "encryption")
    assert "enc-1: disabled" in run("disable", "enc-1")
    assert "pending_deletion" in run("destroy", "enc-1")
    assert "enc-1: disabled" in run("cancel-deletion", "enc-1")
    error = fails("reenable", "enc-2")
    assert error.returncode == 8 and "enc-2" in str(error)
    assert fails("disable", "nope-9").returncode == 6
    assert "not endorsed" in run("compromised", "sig-1")


def test_missing_master_key_exit_status_and_nothing_created(vault, vault_settings):
    os.unlink(vault_settings.KEYVAULT_MASTER_KEY_FILE)
    from keyvault import reset_caches

    reset_caches()
    error = fails("init")
    assert error.returncode == 3
    assert not Path(vault_settings.KEYVAULT_MASTER_KEY_FILE).exists()


def test_configuration_error_exit_status(vault_settings):
    vault_settings.KEYVAULT_BACKEND = "nonsense"
    error = fails("status")
    assert error.returncode == 2 and "SECUREMSG_KMS_BACKEND" in str(error)


def test_real_process_prints_one_line_and_no_traceback(tmp_path):
    env = dict(os.environ)
    env.update(
        SECUREMSG_DATA_DIR=str(tmp_path),
        SECUREMSG_KMS_BACKEND="passphrase",
        SECUREMSG_MASTER_PASSPHRASE="",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "keyvault", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "SECUREMSG_MASTER_PASSPHRASE" in result.stderr


def test_bootstrap_creates_the_master_key_on_first_start_only(vault_settings):
    out = StringIO()
    call_command("bootstrap", stdout=out)
    assert "Created master key version 1" in out.getvalue()
    assert Path(vault_settings.KEYVAULT_MASTER_KEY_FILE).exists()
    call_command("bootstrap", stdout=StringIO())
    os.unlink(vault_settings.KEYVAULT_MASTER_KEY_FILE)
    from keyvault import reset_caches

    reset_caches()
    with pytest.raises(CommandError) as info:
        call_command("bootstrap", stdout=StringIO())
    assert info.value.returncode == 3
    assert not Path(vault_settings.KEYVAULT_MASTER_KEY_FILE).exists()


def test_unmigrated_database_is_one_line(tmp_path):
    # A database of its own that was never migrated (whatever the test backend).
    env = dict(
        os.environ,
        SECUREMSG_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "keyvault", "status"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "migrated" in result.stderr
