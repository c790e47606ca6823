"""Audit log tables: the hash-chained events, the signed checkpoints, the chain head.

Rows are only ever inserted by ``securemsg.audit.internal.writer`` (and deleted
by ``audit prune``); nothing updates them. The row format and the canonical
JSON that the hash covers are defined in ``docs/audit.md``.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

#: ``prev_hash`` of the first event ever written (32 zero bytes, hex).
GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One security-relevant event, linked to its predecessor by ``prev_hash``."""

    seq = models.BigIntegerField(unique=True, help_text="Position in the chain, from 1, no gaps.")
    ts = models.DateTimeField(help_text="UTC time the event was written.")
    event = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True, default="")
    ip = models.CharField(max_length=45, null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True, default="")
    target_type = models.CharField(max_length=64, blank=True, default="")
    target_id = models.CharField(max_length=128, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Keyed chain (field-lessons issue): HMAC-SHA-256 over ``hash`` under a
    # wrapped audit key, and that key's id. Not covered by ``hash``; unused now.
    mac = models.CharField(max_length=64, null=True, blank=True)
    audit_key_id = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-seq"]
        verbose_name = "audit event"
        verbose_name_plural = "audit events"
        # Each admin filter is "WHERE col = x ORDER BY seq DESC LIMIT n", so
        # (col, seq) lets the database walk one index without sorting; the
        # (ts, event) index answers the date-range filter and the dashboard
        # counts without touching the table.
        indexes: ClassVar = [
            models.Index(fields=["event", "seq"], name="audit_event_seq"),
            models.Index(fields=["outcome", "seq"], name="audit_outcome_seq"),
            models.Index(fields=["actor_username", "seq"], name="audit_actor_seq"),
            models.Index(fields=["ip", "seq"], name="audit_ip_seq"),
            models.Index(fields=["target_id", "seq"], name="audit_target_seq"),
            models.Index(fields=["ts", "event"], name="audit_ts_event"),
            models.Index(fields=["event", "ts"], name="audit_event_ts"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event} ({self.outcome})"


class Checkpoint(models.Model):
    """The chain head at ``seq`` signed with the key vault's signing key (RSA-PSS)."""

    seq = models.BigIntegerField(unique=True)
    head_hash = models.CharField(max_length=64)
    kid = models.CharField(max_length=128)
    signature = models.BinaryField()
    ts = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["-seq"]
        verbose_name = "checkpoint"
        verbose_name_plural = "checkpoints"

    def __str__(self) -> str:
        return f"checkpoint #{self.seq} ({self.kid})"


class ChainHead(models.Model):
    """The single row (pk 1) holding the last written ``seq`` and ``hash``.

    Writers lock and update it, so it serializes them on databases with row
    locks and lets ``audit verify`` notice rows deleted from the tail.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = "chain head"
        default_permissions = ()

    def __str__(self) -> str:
        return f"head #{self.seq}"
