"""The tamper-evident audit log.

Every part of securemsg records security-relevant events through
:func:`record`; nothing else is public here. Errors are in
:mod:`securemsg.audit.exceptions`; formats and the event catalog in
``docs/audit.md``.
"""

from __future__ import annotations

from typing import Any

from securemsg.audit.exceptions import AuditError, AuditFieldError, AuditUnavailable

__all__ = ["AuditError", "AuditFieldError", "AuditUnavailable", "record"]


def record(event: str, *, actor: Any = None, request: Any = None, **fields: Any) -> int:
    """Append ``event`` to the audit chain and return its sequence number.

    ``actor`` is the user who acted (default: the signed-in user of
    ``request``); ``request`` is an ``HttpRequest`` or an ASGI scope, used for
    the source address and user agent (default: the request being served).
    ``fields`` may hold ``outcome`` (``success``, ``failure``, ``denied``,
    ``error``; default ``success``), ``target_type``, ``target_id``,
    ``details`` (a small JSON object) and ``ip``; any other keyword is added
    to ``details``. Secrets are refused, never stored.

    Runs inside the caller's transaction when there is one, so an audit
    failure rolls the caller's action back.

    Raises:
        AuditFieldError: a field names a secret or is malformed (a bug in the caller).
        AuditUnavailable: the event could not be written; the action must not happen.

    Example::

        record("key.rotated", actor=request.user, request=request,
               target_type="server_key", target_id=new_kid, previous_kid=old_kid)
    """
    # Imported here: this package is imported while Django loads apps,
    # before models may be touched.
    from securemsg.audit.internal.writer import record as _record

    return _record(event, actor=actor, request=request, **fields)
