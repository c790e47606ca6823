"""``manage.py audit verify|checkpoint|export|prune`` (``docs/audit.md``, "Commands").

Exit statuses: 0 success, 1 the chain is broken, 2 usage error, 3 the audit
log cannot be read or written, 4 prune refused, 5 key vault unavailable,
6 file cannot be read or written.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from securemsg.audit.exceptions import AuditError, AuditUnavailable
from securemsg.audit.internal.verify import Result

EXIT_BROKEN = 1


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    """Verify, checkpoint, export and prune the audit chain."""

    help = "Verify, checkpoint, export and prune the tamper-evident audit log."

    def add_arguments(self, parser: CommandParser) -> None:
        """Sub-commands and their options."""
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="walk the chain and checkpoints")
        verify.add_argument("--from", dest="from_seq", type=_positive, metavar="SEQ")
        verify.add_argument("--file", type=Path, help="verify an export file offline")
        sub.add_parser("checkpoint", help="sign a checkpoint of the current head now")
        export = sub.add_parser("export", help="write events and checkpoints as JSON Lines")
        export.add_argument("--output", type=Path, help="file to write (default: stdout)")
        export.add_argument("--from", dest="from_seq", type=_positive, metavar="SEQ")
        prune = sub.add_parser("prune", help="delete rows before a verified, exported checkpoint")
        prune.add_argument("--before", type=_positive, required=True, metavar="SEQ")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run one sub-command; every failure ends in a one-line error and its exit status."""
        action = options["action"]
        try:
            getattr(self, f"_{action}")(options)
        except AuditError as exc:
            raise CommandError(str(exc), returncode=exc.exit_status) from exc

    def _via(self) -> dict[str, str]:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return {"via": "manage.py audit", "os_user": user}

    def _verify(self, options: dict[str, Any]) -> None:
        from securemsg.audit.internal.sources import verify_database, verify_file
        from securemsg.audit.internal.writer import record

        path: Path | None = options["file"]
        if path is not None:
            result, _export = verify_file(path)
            source = {"source": "file", "file": path.name}
        else:
            result = verify_database(options["from_seq"])
            source = {"source": "database"}
        self._print_result(result)
        try:
            record(
                "audit.verified",
                outcome="success" if result.ok else "failure",
                target_type="audit_chain",
                details=result.summary() | source | self._via(),
            )
        except AuditUnavailable as exc:
            if path is None:
                raise
            # Offline verification works without a writable database.
            self.stderr.write(f"note: this run was not recorded ({exc})")
        if not result.ok:
            raise CommandError("the audit chain is broken", returncode=EXIT_BROKEN)

    def _print_result(self, result: Result) -> None:
        span = f"rows {result.first_seq}..{result.last_seq}" if result.rows else "no rows"
        if result.broken is None:
            self.stdout.write(
                f"audit verify: OK: {result.rows} rows ({span}), "
                f"{result.checkpoints} checkpoints verified"
            )
        else:
            broken = result.broken
            self.stdout.write(
                f"audit verify: BROKEN at row {broken.seq}: {broken.kind}: {broken.message}"
            )
            self.stdout.write(f"  checked before the break: {result.rows} rows ({span})")
        if result.protections:
            self.stdout.write(f"  checked: {', '.join(result.protections)}")
        for note in result.notes:
            self.stdout.write(f"  {note}")

    def _checkpoint(self, options: dict[str, Any]) -> None:
        from securemsg.audit.internal.checkpoints import take_checkpoint

        checkpoint = take_checkpoint()
        self.stdout.write(
            f"audit checkpoint: row {checkpoint.seq} head {checkpoint.head_hash} "
            f"signed by {checkpoint.kid}"
        )

    def _export(self, options: dict[str, Any]) -> None:
        from securemsg.audit.internal.retention import export

        output: Path | None = options["output"]
        summary = export(output, options["from_seq"])
        for warning in summary.warnings:
            self.stderr.write(f"warning: {warning}")
        if output is not None:
            self.stdout.write(
                f"audit export: rows {summary.from_seq}..{summary.to_seq} "
                f"({summary.rows} events, {summary.checkpoints} checkpoints) to {output}, "
                f"SHA-256 {summary.sha256}"
            )

    def _prune(self, options: dict[str, Any]) -> None:
        from securemsg.audit.internal.retention import prune

        summary = prune(options["before"])
        self.stdout.write(
            f"audit prune: deleted {summary.rows} events and {summary.checkpoints} checkpoints "
            f"before row {summary.before}"
        )
