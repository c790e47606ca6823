"""A real Daphne server in a subprocess, on a free localhost port, for live tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.support.ports import free_port, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DaphneServer:
    """One Daphne process serving ``securemsg.asgi:application``.

    ``env`` is added to the test process's environment; the database URL
    normally points at the pytest-django test database file so that the
    server and the test see the same rows.
    """

    env: Mapping[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base WebSocket URL, ``ws://127.0.0.1:PORT``."""
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> DaphneServer:
        """Start the process and wait until it accepts connections."""
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        with self.log_path.open("ab") as log:
            self.process = self._spawn(env, log)
        try:
            wait_for_port(self.port, timeout=30)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"Daphne did not start; log:\n{self.log_path.read_text()}") from None
        return self

    def _spawn(self, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "securemsg.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, *, kill: bool = False) -> None:
        """Stop the process (SIGKILL with ``kill=True``, otherwise SIGTERM then SIGKILL)."""
        stop_process(self.process, kill=kill)

    def restart(self) -> None:
        """Kill and start again on the same port."""
        self.stop(kill=True)
        self.start()

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")
