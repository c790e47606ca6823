"""Live values read back from the metrics (the open-sessions gauge)."""

from __future__ import annotations

from prometheus_client import multiprocess
from prometheus_client.registry import CollectorRegistry

from securemsg.ops.internal.exposition import multiprocess_dir
from securemsg.ops.metrics import SECURE_SESSIONS

#: Name of the gauge's sample.
_SAMPLE = "securemsg_secure_sessions_open"


def open_sessions() -> tuple[int, str]:
    """Open secure sessions and what they cover (``all processes`` or ``this process``)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        value = registry.get_sample_value(_SAMPLE) or 0.0
        return int(value), "all processes"
    # This process's gauge alone (the default registry would also run the
    # database collector).
    value = sum(sample.value for metric in SECURE_SESSIONS.collect() for sample in metric.samples)
    return int(value), "this process"
