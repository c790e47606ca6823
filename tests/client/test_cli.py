"""CLI argument parsing, password sources and exit statuses (offline)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from securemsg.client import build_parser, main
from securemsg.client._cli import UsageError, read_password

ROOT = Path(__file__).resolve().parents[2]


def test_parser_commands() -> None:
    parser = build_parser()
    args = parser.parse_args(["--server", "http://x", "--user", "a", "send", "bob", "hi there"])
    assert (args.command, args.to, args.body) == ("send", "bob", "hi there")
    assert parser.parse_args(["--server", "http://x", "chat", "bob"]).history == 20
    assert parser.parse_args(["--server", "http://x", "keys"]).command == "keys"


@pytest.mark.parametrize(
    "argv",
    [[], ["--server", "http://x"], ["--server", "http://x", "dance"], ["send", "bob", "hi"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_send_without_user_is_usage_error(capsys) -> None:
    assert main(["--server", "http://127.0.0.1:1", "send", "bob", "hi"]) == 2
    assert "needs --user" in capsys.readouterr().err


def test_bad_server_url_is_usage_error(capsys) -> None:
    assert main(["--server", "ftp://x", "keys"]) == 2


def test_unreachable_server_exits_6(capsys) -> None:
    assert main(["--server", "http://127.0.0.1:1", "keys"]) == 6
    err = capsys.readouterr().err
    assert err.startswith("securemsg: ") and err.count("\n") == 1


def test_password_sources(tmp_path) -> None:
    args = argparse.Namespace(password_file=None, user="alice")
    assert read_password(args, {"SECUREMSG_PASSWORD": "from-env"}) == "from-env"
    secret = tmp_path / "pw"
    secret.write_text("from-file\nignored\n")
    args.password_file = secret
    assert read_password(args, {"SECUREMSG_PASSWORD": "from-env"}) == "from-file"
    secret.write_text("")
    with pytest.raises(UsageError):
        read_password(args, {})
    args.password_file = tmp_path / "missing"
    with pytest.raises(UsageError):
        read_password(args, {})


def test_keys_command_against_fake_site(fake_site, tmp_path, pin, capsys) -> None:
    pins = tmp_path / "pins.json"
    assert main(["--server", fake_site.origin, "--pin-file", str(pins), "keys"]) == 0
    out = capsys.readouterr().out
    assert "sig-1\tsig\tactive" in out and "enc-1\tenc" in out
    assert main(["--server", fake_site.origin, "--pin", pin, "keys"]) == 0
    assert f"{pin}\ttrusted" in capsys.readouterr().out


def test_keys_command_refuses_unendorsed_change(fake_site, tmp_path, keys, capsys) -> None:
    from securemsg.protocol import fingerprint, spki_der

    other = fingerprint(spki_der(keys.other.public_key()))
    assert main(["--server", fake_site.origin, "--pin", other, "keys"]) == 4
    assert "REFUSING" in capsys.readouterr().err


def test_wrong_password_exits_3(fake_site, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SECUREMSG_PASSWORD", "wrong")
    argv = ["--server", fake_site.origin, "--user", "alice", "--pin-file", str(tmp_path / "p")]
    assert main([*argv, "send", "bob", "hi"]) == 3
    err = capsys.readouterr().err
    assert "refused" in err and "wrong" not in err.split("alice")[0]


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "securemsg.client", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "Exit status" in result.stdout
