"""Health of the audit log's two sinks, for readiness checks and status pages.

Reads only: nothing is written to either sink. A sink that is not ``ok``
means the next event (and so the action it records) would be refused.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Final

from django.db import DatabaseError

from securemsg.audit.app_settings import app_settings
from securemsg.audit.exceptions import AuditKeyError
from securemsg.audit.internal import auditkey, filesink

#: Below this much free space in the sink's directory the file sink is reported unhealthy.
MIN_FREE_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True)
class SinkStatus:
    """One sink: whether it can take events, why not, and the last seq it holds."""

    name: str
    ok: bool
    detail: str
    last_seq: int | None = None


@dataclass(frozen=True)
class SinkHealth:
    """Both sinks; ``ok`` only when an event can be recorded (fail closed needs both)."""

    database: SinkStatus
    file: SinkStatus

    @property
    def ok(self) -> bool:
        """True when both sinks can take events."""
        return self.database.ok and self.file.ok


def _database() -> tuple[SinkStatus, int | None]:
    from django.db import router

    from securemsg.audit.models import AuditEvent, ChainHead

    using = router.db_for_write(AuditEvent)
    try:
        head = ChainHead.objects.using(using).filter(pk=1).values_list("seq", flat=True).first()
        if head is None:
            rows = AuditEvent.objects.using(using).order_by("-seq")
            head = rows.values_list("seq", flat=True).first()
        key = auditkey.load(using)
    except DatabaseError as exc:
        why = f"cannot read the audit tables ({type(exc).__name__})"
        return SinkStatus("database", False, why), None
    except AuditKeyError as exc:
        return SinkStatus("database", False, str(exc), head), None
    detail = (
        f"audit key {key.key_id} loaded" if key else "no audit key yet (created at the first event)"
    )
    return SinkStatus("database", True, detail, head), key.chain_from if key else None


def _file(database_seq: int | None, sink_from: int | None) -> SinkStatus:
    path = app_settings.FILE
    directory = path.parent
    last = filesink.last_seq(path)
    if filesink.writer.last_error is not None:
        return SinkStatus("file", False, f"last write failed: {filesink.writer.last_error}", last)
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        return SinkStatus("file", False, f"directory {directory} is missing or not writable", last)
    if path.exists() and not os.access(path, os.W_OK):
        return SinkStatus("file", False, f"{path} is not writable", last)
    free = shutil.disk_usage(directory).free
    if free < MIN_FREE_BYTES:
        return SinkStatus("file", False, f"only {free // 1024} KiB free in {directory}", last)
    # Rows before the keyed chain began predate the file; later ones must be in it.
    if database_seq and sink_from and database_seq >= sink_from and (last or 0) < database_seq:
        return SinkStatus(
            "file",
            False,
            f"{path.name} ends at row {last or 0} but the database at row {database_seq}",
            last,
        )
    return SinkStatus("file", True, f"{path} writable", last)


def sink_health() -> SinkHealth:
    """The health of the database chain and the JSON Lines file; see ``securemsg.audit``."""
    database, sink_from = _database()
    return SinkHealth(database=database, file=_file(database.last_seq, sink_from))
