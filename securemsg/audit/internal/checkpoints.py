"""Signed checkpoints of the chain head (``docs/audit.md``, "Checkpoints").

A checkpoint only reads a committed row and inserts into its own table, so
taking one can neither fork the chain nor hold the chain lock while the key
vault signs.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from securemsg.audit.exceptions import AuditError, AuditUnavailable, CheckpointError
from securemsg.audit.internal import signer
from securemsg.audit.internal.writer import record
from securemsg.audit.models import AuditEvent, Checkpoint

logger = logging.getLogger("securemsg.audit")


def take_checkpoint(seq: int | None = None) -> Checkpoint:
    """Sign and store a checkpoint at ``seq`` (default: the current head) and record it.

    Returns the existing checkpoint when ``seq`` already has one. Raises
    ``CheckpointError`` (the vault cannot sign), ``AuditUnavailable``
    (nothing to checkpoint, or the database fails).
    """
    try:
        rows = AuditEvent.objects.order_by("-seq") if seq is None else AuditEvent.objects
        row = rows.filter(seq=seq).first() if seq is not None else rows.first()
        if row is None:
            raise AuditUnavailable("there is no audit event to checkpoint")
        existing = Checkpoint.objects.filter(seq=row.seq).first()
    except DatabaseError as exc:
        raise AuditUnavailable(f"the audit log cannot be read ({type(exc).__name__})") from exc
    if existing is not None:
        return existing
    kid, signature = signer.sign_checkpoint(signer.checkpoint_message(row.seq, row.hash))
    try:
        with transaction.atomic():
            checkpoint = Checkpoint.objects.create(
                seq=row.seq, head_hash=row.hash, kid=kid, signature=signature, ts=timezone.now()
            )
            record(
                "audit.checkpoint",
                target_type="audit_checkpoint",
                target_id=str(row.seq),
                details={"seq": row.seq, "head_hash": row.hash, "kid": kid},
            )
    except IntegrityError:
        # Another process checkpointed the same seq first; theirs is as good.
        return Checkpoint.objects.get(seq=row.seq)
    except DatabaseError as exc:
        raise AuditUnavailable(f"the checkpoint cannot be stored ({type(exc).__name__})") from exc
    return checkpoint


def checkpoint_after_commit(seq: int) -> None:
    """Automatic checkpoint at ``seq``; a failure is recorded, never raised.

    The event that reached ``seq`` is already committed; if the vault cannot
    sign, a ``keyvault.failure`` event says so and the next checkpoint covers
    this stretch of the chain too.
    """
    try:
        take_checkpoint(seq)
    except CheckpointError as exc:
        logger.error("audit checkpoint at seq %s failed: %s", seq, exc)
        try:
            record(
                "keyvault.failure",
                outcome="error",
                target_type="audit_checkpoint",
                target_id=str(seq),
                details={"operation": "sign_checkpoint", "reason": str(exc)[:200]},
            )
        except AuditError as inner:
            logger.error("audit checkpoint failure at seq %s not recorded: %s", seq, inner)
    except AuditError as exc:
        logger.error("audit checkpoint at seq %s failed: %s", seq, exc)
