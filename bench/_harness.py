"""Shared pieces of the end-to-end benchmarks: a prepared site, Daphne processes, clients.

A *site* is a fresh data directory set up as the development defaults ship
(SQLite in the data directory, in-memory channel layer, RSA-3072 server
keys) with every rate and session limit set to 0. Users get real Django
sessions (the rows a browser sign-in creates), so clients connect with a
cookie exactly like a signed-in browser. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from bench.rsa_pair import RsaPair  # noqa: E402
from securemsg.client import SecureChannel, handshake  # noqa: E402
from securemsg.protocol import (  # noqa: E402
    ClientHandshake,
    KeySet,
    new_client_key,
    parse_key_set,
)
from tests.support.ports import stop_process  # noqa: E402

RESULTS = ROOT / "bench" / "results"
IMG = ROOT / "docs" / "img"
#: The password of the users that sign in through the form (bench only).
PASSWORD = "bench-password-correct-horse-42"
#: Every limit off, as the clarifications ask for the handshake benchmark.
NO_LIMITS = {
    "SECUREMSG_HANDSHAKES_PER_MINUTE": "0",
    "SECUREMSG_HANDSHAKES_PER_MINUTE_PER_IP": "0",
    "SECUREMSG_MESSAGES_PER_MINUTE": "0",
    "SECUREMSG_MAX_SESSIONS_PER_USER": "0",
    "SECUREMSG_LOG_LEVEL": "WARNING",
}
#: A server gets this long to start.
START_TIMEOUT = 60.0
#: The ASGI application as shipped, and the bench-only one with plaintext and floor consumers.
APP = "securemsg.asgi:application"
PLAIN_APP = "bench.plain_asgi:application"

_SETUP = r"""
import json, sys, django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from accounts.session_store import SessionStore
from django.core.management import call_command
import keyvault
from accounts.models import User

