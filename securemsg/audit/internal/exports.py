"""CSV and JSON Lines renderings of a filtered admin list (the admin export)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, Final

from django.db.models import QuerySet

from securemsg.audit.internal.canonical import format_ts
from securemsg.audit.internal.sources import ROW_COLUMNS

COLUMNS: Final = ROW_COLUMNS
#: Spreadsheets run cells starting with these as formulas (CSV injection).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _rows(queryset: QuerySet[Any]) -> Iterator[dict[str, Any]]:
    for values in queryset.values_list(*COLUMNS).iterator(chunk_size=2000):
        row = dict(zip(COLUMNS, values, strict=True))
        row["ts"] = format_ts(row["ts"])
        yield row


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = (
        json.dumps(value, sort_keys=True, ensure_ascii=False)
        if isinstance(value, dict)
        else str(value)
    )
    return "'" + text if text.startswith(_FORMULA_START) else text


def iter_csv(queryset: QuerySet[Any]) -> Iterator[str]:
    """A header line, then one CSV line per row (formula-looking cells quoted with ``'``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in _rows(queryset):
        writer.writerow([_cell(row[name]) for name in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def iter_jsonl(queryset: QuerySet[Any]) -> Iterator[str]:
    """One JSON object per row and line, in the event-line format of ``audit export``."""
    for row in _rows(queryset):
        yield json.dumps({"type": "event"} | row, ensure_ascii=False, separators=(",", ":")) + "\n"
