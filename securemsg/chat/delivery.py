"""Counters of what the channel layer lost and what the database delivered instead.

The channel layer carries message ids only and may lose them: channels-redis
drops a group message for a channel that is at ``capacity`` and expires
messages nobody read within ``expiry`` seconds. Nothing stored is lost,
because every session's redelivery sweep delivers from the database what it
has not delivered yet (``SECUREMSG_REDELIVERY_SECONDS``). These counters make
the drops visible (field-lessons issue, point 5); ``securemsg.ops`` exposes
them as metrics.

- ``over_capacity``: channel messages channels-redis refused because the
  receiving channel was full (read from its "channels over capacity" log
  record, the only place it reports them).
- ``redelivered``: messages a session delivered from the database because
  the channel layer had not delivered them (dropped, expired, or late).

Counters are per process, monotonic, and thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DeliveryCounters",
    "count_over_capacity",
    "count_redelivered",
    "delivery_counters",
    "install_drop_counter",
    "observer",
]

#: Metrics hook, set by ``securemsg.ops``: called as ``observer(counter, amount)``
#: with ``"over_capacity"`` or ``"redelivered"`` each time one grows.
observer: Callable[[str, int], None] | None = None

_lock = threading.Lock()
_counts = {"over_capacity": 0, "redelivered": 0}


@dataclass(frozen=True)
class DeliveryCounters:
    """A snapshot of this process's counters."""

    over_capacity: int
    redelivered: int


def _add(name: str, amount: int) -> None:
    if amount <= 0:
        return
    with _lock:
        _counts[name] += amount
    hook = observer
    if hook is not None:
        hook(name, amount)


def count_over_capacity(amount: int = 1) -> None:
    """Count channel messages the layer refused for a full channel."""
    _add("over_capacity", amount)


def count_redelivered(amount: int = 1) -> None:
    """Count messages delivered from the database after the layer did not deliver them."""
    _add("redelivered", amount)


def delivery_counters() -> DeliveryCounters:
    """The counters of this process since it started."""
    with _lock:
        return DeliveryCounters(**_counts)


class _OverCapacityFilter(logging.Filter):
    """Counts channels-redis' "N of M channels over capacity" records; passes them on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "over capacity" in str(record.msg) and record.args:
            first = record.args[0] if isinstance(record.args, tuple) else None
            if isinstance(first, int):
                count_over_capacity(first)
        # The record is only here because the logger was set to INFO for
        # counting; show it only when the root level would have.
        return record.levelno >= logging.getLogger().getEffectiveLevel()


_installed = False


def install_drop_counter() -> None:
    """Start counting channels-redis capacity drops (idempotent; the consumer calls it)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    source = logging.getLogger("channels_redis.core")
    if source.getEffectiveLevel() > logging.INFO:
        source.setLevel(logging.INFO)
    source.addFilter(_OverCapacityFilter())
