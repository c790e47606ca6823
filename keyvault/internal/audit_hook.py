"""The one place the vault calls the audit log (``securemsg.audit.record``).

Looked up at call time, so the audit app can replace ``record`` and tests
can observe it. Callers invoke it inside the transaction of the change: if
the audit log fails (it fails closed), the change rolls back.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import AuditFailedError

__all__ = ["record"]


def record(event: str, *, actor: Any = None, request: Any = None, **fields: Any) -> None:
    """Record ``event`` through ``securemsg.audit.record``; fields must hold no secret."""
    from securemsg import audit

    try:
        audit.record(event, actor=actor, request=request, **fields)
    except Exception as exc:
        # Whatever the audit log raises, the vault action must not go ahead;
        # one typed error lets callers map it (4500, exit status 9).
        raise AuditFailedError(
            f"the audit log did not record {event}; the action was not carried out"
        ) from exc
