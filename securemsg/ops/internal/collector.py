"""Gauges read from the database at scrape time: key ages, rotations, pending messages.

They describe stored state, which every process sees the same, so they are
computed by whichever process answers the scrape instead of being counted
in each process (a rotation run by cron in another process still shows).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Max
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger("securemsg.ops")


class DatabaseStateCollector(Collector):
    """Key ages against policy, rotations per purpose and undelivered messages."""

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges; ``securemsg_state_up`` is 0 when the database cannot be read."""
        up = GaugeMetricFamily(
            "securemsg_state_up", "1 when the stored-state gauges below could be read"
        )
        try:
            families = list(_families())
        except DatabaseError as exc:
            logger.warning("metrics: stored state unreadable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def _families() -> Iterator[Metric]:
    from keyvault.conf import app_settings
    from keyvault.models import Purpose, ServerKey, State
    from securemsg.chat.models import Message

    now = timezone.now()
    age = GaugeMetricFamily(
        "securemsg_key_age_seconds",
        "Age of the active server key since activation",
        labels=["purpose"],
    )
    max_age = GaugeMetricFamily(
        "securemsg_key_max_age_seconds",
        "Rotation policy: maximum age of the active key",
        labels=["purpose"],
    )
    rotations = GaugeMetricFamily(
        "securemsg_key_rotations",
        "Keys created after the first one, per purpose (a monotonic count of rotations)",
        labels=["purpose"],
    )
    active = dict(
        ServerKey.objects.filter(state=State.ACTIVE).values_list("purpose", "activated_at")
    )
    latest = dict(
        ServerKey.objects.values("purpose").annotate(v=Max("version")).values_list("purpose", "v")
    )
    for purpose in Purpose.values:
        activated = active.get(purpose)
        if activated is not None:
            age.add_metric([purpose], (now - activated).total_seconds())
        max_age.add_metric([purpose], app_settings.max_age(purpose).total_seconds())
        rotations.add_metric([purpose], max(0, (latest.get(purpose) or 0) - 1))
    pending = GaugeMetricFamily(
        "securemsg_messages_pending", "Stored chat messages not yet acknowledged by the recipient"
    )
    pending.add_metric([], Message.objects.filter(delivered_at__isnull=True).count())
    yield from (age, max_age, rotations, pending)
