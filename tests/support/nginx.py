"""Debian's nginx running docs/deployment.md's configuration, for live tests.

The site configuration is the ```nginx block of docs/deployment.md, with only
the ports, file paths and server name swapped for test ones; every swapped
text must be present in the block, so a change to the documented
configuration fails here loudly instead of being tested half. The main
configuration around it is what Debian's ``/etc/nginx/nginx.conf`` provides
(``mime.types``), with paths under the test's directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.daphne_server import ROOT
from tests.support.ports import free_port, stop_process, wait_for_port
from tests.support.tls import ThrowawayPKI

__all__ = ["DEPLOYMENT_DOC", "NginxProxy", "documented_site", "nginx_path"]

DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
#: Where the documented block expects the workers, the certificate and the static files.
DOC_UPSTREAMS = ("127.0.0.1:8001", "127.0.0.1:8002")
DOC_CERT = "/etc/letsencrypt/live/chat.example.org/fullchain.pem"
DOC_KEY = "/etc/letsencrypt/live/chat.example.org/privkey.pem"
DOC_STATIC = "/var/lib/securemsg/static/"
DOC_SERVER_NAME = "chat.example.org"
#: Seconds nginx gets to start listening.
START_TIMEOUT = 20.0


def nginx_path() -> str:
    """Debian's nginx binary (in /usr/sbin, often outside PATH); raises if missing."""
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    return path


def documented_site() -> str:
    """The ```nginx block of docs/deployment.md, as an operator would copy it."""
    found = re.search(r"```nginx\n(.*?)```", DEPLOYMENT_DOC.read_text("utf-8"), re.S)
    if found is None:
        raise AssertionError("docs/deployment.md has no ```nginx block")
    return found.group(1)


def _swap(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(f"docs/deployment.md's nginx block no longer contains {old!r}")
    return text.replace(old, new)


@dataclass
class NginxProxy:
    """nginx with the documented site in front of the Daphne ports ``upstreams``.

    It listens on 127.0.0.1 only: ``https_port`` (the documented 443) and
    ``http_port`` (the documented 80, which redirects to https).
    """

    directory: Path
    upstreams: Sequence[int]
    pki: ThrowawayPKI
    static_root: Path
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        """``https://127.0.0.1:PORT``, the origin browsers and clients use."""
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def plain_origin(self) -> str:
        """``http://127.0.0.1:PORT``, the documented port 80."""
        return f"http://127.0.0.1:{self.http_port}"

    def site_config(self) -> str:
        """The documented block with test ports and paths."""
        if len(self.upstreams) != len(DOC_UPSTREAMS):
            raise ValueError(f"the documented upstream has {len(DOC_UPSTREAMS)} workers")
        site = documented_site()
        for documented, port in zip(DOC_UPSTREAMS, self.upstreams, strict=True):
            site = _swap(site, f"server {documented} ", f"server 127.0.0.1:{port} ")
        # IPv6 may be missing on a test machine; the IPv4 lines stay.
        site = _swap(site, "listen [::]:443 ssl http2;", "")
        site = _swap(site, "listen [::]:80;", "")
        site = _swap(
            site, "listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;"
        )
        site = _swap(site, "listen 80;", f"listen 127.0.0.1:{self.http_port};")
        site = _swap(site, DOC_CERT, str(self.pki.server_cert))
        site = _swap(site, DOC_KEY, str(self.pki.server_key))
        site = _swap(site, DOC_STATIC, f"{self.static_root}/")
        return _swap(site, DOC_SERVER_NAME, "127.0.0.1")

    def main_config(self) -> str:
        """Debian's nginx.conf, reduced to what the site needs, with paths in ``directory``."""
        base = self.directory
        # Run as root (a container), nginx would switch its workers to "nobody",
        # who cannot read the test's 0700 temporary directories.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = " ".join(
            f"{name}_temp_path {base}/{name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"daemon off;\n{user}worker_processes 1;\npid {base}/nginx.pid;\n"
            f"error_log {base}/error.log warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            f"    access_log {base}/access.log;\n"
            f"    {temp}\n"
            f"    include {base}/site.conf;\n"
            "}\n"
        )

    def start(self) -> NginxProxy:
        """Write the configuration, check it (``nginx -t``), start, wait for both ports."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "site.conf").write_text(self.site_config(), "utf-8")
        (self.directory / "nginx.conf").write_text(self.main_config(), "utf-8")
        argv = [nginx_path(), "-p", str(self.directory), "-c", str(self.directory / "nginx.conf")]
        checked = subprocess.run([*argv, "-t"], capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused the documented configuration:\n{checked.stderr}")
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.https_port, timeout=START_TIMEOUT)
            wait_for_port(self.http_port, timeout=START_TIMEOUT)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"nginx did not start:\n{self.error_log()}") from None
        return self

    def stop(self) -> None:
        """Stop nginx (SIGTERM: a fast shutdown, then SIGKILL after 10 s)."""
        stop_process(self.process)

    def error_log(self) -> str:
        """What nginx logged (warnings and errors)."""
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""
