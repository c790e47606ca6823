"""Comparing the database chain with the second sink (``docs/audit.md``, "Second sink").

Two directions, one pass over the database in seq order:

- every row of the keyed chain must have the same hash in the file (a row
  the file lacks was inserted outside the writer; a different hash means
  an edit);
- every event the file saw *committed* must be in the database with the
  same hash (a committed event the database lacks was deleted: rows in the
  middle, the tail, or the whole table).
"""

from __future__ import annotations

from typing import Final

from securemsg.audit.app_settings import app_settings
from securemsg.audit.internal.filesink import SinkContents, read_sink
from securemsg.audit.internal.verify import Break, BreakKind, Result

#: Rows read from the database per round trip.
_CHUNK: Final = 5000


def _span(first: int, last: int) -> str:
    return f"row {first}" if first == last else f"rows {first}..{last}"


def compare_with_sink(result: Result, from_seq: int | None, chain_from: int | None) -> None:
    """Check the stored rows against the sink's files; record a break in ``result``.

    ``from_seq`` limits the check like ``audit verify --from``; rows before
    ``chain_from`` (the keyed chain's start) predate the sink. Raises
    ``AuditSinkError`` when a file cannot be read.
    """
    path = app_settings.FILE
    contents = read_sink(path)
    if contents.malformed:
        result.broken = Break(
            BreakKind.SINK_MISMATCH,
            0,
            f"the second sink has unreadable lines ({', '.join(contents.malformed[:5])})",
        )
        return
    if contents.recommitted:
        seq = contents.recommitted[0]
        result.broken = Break(
            BreakKind.DELETED,
            seq,
            f"row {seq} was committed twice with different contents (second sink): rows were "
            "deleted from the database and the chain written again from there",
        )
        return
    lower = from_seq or 1
    if from_seq is None and result.first_seq is not None:
        # The walk accepted a recorded prune: the file keeps the pruned rows.
        lower = result.first_seq
    broken, compared = _compare(contents, lower, chain_from)
    if broken is not None:
        result.broken = broken
        return
    files = len(contents.files)
    result.protections.append(f"second sink ({compared} rows, {files} file(s) {path.name}*)")


def _compare(
    contents: SinkContents, lower: int, chain_from: int | None
) -> tuple[Break | None, int]:
    from securemsg.audit.models import AuditEvent

    committed = sorted(seq for seq in contents.committed if seq >= lower)
    position, compared, last = 0, 0, None
    rows = AuditEvent.objects.filter(seq__gte=lower).order_by("seq").values_list("seq", "hash")
    for seq, digest in rows.iterator(chunk_size=_CHUNK):
        if position < len(committed) and committed[position] < seq:
            first = committed[position]
            while position < len(committed) and committed[position] < seq:
                position += 1
            missing = _span(first, committed[position - 1])
            return Break(
                BreakKind.DELETED,
                first,
                f"{missing} committed to the second sink are not in the database: deleted",
            ), compared
        if position < len(committed) and committed[position] == seq:
            position += 1
            if contents.committed[seq] != digest:
                return _edited(seq), compared
        if chain_from is not None and seq >= chain_from:
            copy = contents.events.get(seq)
            if copy is None:
                return Break(
                    BreakKind.SINK_MISMATCH,
                    seq,
                    f"row {seq} is not in the second sink: it was inserted outside the audit "
                    "writer, or the sink file holding it is missing",
                ), compared
            if copy != digest:
                return _edited(seq), compared
            compared += 1
        last = seq
    if position < len(committed):
        first, end = committed[position], committed[-1]
        if last is None:
            message = (
                f"the database holds no audit rows from row {lower} on, but the second sink "
                f"holds {len(committed) - position} committed events ({_span(first, end)}): "
                "the table was emptied"
            )
        else:
            message = (
                f"{_span(first, end)} committed to the second sink are not in the database, "
                f"which ends at row {last}: deleted"
            )
        return Break(BreakKind.TRUNCATED, first, message), compared
    return None, compared


def _edited(seq: int) -> Break:
    return Break(
        BreakKind.EDITED,
        seq,
        f"row {seq} differs from its copy in the second sink: it was edited",
    )
