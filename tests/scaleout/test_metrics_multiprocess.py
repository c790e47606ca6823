"""Prometheus multiprocess mode (docs/operations.md): one scrape sums every Daphne process.

Both workers share ``PROMETHEUS_MULTIPROC_DIR``; either one answers a scrape
with counters added up over both, and the open-sessions gauge counts only
live processes (a worker that stopped takes its sessions out of the sum).
"""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.scaleout.conftest import OP_TIMEOUT, Cluster, receive_type
from tests.support.daphne_server import DaphneServer

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.asyncio]

TOKEN = "multiprocess-metrics-test-token-7d1c"


@pytest.fixture
def scaleout_env(scaleout_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Both workers write their metrics into one shared directory."""
    directory = tmp_path / "prometheus-multiproc"
    directory.mkdir()
    return {
        **scaleout_env,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "SECUREMSG_METRICS_TOKEN": TOKEN,
    }


def _scrape(server: DaphneServer) -> dict[str, float]:
    request = urllib.request.Request(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=OP_TIMEOUT) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


async def test_one_scrape_sums_both_workers_and_drops_a_stopped_one(
    cluster: Cluster, channels
) -> None:
    a, b = cluster.servers
    alice = channels(await cluster.connect("alice", a))
    bob = channels(await cluster.connect("bob", b))
    ack = await alice.send_text("bob", "counted on A, delivered on B")
    assert (await receive_type(bob, "msg"))["mid"] == ack["mid"]

    for server in (a, b):  # either process answers with the sum over both
        values = await asyncio.to_thread(_scrape, server)
        assert values["securemsg_handshakes_completed_total"] == 2
        assert values["securemsg_secure_sessions_open"] == 2
        assert values["securemsg_messages_stored_total"] == 1

    b.stop()  # SIGTERM: the worker marks itself dead on the way out
    values = await asyncio.to_thread(_scrape, a)
    assert values["securemsg_secure_sessions_open"] == 1  # only A's live session
    assert values["securemsg_handshakes_completed_total"] == 2  # counters are kept
