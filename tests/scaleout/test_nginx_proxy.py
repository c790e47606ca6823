"""docs/deployment.md's nginx server block in front of two Daphne processes, over TLS.

The nginx configuration is taken from the documentation itself (ports, paths
and the certificate swapped for test ones), so the documented proxy is the
tested one: WebSocket upgrade through TLS, spreading over both workers,
and a client cannot choose the address the audit log records.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import re
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from securemsg.audit.models import AuditEvent
from securemsg.client import SecureChannel, handshake
from securemsg.protocol import parse_key_set
from tests.scaleout.conftest import OP_TIMEOUT, Cluster, receive_type
from tests.support.daphne_server import ROOT
from tests.support.ports import free_port, wait_for_port
from tests.support.ws import active_pins, create_session

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.asyncio]

DOC = ROOT / "docs" / "deployment.md"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def documented_server_block() -> str:
    """The ```nginx block of docs/deployment.md."""
    found = re.search(r"```nginx\n(.*?)```", DOC.read_text("utf-8"), re.S)
    assert found, "docs/deployment.md has no nginx block"
    return found.group(1)


@pytest.fixture
def proxy(cluster: Cluster, tmp_path: Path) -> Iterator[str]:
    """nginx with the documented server block; yields its https origin."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is not installed (apt-get install nginx)")
    cert, key = _self_signed(tmp_path)
    https_port, http_port = free_port(), free_port()
    a, b = cluster.servers
    block = (
        documented_server_block()
        .replace("127.0.0.1:8001", f"127.0.0.1:{a.port}")
        .replace("127.0.0.1:8002", f"127.0.0.1:{b.port}")
        .replace("listen [::]:443 ssl http2;", "")
        .replace("listen [::]:80;", "")
        .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("/etc/letsencrypt/live/chat.example.org/fullchain.pem", str(cert))
        .replace("/etc/letsencrypt/live/chat.example.org/privkey.pem", str(key))
        .replace("/var/lib/securemsg/static/", f"{tmp_path}/static/")
        .replace("chat.example.org", "127.0.0.1")
    )
    (tmp_path / "site.conf").write_text(block)
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}/body;"
        f" proxy_temp_path {tmp_path}/proxy; include {tmp_path}/site.conf; }}\n"
    )
    process = subprocess.Popen(
        [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(https_port, timeout=20)
        yield f"https://127.0.0.1:{https_port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _tls(tmp_path: Path) -> ssl.SSLContext:
    """A client context that trusts only the proxy's test certificate."""
    return ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))


async def _connect(
    cluster: Cluster, origin: str, username: str, context: ssl.SSLContext, **headers: str
) -> SecureChannel:
    def fetch() -> dict[str, Any]:
        import json

        with urllib.request.urlopen(
            f"{origin}/.well-known/securemsg/keys.json", context=context, timeout=OP_TIMEOUT
        ) as response:
            document: dict[str, Any] = json.load(response)
            return document

    document = await asyncio.to_thread(fetch)
    session_key = await sync_to_async(create_session)(cluster.users[username])
    socket = await websockets.connect(
        origin.replace("https://", "wss://") + "/ws/securemsg/",
        origin=websockets.Origin(origin),
        additional_headers={"Cookie": f"sessionid={session_key}", **headers},
        ssl=context,
        open_timeout=OP_TIMEOUT,
    )
    return await handshake(
        socket, parse_key_set(document), active_pins(document), user=username, origin=origin
    )


@pytest.fixture
def scaleout_env(scaleout_env: dict[str, str]) -> dict[str, str]:
    """The workers trust exactly one proxy, as docs/deployment.md configures them."""
    return {
        **scaleout_env,
        "SECUREMSG_BEHIND_TLS_PROXY": "1",
        "SECUREMSG_TRUSTED_PROXY_COUNT": "1",
    }


async def test_documented_nginx_proxies_tls_websockets_to_both_workers(
    cluster: Cluster, proxy: str, channels, tmp_path: Path
) -> None:
    context = _tls(tmp_path)
    alice = channels(await _connect(cluster, proxy, "alice", context))
    bob = channels(await _connect(cluster, proxy, "bob", context))
    ack = await alice.send_text("bob", "through nginx")
    assert (await receive_type(bob, "msg"))["mid"] == ack["mid"]

    # least_conn spreads new connections over both workers.
    for _ in range(4):
        channels(await _connect(cluster, proxy, "carol", context))
    for server in cluster.servers:
        assert "WSCONNECT /ws/securemsg/" in server.log(), "a worker got no connection"


async def test_a_client_cannot_choose_its_audited_address(
    cluster: Cluster, proxy: str, channels, tmp_path: Path
) -> None:
    context = _tls(tmp_path)
    channels(await _connect(cluster, proxy, "alice", context, **{"X-Forwarded-For": "203.0.113.9"}))
    ips = await sync_to_async(
        lambda: list(
            AuditEvent.objects.filter(event="handshake.completed").values_list("ip", flat=True)
        )
    )()
    assert ips == ["127.0.0.1"]
