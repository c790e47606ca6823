"""Where verification reads rows from: the database or an export file."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from django.db import DatabaseError

from securemsg.audit.exceptions import AuditFileError, AuditUnavailable, CheckpointError
from securemsg.audit.internal import signer
from securemsg.audit.internal.canonical import HASHED_FIELDS, format_ts
from securemsg.audit.internal.verify import (
    GENESIS_HASH,
    Anchor,
    Break,
    BreakKind,
    ChainRow,
    CheckpointRow,
    MacPolicy,
    Result,
    walk,
)

#: First line of every export file.
EXPORT_FORMAT: Final = "securemsg-audit-export/1"
#: Prefix of event lines, so a first pass can skip them without parsing.
EVENT_PREFIX: Final = '{"type":"event"'
#: Stored columns of an event, in export order: the hashed fields, then the links.
ROW_COLUMNS: Final = (*HASHED_FIELDS, "prev_hash", "hash")


def fingerprint(spki: bytes) -> str:
    """SHA-256 of a public key's SPKI DER, hex (what ``docs/keyvault.md`` publishes)."""
    return hashlib.sha256(spki).hexdigest()


#: Stored columns of the keyed chain, not covered by the hash and not exported.
MAC_COLUMNS: Final = ("mac", "audit_key_id")


def _chain_row(values: tuple[Any, ...]) -> ChainRow:
    data = dict(zip(ROW_COLUMNS + MAC_COLUMNS, values, strict=True))
    data["ts"] = format_ts(data["ts"])
    prev_hash, digest = data.pop("prev_hash"), data.pop("hash")
    mac, key_id = data.pop("mac"), data.pop("audit_key_id")
    return ChainRow(fields=data, prev_hash=prev_hash, hash=digest, mac=mac, audit_key_id=key_id)


class _DatabaseLocator:
    def seq_with_hash(self, digest: str) -> int | None:
        from securemsg.audit.models import AuditEvent

        return AuditEvent.objects.filter(hash=digest).values_list("seq", flat=True).first()

    def seq_with_prev(self, digest: str) -> int | None:
        from securemsg.audit.models import AuditEvent

        return AuditEvent.objects.filter(prev_hash=digest).values_list("seq", flat=True).first()


def _vault_key(cache: dict[str, bytes | None], kid: str) -> bytes | None:
    if kid not in cache:
        try:
            cache[kid] = signer.public_spki(kid)
        except CheckpointError as exc:
            from keyvault.exceptions import UnknownKeyError

            # An unknown kid makes the checkpoint forged; any other vault
            # failure means we cannot tell, which is not a verdict.
            if not isinstance(exc.__cause__, UnknownKeyError):
                raise
            cache[kid] = None
    return cache[kid]


def iter_db_rows(from_seq: int = 1, to_seq: int | None = None) -> Iterator[ChainRow]:
    """Stored events from ``from_seq`` (to ``to_seq``) in seq order, streamed."""
    from securemsg.audit.models import AuditEvent

    rows = AuditEvent.objects.filter(seq__gte=from_seq)
    if to_seq is not None:
        rows = rows.filter(seq__lte=to_seq)
    query = rows.order_by("seq").values_list(*ROW_COLUMNS, *MAC_COLUMNS)
    for values in query.iterator(chunk_size=5000):
        yield _chain_row(values)


def db_checkpoints(from_seq: int = 0) -> dict[int, CheckpointRow]:
    """Stored checkpoints at or after ``from_seq`` by seq."""
    from securemsg.audit.models import Checkpoint

    query = Checkpoint.objects.filter(seq__gte=from_seq).values_list(
        "seq", "head_hash", "kid", "signature"
    )
    return {seq: CheckpointRow(seq, h, kid, bytes(sig)) for seq, h, kid, sig in query}


def verify_database(from_seq: int | None = None) -> Result:
    """Verify the stored chain (from ``from_seq``): hashes, MACs, checkpoints, second sink.

    Raises ``AuditUnavailable`` when the database cannot be read,
    ``CheckpointError`` when the key vault cannot return a public key,
    ``AuditKeyError`` when it cannot open the audit keys and
    ``AuditSinkError`` when the second sink's files cannot be read.
    """
    from securemsg.audit.internal.auditkey import all_keys
    from securemsg.audit.internal.sinkcompare import compare_with_sink

    keys: dict[str, bytes | None] = {}
    try:
        audit_keys, unusable = all_keys()
        macs = MacPolicy(audit_keys, unusable)
        result = _walk_database(from_seq, keys, macs)
        if result.ok:
            compare_with_sink(result, from_seq, macs.chain_from)
        return result
    except DatabaseError as exc:
        raise AuditUnavailable(f"the audit log cannot be read ({type(exc).__name__})") from exc


