"""Errors raised by the audit log.

Hierarchy::

    AuditError                  base class; catch it to handle every audit failure
    ├── AuditUnavailable        an event could not be written; the action must not happen
    │   ├── AuditKeyError       the key vault could not create or open the audit (MAC) key
    │   └── AuditSinkError      the second sink (JSON Lines file) did not take the event
    ├── AuditFieldError         an event carried a forbidden or malformed field (also ValueError)
    ├── CheckpointError         a checkpoint could not be signed or its key not fetched
    ├── AuditFileError          an export file could not be written, read or parsed
    └── PruneRefusedError       pruning was refused (no verified, exported checkpoint)

Each class carries ``exit_status``, the status ``manage.py audit`` ends with
when that error stops it (documented in ``docs/audit.md``).
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class of every error the audit log raises."""

    exit_status = 3


class AuditUnavailable(AuditError):  # noqa: N818 -- name fixed by the public API (issue 5)
    """The event could not be committed to the audit log, so the action it describes is refused."""

    exit_status = 3


class AuditKeyError(AuditUnavailable):
    """The key vault could not create or open the audit key, so no MAC can be written or checked."""

    exit_status = 5


class AuditSinkError(AuditUnavailable):
    """The second sink (the JSON Lines file) could not take the event; the action is refused."""

    exit_status = 6


class AuditFieldError(AuditError, ValueError):
    """An event field names a secret, has an unknown outcome or cannot be put in canonical form."""

    exit_status = 2


class CheckpointError(AuditError):
    """The key vault could not sign a checkpoint or return the public key that verifies one."""

    exit_status = 5


class AuditFileError(AuditError):
    """An export file could not be written or read (the message names the file)."""

    exit_status = 6


class PruneRefusedError(AuditError):
    """Pruning was refused: the range is not covered by a verified, exported checkpoint."""

    exit_status = 4
