"""The environment readers behind the settings."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from securemsg._env import env_bool, env_int, env_list, load_or_create_secret_key


def test_secret_key_file_is_created_private_and_reused(tmp_path: Path):
    path = tmp_path / "sub" / "secret_key"
    first = load_or_create_secret_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 50
    assert load_or_create_secret_key(path) == first


def test_world_readable_secret_key_is_refused(tmp_path: Path):
    path = tmp_path / "secret_key"
    load_or_create_secret_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        load_or_create_secret_key(path)


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("TRUE", True), ("off", False), ("0", False)]
)
def test_env_bool(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not expected) is expected


@pytest.mark.parametrize(
    ("reader", "raw"), [(lambda: env_bool("X_V", False), "maybe"), (lambda: env_int("X_V", 1), "x")]
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, reader, raw: str):
    monkeypatch.setenv("X_V", raw)
    with pytest.raises(ImproperlyConfigured, match="X_V"):
        reader()


def test_env_int_minimum_and_list(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("X_N", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("X_N", 3)
    monkeypatch.setenv("X_L", " a, ,b ")
    assert env_list("X_L", []) == ["a", "b"]