def _walk_database(from_seq: int | None, keys: dict[str, bytes | None], macs: MacPolicy) -> Result:
    from securemsg.audit.models import AuditEvent, ChainHead

    start = from_seq
    if start is None:
        start = AuditEvent.objects.order_by("seq").values_list("seq", flat=True).first() or 1
    checkpoints = db_checkpoints(start - 1)
    anchor = _anchor(start, checkpoints, trusted=from_seq is not None and from_seq > 1)
    head_row = ChainHead.objects.filter(pk=1).first()
    head = (head_row.seq, head_row.hash) if head_row is not None else None
    return walk(
        iter_db_rows(start),
        checkpoints,
        lambda kid: _vault_key(keys, kid),
        _DatabaseLocator(),
        anchor=anchor,
        pruned_ok=from_seq is None,
        head=head,
        macs=macs,
    )


def _anchor(start: int, checkpoints: dict[int, CheckpointRow], *, trusted: bool) -> Anchor:
    if start <= 1:
        return Anchor(GENESIS_HASH, "the chain starts at row 1 (genesis)")
    before = checkpoints.get(start - 1)
    if before is not None:
        return Anchor(
            before.head_hash, f"row {start} is anchored by checkpoint {start - 1}", before
        )
    if trusted:
        return Anchor(None, f"row {start}'s link to its predecessor is trusted (--from)")
    return Anchor(GENESIS_HASH, f"no checkpoint anchors row {start}")


@dataclass
class ExportFile:
    """The non-event lines of an export file, read in a first pass."""

    path: Path
    header: dict[str, Any]
    keys: dict[str, bytes] = field(default_factory=dict)
    checkpoints: dict[int, CheckpointRow] = field(default_factory=dict)
    end: dict[str, Any] | None = None


def _open_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditFileError(f"cannot read {path}: {exc.__class__.__name__}") from exc


def read_export(path: Path) -> ExportFile:
    """Read the header, keys, checkpoints and end marker of an export file."""
    export: ExportFile | None = None
    for number, line in _open_lines(path):
        if line.startswith(EVENT_PREFIX):
            continue
        try:
            item = json.loads(line)
            kind = item["type"]
            if number == 1:
                if kind != "header" or item.get("format") != EXPORT_FORMAT:
                    raise ValueError("not a securemsg audit export")
                export = ExportFile(path=path, header=item)
            elif export is None:
                raise ValueError("missing header")
            elif kind == "key":
                export.keys[item["kid"]] = base64.b64decode(item["spki"], validate=True)
            elif kind == "checkpoint":
                signature = base64.b64decode(item["signature"], validate=True)
                export.checkpoints[int(item["seq"])] = CheckpointRow(
                    int(item["seq"]), item["head_hash"], item["kid"], signature
                )
            elif kind == "end":
                export.end = item
            else:
                raise ValueError(f"unknown line type {kind!r}")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise AuditFileError(f"{path}:{number}: malformed line ({exc})") from exc
    if export is None:
        raise AuditFileError(f"{path} is empty")
    return export


def _file_rows(path: Path) -> Iterator[ChainRow]:
    for _number, line in _open_lines(path):
        if not line.startswith(EVENT_PREFIX):
            continue
        item = json.loads(line)
        fields = {name: item[name] for name in ROW_COLUMNS if name not in ("prev_hash", "hash")}
        yield ChainRow(fields=fields, prev_hash=item["prev_hash"], hash=item["hash"])


class _FileLocator:
    def __init__(self, path: Path) -> None:
        self._path = path

    def _find(self, name: str, digest: str) -> int | None:
        for row in _file_rows(self._path):
            if (row.hash if name == "hash" else row.prev_hash) == digest:
                return row.seq
        return None

    def seq_with_hash(self, digest: str) -> int | None:
        return self._find("hash", digest)

    def seq_with_prev(self, digest: str) -> int | None:
        return self._find("prev_hash", digest)


def verify_file(path: Path) -> tuple[Result, ExportFile]:
    """Verify an export file offline with the public keys it carries.

    Raises ``AuditFileError`` when the file cannot be read or its non-event
    lines are malformed (a malformed event line is a ``malformed`` break).
    """
    export = read_export(path)
    start = int(export.header.get("from_seq") or 1)
    anchor = _anchor(start, export.checkpoints, trusted=True)
    to_seq, to_hash = export.header.get("to_seq"), export.header.get("to_hash")
    head = (int(to_seq), str(to_hash)) if to_seq and to_hash else None
    result = walk(
        _file_rows(path),
        export.checkpoints,
        export.keys.get,
        _FileLocator(path),
        anchor=anchor,
        pruned_ok=False,
        head=head,
    )
    if result.ok and export.end is None:
        result.broken = Break(
            BreakKind.TRUNCATED, (result.last_seq or 0) + 1, "the file ends before its end line"
        )
    result.notes.append(
        "MACs not checked: the audit key never leaves the installation "
        "(run audit verify there for the MACs and the second sink)"
    )
    for kid, spki in sorted(export.keys.items()):
        result.notes.append(f"key {kid}: SPKI SHA-256 {fingerprint(spki)}")
    return result, export
