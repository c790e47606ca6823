"""``audit export`` (JSON Lines for offline verification) and ``audit prune``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from securemsg.audit.exceptions import (
    AuditError,
    AuditFileError,
    AuditUnavailable,
    CheckpointError,
    PruneRefusedError,
)
from securemsg.audit.internal import signer
from securemsg.audit.internal.canonical import format_ts
from securemsg.audit.internal.checkpoints import take_checkpoint
from securemsg.audit.internal.sources import EXPORT_FORMAT, db_checkpoints, iter_db_rows
from securemsg.audit.internal.writer import record


@dataclass
class ExportSummary:
    """What an export wrote."""

    from_seq: int
    to_seq: int
    rows: int = 0
    checkpoints: int = 0
    sha256: str = ""
    warnings: list[str] = field(default_factory=list)


def _line(item: dict[str, Any]) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"


def _export_lines(summary: ExportSummary, to_hash: str) -> Iterator[str]:
    checkpoints = {
        seq: cp for seq, cp in db_checkpoints(summary.from_seq - 1).items() if seq <= summary.to_seq
    }
    yield _line(
        {
            "type": "header",
            "format": EXPORT_FORMAT,
            "exported_at": format_ts(timezone.now()),
            "from_seq": summary.from_seq,
            "to_seq": summary.to_seq,
            "to_hash": to_hash,
        }
    )
    for kid in sorted({cp.kid for cp in checkpoints.values()}):
        spki = base64.b64encode(signer.public_spki(kid)).decode()
        yield _line({"type": "key", "kid": kid, "spki": spki})
    for seq in sorted(checkpoints):
        cp = checkpoints[seq]
        signature = base64.b64encode(cp.signature).decode()
        yield _line(
            {"type": "checkpoint", "seq": seq, "head_hash": cp.head_hash, "kid": cp.kid}
            | {"signature": signature}
        )
        summary.checkpoints += 1
    for row in iter_db_rows(summary.from_seq, summary.to_seq):
        # "type" first: verify's first pass skips event lines by this prefix.
        item = {"type": "event"} | row.fields | {"prev_hash": row.prev_hash, "hash": row.hash}
        yield _line(item)
        summary.rows += 1
    yield _line({"type": "end", "rows": summary.rows, "checkpoints": summary.checkpoints})


def export(output: Path | None, from_seq: int | None = None) -> ExportSummary:
    """Checkpoint the head, then write events and checkpoints up to it as JSON Lines.

    ``output`` None writes to standard output. The export is recorded as
    ``audit.exported``; if that fails, the file is removed and
    ``AuditUnavailable`` is raised.
    """
    from securemsg.audit.models import AuditEvent

    warnings: list[str] = []
    try:
        to_seq: int | None = take_checkpoint().seq
    except CheckpointError as exc:
        warnings.append(f"no checkpoint could be signed ({exc}); the tail is not covered")
        to_seq = None
    try:
        rows = AuditEvent.objects.all()
        first = rows.order_by("seq").values_list("seq", flat=True).first()
        if to_seq is None:
            to_seq = rows.order_by("-seq").values_list("seq", flat=True).first()
        if first is None or to_seq is None:
            raise AuditUnavailable("there is no audit event to export")
        start = max(from_seq or first, first)
        to_hash = rows.filter(seq=to_seq).values_list("hash", flat=True).get()
    except DatabaseError as exc:
        raise AuditUnavailable(f"the audit log cannot be read ({type(exc).__name__})") from exc
    summary = ExportSummary(from_seq=start, to_seq=to_seq, warnings=warnings)
    digest = hashlib.sha256()
    if output is None:
        for text in _export_lines(summary, to_hash):
            digest.update(text.encode())
            sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _write_atomically(output, _export_lines(summary, to_hash), digest)
    summary.sha256 = digest.hexdigest()
    try:
        record(
            "audit.exported",
            target_type="audit_export",
            target_id=output.name if output is not None else "stdout",
            details={
                "kind": "retention",
                "from_seq": summary.from_seq,
                "to_seq": summary.to_seq,
                "rows": summary.rows,
                "checkpoints": summary.checkpoints,
                "sha256": summary.sha256,
            },
        )
    except AuditError:
        if output is not None:
            output.unlink(missing_ok=True)
        raise
    return summary


def _write_atomically(path: Path, lines: Iterator[str], digest: Any) -> None:
    # Written next to the target and renamed, so a reader never sees half a file.
    try:
        fd, tmp = tempfile.mkstemp(prefix=".audit-export-", dir=path.resolve().parent)
    except OSError as exc:
        raise AuditFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for text in lines:
                digest.update(text.encode())
                handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise AuditFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class PruneSummary:
    """What a prune deleted."""

    before: int
    rows: int
    checkpoints: int


def _covering_export(first: int, last: int) -> dict[str, Any] | None:
    from securemsg.audit.models import AuditEvent

    exports = AuditEvent.objects.filter(event="audit.exported", outcome="success")
    for details in exports.values_list("details", flat=True):
        if not isinstance(details, dict) or details.get("kind") != "retention":
            continue
        if details.get("from_seq", first + 1) <= first and details.get("to_seq", 0) >= last:
            return details
    return None


def prune(before: int) -> PruneSummary:
    """Delete events with ``seq < before``; ``before - 1`` must be a verified, exported checkpoint.

    Raises ``PruneRefusedError`` (with the reason) or ``AuditUnavailable``.
    """
    from securemsg.audit.internal.sources import verify_database
    from securemsg.audit.models import AuditEvent, Checkpoint

    anchor = before - 1
    try:
        first = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first()
        if first is None or before <= first:
            raise PruneRefusedError(f"nothing to prune before row {before}")
        if not Checkpoint.objects.filter(seq=anchor).exists():
            seqs = Checkpoint.objects.values_list("seq", flat=True)
            below = seqs.filter(seq__lt=anchor).order_by("-seq").first()
            above = seqs.filter(seq__gt=anchor).order_by("seq").first()
            nearest = below if below is not None else above
            hint = f"; the nearest is {nearest}, so use --before {nearest + 1}" if nearest else ""
            raise PruneRefusedError(f"row {anchor} has no checkpoint{hint}")
        result = verify_database()
        if not result.ok or (result.last_checkpoint or 0) < anchor:
            why = result.broken.message if result.broken else "checkpoint not verified"
            raise PruneRefusedError(f"the chain does not verify: {why}")
        exported = _covering_export(first, anchor)
        if exported is None:
            raise PruneRefusedError(
                f"rows {first}..{anchor} are not in a recorded export; run audit export first"
            )
        with transaction.atomic():
            rows, _ = AuditEvent.objects.filter(seq__lt=before).delete()
            checkpoints, _ = Checkpoint.objects.filter(seq__lt=anchor).delete()
            record(
                "audit.pruned",
                target_type="audit_chain",
                target_id=str(before),
                details={
                    "before": before,
                    "anchor_checkpoint": anchor,
                    "rows": rows,
                    "checkpoints": checkpoints,
                    "export_sha256": exported.get("sha256", ""),
                },
            )
    except DatabaseError as exc:
        raise AuditUnavailable(f"the audit log cannot be pruned ({type(exc).__name__})") from exc
    return PruneSummary(before=before, rows=rows, checkpoints=checkpoints)
