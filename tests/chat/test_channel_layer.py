"""The Redis channel layer as the settings build it from ``REDIS_URL``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from channels_redis.core import RedisChannelLayer

from tests.support.daphne_server import ROOT


def test_an_idle_receive_outlasts_the_blocking_pop() -> None:
    # redis-py 8 reads with a 5 s socket timeout by default, exactly
    # channels-redis's BZPOPMIN block: every WebSocket idle for 5 s was closed
    # with 1011 (seen through nginx in tests/scaleout/tls/test_session_end.py).
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/0", "PYTHONPATH": str(ROOT)}
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, securemsg.settings as s; print(json.dumps(s.CHANNEL_LAYERS))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    (host,) = json.loads(printed.strip().splitlines()[-1])["default"]["CONFIG"]["hosts"]
    assert host["address"] == "redis://127.0.0.1:6379/0"
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout
