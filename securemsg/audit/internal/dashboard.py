"""Numbers and chart geometry for the admin dashboard (rendered as inline SVG, no script)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from django.db.models import Count

from securemsg.audit.models import AuditEvent

#: Drawing area of a chart, in SVG user units.
CHART_WIDTH: Final = 720
CHART_HEIGHT: Final = 160


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its bucket and geometry."""

    label: str
    count: int
    x: float
    y: float
    width: float
    height: float


def counts_by_event(now: datetime) -> list[dict[str, Any]]:
    """Per event type: counts over the last 24 hours and 30 days, most frequent first."""
    rows: dict[str, dict[str, Any]] = {}
    for key, since in (("day", now - timedelta(hours=24)), ("month", now - timedelta(days=30))):
        query = AuditEvent.objects.filter(ts__gte=since).values("event").annotate(n=Count("id"))
        for item in query.order_by():
            entry = rows.setdefault(item["event"], {"event": item["event"], "day": 0, "month": 0})
            entry[key] = item["n"]
    return sorted(rows.values(), key=lambda r: (-r["month"], r["event"]))


def failed_signins(now: datetime, *, buckets: int, step: timedelta, fmt: str) -> list[Bar]:
    """Bars of ``auth.login_failed`` per bucket, oldest first, ending with the current one."""
    failures = AuditEvent.objects.filter(event="auth.login_failed")
    # Buckets are aligned on whole steps so that bars do not shift each minute.
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if step >= timedelta(days=1):
        end = end.replace(hour=0) + timedelta(days=1)
    edges = [end - step * (buckets - i) for i in range(buckets + 1)]
    counts = [
        failures.filter(ts__gte=edges[i], ts__lt=edges[i + 1]).count() for i in range(buckets)
    ]
    peak = max(counts) or 1
    width = CHART_WIDTH / buckets
    bars = []
    for i, count in enumerate(counts):
        height = round(CHART_HEIGHT * count / peak, 1)
        bars.append(
            Bar(
                label=edges[i].strftime(fmt),
                count=count,
                x=round(i * width + 1, 1),
                y=round(CHART_HEIGHT - height, 1),
                width=round(width - 2, 1),
                height=height,
            )
        )
    return bars
