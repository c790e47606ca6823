"""The Redis channel layer, configured as the settings configure it, on a real redis-server.

channels-redis waits for a channel's next message with ``BZPOPMIN`` blocking
up to ``brpop_timeout`` (5 s). redis-py 8 gives every socket read a 5 s
timeout by default, so an idle consumer's receive raced the blocking pop and
lost (every time on an idle channel, measured): ``redis.exceptions.TimeoutError``
out of Channels' dispatch loop, and the WebSocket closed with 1011.
test_channel_layer.py checks the setting; this test checks the behaviour.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer

from tests.support.services import RedisServer

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _layer_config(redis_url: str) -> dict[str, Any]:
    """``CHANNEL_LAYERS["default"]`` as securemsg/settings.py builds it for ``redis_url``."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="securemsg.settings")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, securemsg.settings as s; print(json.dumps(s.CHANNEL_LAYERS['default']))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert config["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    return config


async def test_idle_receive_outlasts_the_blocking_pop(redis_server: RedisServer) -> None:
    layer = RedisChannelLayer(**_layer_config(redis_server.url)["CONFIG"])
    try:
        channel = await layer.new_channel()
        # Nothing arrives for longer than one blocking pop (and its socket
        # read): only our own wait may end the receive, never a Redis error.
        with pytest.raises(TimeoutError) as waited:
            await asyncio.wait_for(layer.receive(channel), timeout=layer.brpop_timeout + 4)
        assert type(waited.value) is TimeoutError
        await layer.send(channel, {"type": "chat.deliver", "mid": "m1"})
        received = await asyncio.wait_for(layer.receive(channel), timeout=10)
        assert received == {"type": "chat.deliver", "mid": "m1"}
    finally:
        await layer.flush()
        await layer.close_pools()
