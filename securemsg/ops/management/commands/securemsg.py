"""``manage.py securemsg doctor``: the readiness checks as a table for a person at a terminal.

Exit status: 0 every check is OK, 1 a check warns (work is due), 2 a check
failed (the server is not ready). Each row that is not OK is followed by
what to do (docs/operations.md, "Runbooks").
"""

from __future__ import annotations

import json
import sys
import textwrap
from argparse import ArgumentParser
from typing import Any, ClassVar

from django.core.management.base import BaseCommand

from securemsg.ops import health

#: Exit statuses by overall verdict.
EXIT_STATUS = {"ok": 0, "warn": 1, "fail": 2}
_WIDTH = 100


class Command(BaseCommand):
    """Operator tools of securemsg (``doctor``)."""

    help = "Operator tools: 'doctor' runs the readiness checks and says what to do."
    # The doctor must run (and explain) when the configuration is what is broken.
    requires_system_checks: ClassVar[list[str]] = []  # type: ignore[misc]

    def add_arguments(self, parser: ArgumentParser) -> None:
        """Declare the subcommands."""
        sub = parser.add_subparsers(dest="sub", required=True, metavar="subcommand")
        doctor = sub.add_parser("doctor", help="run the readiness checks and print a table")
        doctor.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the checks, print them, exit with the verdict's status."""
        reports = health.run_checks_sync()
        verdict = health.overall(reports)
        if options["json"]:
            self.stdout.write(json.dumps(_as_json(verdict, reports), indent=2))
        else:
            self._table(verdict, reports)
        if verdict != "ok":
            sys.exit(EXIT_STATUS[verdict])

    def _table(self, verdict: str, reports: list[health.CheckReport]) -> None:
        name_width = max(len(report.title) for report in reports)
        self.stdout.write(f"{'CHECK':<{name_width}}  STATUS  DETAIL")
        for report in reports:
            detail = f"{report.seconds * 1000:.0f} ms" if report.status == "ok" else report.detail
            line = f"{report.title:<{name_width}}  {report.status.upper():<6}  {detail}"
            self.stdout.write(self._style(report.status)(line))
        todo = [report for report in reports if report.status != "ok"]
        if todo:
            self.stdout.write("\nWhat to do:")
            for report in todo:
                wrapped = textwrap.fill(
                    report.remedy or "see docs/operations.md",
                    width=_WIDTH,
                    initial_indent=f"- {report.title}: ",
                    subsequent_indent="  ",
                )
                self.stdout.write(wrapped)
        self.stdout.write(f"\nOverall: {verdict.upper()}")

    def _style(self, status: str) -> Any:
        return {
            "ok": self.style.SUCCESS,
            "warn": self.style.WARNING,
            "fail": self.style.ERROR,
        }[status]


def _as_json(verdict: str, reports: list[health.CheckReport]) -> dict[str, Any]:
    return {
        "status": verdict,
        "checks": {
            report.name: {
                "status": report.status,
                "reason": report.reason,
                "detail": report.detail,
                "remedy": report.remedy,
                "seconds": round(report.seconds, 4),
            }
            for report in reports
        },
    }
