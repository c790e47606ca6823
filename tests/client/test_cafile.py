"""``--cafile``: the client trusts a private CA for https and wss (docs/client.md).

An https fake site (the sign-in form and keys.json) whose certificate a
throwaway CA signed: with ``--cafile`` pointing at that CA the client
talks to it; without, the system's trust store refuses it (exit 6). The
same option over wss through nginx is tested in tests/scaleout/tls/.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from securemsg.client import Server, main
from tests.support.tls import ThrowawayPKI, make_throwaway_pki

from .conftest import FakeSite, serve_fake_site


@pytest.fixture
def pki(tmp_path: Path) -> ThrowawayPKI:
    return make_throwaway_pki(tmp_path / "pki")


@pytest.fixture
def tls_site(key_set: Any, pki: ThrowawayPKI) -> Iterator[FakeSite]:
    """The fake site over https, with the throwaway CA's certificate for 127.0.0.1."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    with serve_fake_site(key_set, tls=context) as site:
        yield site


def test_cafile_makes_the_private_ca_trusted(tls_site, pki, tmp_path, capsys) -> None:
    pins = str(tmp_path / "pins.json")
    argv = ["--server", tls_site.origin, "--pin-file", pins, "--cafile", str(pki.ca_cert), "keys"]
    assert main(argv) == 0
    assert "sig-1\tsig\tactive" in capsys.readouterr().out


def test_without_cafile_the_certificate_is_refused(tls_site, tmp_path, capsys) -> None:
    assert main(["--server", tls_site.origin, "--pin-file", str(tmp_path / "p"), "keys"]) == 6
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err


def test_cafile_of_another_ca_is_refused(tls_site, tmp_path, capsys) -> None:
    other = make_throwaway_pki(tmp_path / "other")
    argv = ["--server", tls_site.origin, "--cafile", str(other.ca_cert), "keys"]
    assert main(argv) == 6
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("server", "cafile", "words"),
    [
        ("http://127.0.0.1:1", "ca.pem", "--cafile needs an https:// server"),
        ("https://127.0.0.1:1", "missing.pem", "cannot use --cafile"),
        ("https://127.0.0.1:1", "not-pem.pem", "cannot use --cafile"),
    ],
)
def test_unusable_cafile_is_a_usage_error(
    server: str, cafile: str, words: str, pki, tmp_path, capsys
) -> None:
    (tmp_path / "ca.pem").write_bytes(pki.ca_cert.read_bytes())
    (tmp_path / "not-pem.pem").write_text("not a certificate\n")
    assert main(["--server", server, "--cafile", str(tmp_path / cafile), "keys"]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_library_server_carries_the_context(pki) -> None:
    server = Server.from_url("https://127.0.0.1:8443/ignored", cafile=pki.ca_cert)
    assert server.ssl_context is not None
    assert server.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert server.ssl_context.check_hostname
    assert Server.from_url("https://127.0.0.1:8443").ssl_context is None
