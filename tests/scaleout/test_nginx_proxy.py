"""docs/deployment.md's server block in front of two Daphne processes, over TLS.

The nginx configuration is taken from the documentation itself (ports, paths
and the certificate swapped for test ones; ``nginx_proxy`` in conftest.py),
so the documented proxy is the tested one: WebSocket upgrade through TLS,
spreading over both workers, and a client cannot choose the address the
audit log records. The workers here run the development profile behind
the proxy; tests/scaleout/tls/ runs the production profile and the browser.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from securemsg.audit.models import AuditEvent
from tests.scaleout.conftest import Cluster, connect_through, receive_type, websocket_connects
from tests.support.nginx import NginxProxy

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.asyncio]


@pytest.fixture
def scaleout_env(scaleout_env: dict[str, str]) -> dict[str, str]:
    """The workers trust exactly one proxy, as docs/deployment.md configures them."""
    return {
        **scaleout_env,
        "SECUREMSG_BEHIND_TLS_PROXY": "1",
        "SECUREMSG_TRUSTED_PROXY_COUNT": "1",
    }


async def test_documented_nginx_proxies_tls_websockets_to_both_workers(
    cluster: Cluster, nginx_proxy: NginxProxy, channels
) -> None:
    alice = channels(await connect_through(nginx_proxy, cluster, "alice"))
    bob = channels(await connect_through(nginx_proxy, cluster, "bob"))
    ack = await alice.send_text("bob", "through nginx")
    assert (await receive_type(bob, "msg"))["mid"] == ack["mid"]

    # least_conn spreads new connections over both workers.
    for _ in range(4):
        channels(await connect_through(nginx_proxy, cluster, "carol"))
    for server in cluster.servers:
        assert websocket_connects(server) > 0, "a worker got no connection"


async def test_a_client_cannot_choose_its_audited_address(
    cluster: Cluster, nginx_proxy: NginxProxy, channels
) -> None:
    channels(
        await connect_through(
            nginx_proxy, cluster, "alice", headers={"X-Forwarded-For": "203.0.113.9"}
        )
    )
    ips = await sync_to_async(
        lambda: list(
            AuditEvent.objects.filter(event="handshake.completed").values_list("ip", flat=True)
        )
    )()
    assert ips == ["127.0.0.1"]
