"""Command options that take a path: a bad path is a one-line error, never a traceback.

The commands run as the operator, who can already write anywhere the
process can, so a path is not a privilege boundary; what matters is that
a wrong path (a directory, a missing directory, a device, a file that is
not an export, ``..`` components, a symlink onto an existing file) fails
with ``CommandError`` and a message, and that ``export`` never silently
truncates a file it was not meant to overwrite. ``keyvault`` has no path
options (its key files come from settings, checked at start-up).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from securemsg.audit import record


@pytest.fixture
def events(db: None) -> None:
    for index in range(3):
        record("auth.login_failed", outcome="failure", details={"username": f"u{index}"})


@pytest.mark.parametrize(
    "make_path",
    [
        lambda tmp: tmp,  # a directory
        lambda tmp: tmp / "missing-dir" / "export.jsonl",
        lambda tmp: Path("/proc/version"),  # not writable
        lambda tmp: tmp / "a" / ".." / ".." / "missing" / "x.jsonl",
    ],
    ids=["directory", "missing-directory", "proc-file", "dotdot-missing"],
)
def test_export_to_a_bad_path_is_a_command_error(
    events: None, tmp_path: Path, make_path: Any
) -> None:
    with pytest.raises(CommandError) as info:
        call_command("audit", "export", "--output", str(make_path(tmp_path)))
    assert str(info.value).strip()


def test_export_does_not_follow_a_symlink_onto_another_file(events: None, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "export.jsonl"
    link.symlink_to(victim)
    try:
        call_command("audit", "export", "--output", str(link))
    except CommandError:
        pass
    assert victim.read_text() == "keep me\n"


@pytest.mark.parametrize(
    "make_path",
    [
        lambda tmp: tmp,  # a directory
        lambda tmp: tmp / "missing.jsonl",
        lambda tmp: Path("/etc/passwd"),  # text, not an export
        lambda tmp: Path("/dev/null"),  # empty
        lambda tmp: tmp / ".." / ".." / "nonexistent" / "x.jsonl",
    ],
    ids=["directory", "missing", "not-an-export", "empty-device", "dotdot-missing"],
)
def test_verify_file_with_a_bad_path_is_a_command_error(
    events: None, tmp_path: Path, make_path: Any
) -> None:
    with pytest.raises(CommandError) as info:
        call_command("audit", "verify", "--file", str(make_path(tmp_path)))
    assert str(info.value).strip()


def test_verify_file_with_a_deeply_nested_header_is_a_command_error(
    events: None, tmp_path: Path
) -> None:
    bombs = tmp_path / "bombs.jsonl"
    bombs.write_text("[" * 100_000 + "\n" + '{"seq": ' + "9" * 10_000 + "}\n")
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--file", str(bombs))


def test_export_then_verify_round_trip_still_works(events: None, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    call_command("audit", "export", "--output", str(out))
    assert out.stat().st_size > 0
    assert oct(os.stat(out).st_mode & 0o777)
    call_command("audit", "verify", "--file", str(out))


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"type":"event",' + "[" * 100_000,
        '{"type":"event","seq":1',
        '{"type":"event"}',
        '{"type":"event","seq":' + "9" * 10_000 + "}",
    ],
    ids=["deep-nesting", "truncated", "missing-fields", "huge-number"],
)
def test_verify_file_with_a_bad_event_line_is_a_command_error(
    events: None, tmp_path: Path, bad_line: str
) -> None:
    out = tmp_path / "export.jsonl"
    call_command("audit", "export", "--output", str(out))
    lines = out.read_text().splitlines()
    event = next(i for i, line in enumerate(lines) if line.startswith('{"type":"event"'))
    lines[event] = bad_line
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--file", str(out))
