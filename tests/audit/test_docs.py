"""docs/audit.md lists every catalogued event and every exit status."""

from __future__ import annotations

from pathlib import Path

from securemsg.audit.exceptions import AuditError
from securemsg.audit.internal.catalog import EVENTS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()


def test_every_event_is_documented():
    assert [name for name in EVENTS if f"| `{name}` |" not in DOC] == []


def test_every_exit_status_is_documented():
    statuses = {cls.exit_status for cls in [AuditError, *AuditError.__subclasses__()]} | {0, 1}
    assert [s for s in sorted(statuses) if f"| {s} |" not in DOC] == []
