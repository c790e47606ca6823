"""Audit log entry point.

Every part of securemsg records security-relevant events through
:func:`record`. This is the placeholder that the audit log issue replaces with
the hash-chained, fail-closed implementation; callers do not change.
"""

from __future__ import annotations

from typing import Any

__all__ = ["record"]


def record(event: str, *, actor: Any = None, request: Any = None, **fields: Any) -> None:
    """Record ``event`` (placeholder: accepts and drops it until the audit app lands)."""
    del event, actor, request, fields