spec = json.loads(sys.argv[1])
call_command("migrate", verbosity=0)
call_command("keyvault", "init", verbosity=0)
sessions = {}
for i in range(spec["users"]):
    name = f"user{i:05d}"
    if i < spec["with_password"]:
        user = User.objects.create_user(username=name, password=spec["password"])
    else:
        user = User(username=name)
        user.set_unusable_password()
        user.save()
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    sessions[name] = store.session_key
print(json.dumps({"keys": keyvault.keys_document(), "sessions": sessions}))
"""


#: Server environment of ``--persistent-db``: bench/settings_persistent_db.py.
PERSISTENT_DB = {"DJANGO_SETTINGS_MODULE": "bench.settings_persistent_db"}
#: ``--db-threads``: persistent connections and consumer database calls on a
#: thread pool (bench/settings_db_threads.py).
DB_THREADS = {"DJANGO_SETTINGS_MODULE": "bench.settings_db_threads"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    """A prepared data directory: environment, keys.json and one session per user."""

    data_dir: Path
    env: dict[str, str]
    keys_document: dict[str, Any]
    sessions: dict[str, str]

    @cached_property
    def key_set(self) -> KeySet:
        """keys.json, parsed once (a real client parses it once per fetch, not per connection)."""
        return parse_key_set(self.keys_document)

    @property
    def pins(self) -> list[str]:
        """Fingerprints of the active signing keys (what a client pins)."""
        return [
            k["fingerprint"]
            for k in self.keys_document["keys"]
            if k["use"] == "sig" and k["state"] == "active"
        ]


def prepare_site(*, users: int, with_password: int = 0, env: dict[str, str] | None = None) -> Site:
    """Create a data directory with the vault initialised and ``users`` users signed in."""
    data_dir = Path(tempfile.mkdtemp(prefix="securemsg-bench-"))
    site_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SECUREMSG_")},
        "SECUREMSG_ENV": "dev",
        "SECUREMSG_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "securemsg.settings",
        "PYTHONPATH": str(ROOT),
        **NO_LIMITS,
        **(env or {}),
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        if name not in (env or {}):
            site_env.pop(name, None)
    spec = {"users": users, "with_password": with_password, "password": PASSWORD}
    done = subprocess.run(
        [sys.executable, "-c", _SETUP, json.dumps(spec)],
        cwd=ROOT,
        env=site_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"site setup failed:\n{done.stderr}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Site(data_dir, site_env, data["keys"], data["sessions"])


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Daphne:
    """One Daphne process on a free port serving ``app``."""

    site: Site
    app: str = APP
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Daphne:
        """Start and wait until the port accepts connections."""
        log = (self.site.data_dir / f"daphne-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), self.app],
            cwd=ROOT,
            env={**self.site.env, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_raise_fd_limit,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not start; see {log.name}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL."""
        stop_process(self.process)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (all threads)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        """Resident memory of the process, KiB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


async def open_socket(
    server: Daphne, session_key: str, path: str = "/ws/securemsg/", *, keepalive: bool = True
) -> websockets.ClientConnection:
    """A WebSocket with the session cookie and the page's own Origin (no compression).

    ``keepalive=False`` turns off the client's own pings (idle-session runs).
    No proxy lookup: websockets reads every environment variable for one on
    each connect (~0.5 ms of the load client's CPU per connection here), and
    the servers are on loopback.
    """
    return await websockets.connect(
        f"ws://127.0.0.1:{server.port}{path}",
        proxy=None,
        origin=websockets.Origin(server.url),
        additional_headers={"Cookie": f"sessionid={session_key}"},
        compression=None,
        ping_interval=20 if keepalive else None,
        open_timeout=30,
        max_size=2**17,
    )


async def open_channel(
    server: Daphne,
    site: Site,
    user: str,
    client_key: rsa.RSAPrivateKey | None = None,
    *,
    keepalive: bool = True,
) -> SecureChannel:
    """Connect and run the securemsg/1 handshake with the Python client.

    Without ``client_key`` a fresh one is made before connecting, as the
    client library does (``securemsg.protocol.new_client_key``).
    """
    if client_key is None:
        client_key = await asyncio.to_thread(new_client_key)
    make_client = partial(ClientHandshake, client_key=client_key)
    socket_ = await open_socket(server, site.sessions[user], keepalive=keepalive)
    try:
        return await handshake(socket_, site.key_set, site.pins, user=user, make_client=make_client)
    except BaseException:
        await socket_.close()
        raise


def raw_rsa_rate(seconds: float = 2.0) -> dict[str, float]:
    """One core's RSA-3072 OAEP-decrypt + PSS-sign pairs per second (bounded by time)."""
    pair = RsaPair()
    pair.run()
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        pair.run()
        count += 1
    elapsed = time.perf_counter() - start
    return {"pairs_per_second": count / elapsed, "ms_per_pair": 1000 * elapsed / count}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p99/mean in ms and the sequential rate."""
    return {
        "n": len(seconds),
        "p50_ms": 1000 * percentile(seconds, 50),
        "p99_ms": 1000 * percentile(seconds, 99),
        "mean_ms": 1000 * statistics.fmean(seconds),
        "per_second": len(seconds) / sum(seconds),
    }


def machine() -> dict[str, Any]:
    """Where the numbers came from."""
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        # Other work on the machine during the run skews every number.
        "load_average": Path("/proc/loadavg").read_text().split()[:3],
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_results(name: str, result: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2) + "\n")
    return path


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain-text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print(
            "  ".join(c.rjust(w) if index else c.ljust(w) for c, w in zip(row, widths, strict=True))
        )
        if index == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def plot(name: str, draw: Callable[[Any], None]) -> Path | None:
    """Draw a PNG into docs/img/<name>.png with matplotlib (the ``bench`` extra), if present."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: pip install -e '.[bench]' for the plots)")
        return None
    IMG.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 4), dpi=110)
    draw(axes)
    figure.tight_layout()
    path = IMG / f"{name}.png"
    figure.savefig(path)
    plt.close(figure)
    return path


def run(main: Callable[[], Any]) -> Any:
    """asyncio.run with a clean exit on Ctrl-C."""
    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        raise SystemExit(130) from None
