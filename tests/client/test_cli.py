"""CLI argument parsing, password sources and exit statuses (offline)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from securemsg.client import build_parser, main
from securemsg.client._cli import read_password
from securemsg.client._errors import UsageError

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


def test_listen_history_and_send_options_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["--server", "http://x", "listen", "--count", "3", "--timeout", "2.5"])
    assert (args.count, args.timeout) == (3, 2.5)
    args = parser.parse_args(["--server", "http://x", "listen"])
    assert (args.count, args.timeout) == (None, None)
    args = parser.parse_args(["--server", "http://x", "history", "bob", "--before", "m1"])
    assert (args.peer, args.limit, args.before) == ("bob", 50, "m1")
    args = parser.parse_args(["--server", "http://x", "send", "bob", "hi", "--id", "r-1"])
    assert args.request_id == "r-1"


def test_help_documents_the_bounded_listen(capsys) -> None:
    assert main(["--server", "http://x", "listen", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--count N" in out and "--timeout SECONDS" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["listen", "--count", "0"],
        ["listen", "--timeout", "-1"],
        ["history", "bob", "--limit", "101"],
        ["chat", "bob", "--history", "0"],
        ["send", "bob", "x" * 4097],
        ["send", "bob", "\udcff"],  # not UTF-8 (an undecodable argv byte)
        ["send", "bob", "hi", "--id", "i" * 65],
    ],
)
def test_bad_option_values_exit_2_before_signing_in(argv: list[str], capsys) -> None:
    # Port 1 is never reached: the values are checked first.
    assert main(["--server", "http://127.0.0.1:1", "--user", "alice", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("securemsg: ") and "Traceback" not in err


def test_malformed_pin_is_a_usage_error(fake_site, capsys) -> None:
    assert main(["--server", fake_site.origin, "--pin", "not-hex", "keys"]) == 2
    assert "--pin" in capsys.readouterr().err


def test_server_text_is_printed_without_control_characters() -> None:
    from securemsg.client._commands import format_message, printable

    assert printable("plain text, ünïcode ✓") == "plain text, ünïcode ✓"
    line = format_message(
        {"ts": "t", "from": "eve\x1b[2J", "to": "bob", "body": "hi\r\nforged line\x07"}
    )
    assert "\x1b" not in line and "\r" not in line and "\n" not in line and "\x07" not in line
    assert line == "[t] eve\\x1b[2J -> bob: hi\\r\\nforged line\\x07"
