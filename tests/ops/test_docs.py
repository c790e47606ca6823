"""docs/operations.md lists every metric and setting; the Grafana dashboard queries real metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from securemsg.ops import metrics

DOCS = Path(__file__).resolve().parents[2] / "docs"
OPERATIONS = (DOCS / "operations.md").read_text()
README = (DOCS.parent / "README.md").read_text()


def _our_metric_names() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            suffix = "_total" if value._type == "counter" else ""
            names.add(value._name + suffix)
    names |= {
        "securemsg_key_age_seconds",
        "securemsg_key_max_age_seconds",
        "securemsg_key_rotations",
        "securemsg_messages_pending",
        "securemsg_state_up",
    }
    return names


def test_every_metric_is_documented():
    assert sorted(n for n in _our_metric_names() if f"`{n}`" not in OPERATIONS) == []


def test_dashboard_queries_only_existing_metrics():
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {
        re.sub(r"_(bucket|count|sum)$", "", m)
        for e in exprs
        for m in re.findall(r"securemsg_\w+", e)
    }
    assert used and used <= _our_metric_names()


def test_settings_are_in_the_readme():
    for name in (
        "SECUREMSG_METRICS_TOKEN",
        "SECUREMSG_METRICS_ALLOW",
        "SECUREMSG_LOG_FORMAT",
        "PROMETHEUS_MULTIPROC_DIR",
    ):
        assert f"| `{name}` |" in README, name
