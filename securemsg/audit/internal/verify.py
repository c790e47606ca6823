"""Walking the chain and its checkpoints; reports the first broken link.

The same walk serves the database (``audit verify``, the admin view) and an
export file (``audit verify --file``): a *source* yields rows in ``seq``
order and answers two look-ups that are only needed to name the kind of a
break (which row really precedes or follows a misplaced one).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from securemsg.audit.internal.auditkey import AuditKey, mac_matches
from securemsg.audit.internal.canonical import HASHED_FIELDS, chain_hash
from securemsg.audit.internal.signer import checkpoint_message, verify_signature

GENESIS_HASH: Final = "0" * 64
#: How far from its position a moved row is searched for (see ``_written_seq``).
_MOVE_WINDOW: Final = 8


class BreakKind(enum.StrEnum):
    """What kind of tampering the first broken link shows (``docs/audit.md``)."""

    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    FORGED_CHECKPOINT = "forged_checkpoint"
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    TRUNCATED = "truncated"
    MALFORMED = "malformed"
    MAC_MISSING = "mac_missing"
    SINK_MISMATCH = "sink_mismatch"


@dataclass(frozen=True)
class ChainRow:
    """One event as stored: the hashed fields plus ``prev_hash`` and ``hash`` (and its MAC)."""

    fields: dict[str, Any]
    prev_hash: str
    hash: str
    mac: str | None = None
    audit_key_id: str | None = None

    @property
    def seq(self) -> int:
        """Position in the chain."""
        return int(self.fields["seq"])


@dataclass(frozen=True)
class CheckpointRow:
    """A stored checkpoint."""

    seq: int
    head_hash: str
    kid: str
    signature: bytes


@dataclass(frozen=True)
class Break:
    """The first broken link: its kind, the seq where it shows, and an explanation."""

    kind: BreakKind
    seq: int
    message: str


@dataclass
class Result:
    """Outcome of one verification run."""

    rows: int = 0
    checkpoints: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_checkpoint: int | None = None
    broken: Break | None = None
    notes: list[str] = field(default_factory=list)
    #: The protections this run checked, e.g. "hash chain (10 rows)".
    protections: list[str] = field(default_factory=list)
    macs: int = 0

    @property
    def ok(self) -> bool:
        """True when no link is broken."""
        return self.broken is None

    def summary(self) -> dict[str, Any]:
        """The result as a small JSON object (also the ``audit.verified`` details)."""
        data: dict[str, Any] = {
            "ok": self.ok,
            "rows": self.rows,
            "checkpoints": self.checkpoints,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "last_checkpoint": self.last_checkpoint,
            "protections": list(self.protections),
        }
        if self.broken is not None:
            data["kind"] = str(self.broken.kind)
            data["broken_seq"] = self.broken.seq
            data["message"] = self.broken.message[:300]
        return data


class Locator(Protocol):
    """Look-ups over the whole source, used only once a link is broken."""

    def seq_with_hash(self, digest: str) -> int | None:
        """Stored seq of the row whose ``hash`` is ``digest``."""

    def seq_with_prev(self, digest: str) -> int | None:
        """Stored seq of the row whose ``prev_hash`` is ``digest``."""


@dataclass
class Anchor:
    """What the first row must link to, and how much that is trusted."""

    prev_hash: str | None
    description: str
    checkpoint: CheckpointRow | None = None


@dataclass
class MacPolicy:
    """The keyed chain as the installation knows it: the opened audit keys.

    ``chain_from`` is the first row that must carry a MAC (None: no audit
    key is stored, so no row can be checked); ``unusable`` names stored
    keys that no longer open, with the reason.
    """

    keys: dict[str, AuditKey]
    unusable: dict[str, str]

    @property
    def chain_from(self) -> int | None:
        """The first seq the oldest audit key covers."""
        return min((key.chain_from for key in self.keys.values()), default=None)


class _BrokenLinkError(Exception):
    def __init__(self, kind: BreakKind, seq: int, message: str) -> None:
        super().__init__(message)
        self.found = Break(kind, seq, message)


def _hash_at(row: ChainRow, seq: int) -> str:
    return chain_hash(row.prev_hash, dict(row.fields, seq=seq))


def _written_seq(row: ChainRow, locator: Locator) -> int | None:
    """The seq ``row`` was written at, if its content is intact but it moved."""
    candidates: list[int] = []
    before = locator.seq_with_hash(row.prev_hash)
    if before is not None:
        candidates.append(before + 1)
    if row.prev_hash == GENESIS_HASH:
        candidates.append(1)
    after = locator.seq_with_prev(row.hash)
    if after is not None:
        candidates.append(after - 1)
    candidates.extend(range(row.seq - _MOVE_WINDOW, row.seq + _MOVE_WINDOW + 1))
    for seq in candidates:
        if seq > 0 and seq != row.seq and _hash_at(row, seq) == row.hash:
            return seq
    return None


def _check_row(
    row: ChainRow, previous: ChainRow | None, expected_prev: str | None, locator: Locator
) -> None:
    if set(row.fields) != set(HASHED_FIELDS):
        raise _BrokenLinkError(BreakKind.MALFORMED, row.seq, f"row {row.seq} lacks hashed fields")
    if _hash_at(row, row.seq) != row.hash:
        written = _written_seq(row, locator)
        if written is None:
            raise _BrokenLinkError(
                BreakKind.EDITED, row.seq, f"row {row.seq} was edited: it does not match its hash"
            )
        if locator.seq_with_hash(row.prev_hash) is None and row.prev_hash != GENESIS_HASH:
            raise _BrokenLinkError(
                BreakKind.DELETED,
                row.seq,
                f"row {row.seq} was written as {written} and its predecessor is gone: "
                "rows were deleted and the rest renumbered",
            )
        raise _BrokenLinkError(
            BreakKind.REORDERED,
            row.seq,
            f"rows were reordered: row {row.seq} was written as row {written}",
        )
    if previous is not None and row.seq != previous.seq + 1:
        raise _BrokenLinkError(
            BreakKind.DELETED,
            previous.seq + 1,
            f"rows {previous.seq + 1}..{row.seq - 1} were deleted",
        )
    if expected_prev is not None and row.prev_hash != expected_prev:
        moved = locator.seq_with_hash(row.prev_hash)
        if moved is not None:
            raise _BrokenLinkError(
                BreakKind.REORDERED,
                row.seq,
                f"rows were reordered: row {row.seq} follows row {moved} in the chain",
            )
        if previous is None:
            raise _BrokenLinkError(
                BreakKind.DELETED,
                row.seq,
                f"row {row.seq} does not link to the anchor: rows before it were deleted",
            )
        raise _BrokenLinkError(
            BreakKind.EDITED,
            previous.seq,
            f"row {previous.seq} was edited and its hash recomputed: "
            f"row {row.seq} links to a hash no row has",
        )


def _check_mac(row: ChainRow, policy: MacPolicy) -> bool:
    """Check ``row``'s MAC; False for a row written before the keyed chain began."""
    start = policy.chain_from
    if start is None:
        why = f" ({'; '.join(policy.unusable.values())})" if policy.unusable else ""
        raise _BrokenLinkError(
            BreakKind.MAC_MISSING,
            row.seq,
            f"no usable audit key is stored{why}, so row {row.seq}'s MAC cannot be checked: "
            "the key was deleted or edited",
        )
    if row.seq < start:
        return False
    if not row.mac or not row.audit_key_id:
        raise _BrokenLinkError(
            BreakKind.MAC_MISSING,
            row.seq,
            f"row {row.seq} has no MAC although the keyed chain starts at row {start}: "
            "it was written outside the audit writer or its MAC was removed",
        )
    key = policy.keys.get(row.audit_key_id)
    if key is None:
        why = policy.unusable.get(row.audit_key_id, "no such audit key is stored")
        raise _BrokenLinkError(
            BreakKind.MAC_MISSING,
            row.seq,
            f"row {row.seq}'s audit key {row.audit_key_id} cannot be used ({why})",
        )
    if not mac_matches(key, row.hash, row.mac):
        raise _BrokenLinkError(
            BreakKind.EDITED,
            row.seq,
            f"row {row.seq} does not match its MAC: it was edited and the chain's hashes "
            "recomputed by someone without the audit key",
        )
    return True


def _check_checkpoint(
    checkpoint: CheckpointRow, row_hash: str | None, public_key: Callable[[str], bytes | None]
) -> None:
    spki = public_key(checkpoint.kid)
    message = checkpoint_message(checkpoint.seq, checkpoint.head_hash)
    if spki is None or not verify_signature(spki, checkpoint.signature, message):
        why = "unknown key" if spki is None else "invalid signature"
        raise _BrokenLinkError(
            BreakKind.FORGED_CHECKPOINT,
            checkpoint.seq,
            f"checkpoint {checkpoint.seq} is forged ({why}, kid {checkpoint.kid})",
        )
    if row_hash is not None and row_hash != checkpoint.head_hash:
        raise _BrokenLinkError(
            BreakKind.CHECKPOINT_MISMATCH,
            checkpoint.seq,
            f"checkpoint {checkpoint.seq} does not match row {checkpoint.seq}: "
            "the chain up to it was rewritten",
        )


def walk(
    rows: Iterable[ChainRow],
    checkpoints: dict[int, CheckpointRow],
    public_key: Callable[[str], bytes | None],
    locator: Locator,
    *,
    anchor: Anchor,
    pruned_ok: bool,
    head: tuple[int, str] | None = None,
    macs: MacPolicy | None = None,
) -> Result:
    """Verify ``rows`` (in seq order) and every checkpoint in their range.

    With ``macs`` (the installation, never an export) every row of the keyed
    chain must also carry a valid MAC under a stored audit key.

    ``anchor`` gives the ``prev_hash`` the first row must carry (None: taken
    from the first row, as ``--from`` does). ``pruned_ok`` lets the chain
    start after 1 when an ``audit.pruned`` event inside it says so. ``head``
    is the writer's head record, checked against the last row.
    """
    result = Result()
    previous: ChainRow | None = None
    expected_prev = anchor.prev_hash
    pruned_before: set[int] = set()
    try:
        if anchor.checkpoint is not None:
            _check_checkpoint(anchor.checkpoint, None, public_key)
        for row in _guarded(rows):
            _check_row(row, previous, expected_prev, locator)
            if macs is not None and _check_mac(row, macs):
                result.macs += 1
            if result.first_seq is None:
                result.first_seq = row.seq
            if row.fields["event"] == "audit.pruned":
                before = row.fields["details"].get("before")
                if isinstance(before, int):
                    pruned_before.add(before)
            checkpoint = checkpoints.get(row.seq)
            if checkpoint is not None:
                _check_checkpoint(checkpoint, row.hash, public_key)
                result.checkpoints += 1
                result.last_checkpoint = row.seq
            previous, expected_prev = row, row.hash
            result.rows += 1
            result.last_seq = row.seq
        _check_ends(result, checkpoints, public_key, pruned_before, pruned_ok, head, previous)
    except _BrokenLinkError as broken:
        result.broken = broken.found
    result.protections.append(f"hash chain ({result.rows} rows)")
    if macs is not None:
        ids = ", ".join(sorted(macs.keys)) or "none"
        result.protections.append(f"MACs ({result.macs} rows, audit key {ids})")
    result.protections.append(f"checkpoint signatures ({result.checkpoints})")
    result.notes.append(anchor.description)
    if result.last_seq is not None and result.last_checkpoint != result.last_seq:
        uncovered = result.last_seq - (result.last_checkpoint or (result.first_seq or 1) - 1)
        result.notes.append(f"{uncovered} row(s) after the last checkpoint are not yet signed")
    return result


def _guarded(rows: Iterable[ChainRow]) -> Iterator[ChainRow]:
    try:
        yield from rows
    except (KeyError, TypeError, ValueError) as exc:
        raise _BrokenLinkError(BreakKind.MALFORMED, 0, f"malformed row: {exc}") from exc


def _check_ends(
    result: Result,
    checkpoints: dict[int, CheckpointRow],
    public_key: Callable[[str], bytes | None],
    pruned_before: set[int],
    pruned_ok: bool,
    head: tuple[int, str] | None,
    last: ChainRow | None,
) -> None:
    first = result.first_seq
    if pruned_ok and first is not None and first > 1 and first not in pruned_before:
        raise _BrokenLinkError(
            BreakKind.DELETED,
            first - 1,
            f"rows 1..{first - 1} are missing and no audit.pruned event records a prune",
        )
    last_seq = result.last_seq or 0
    beyond = sorted(seq for seq in checkpoints if seq > last_seq)
    if beyond:
        _check_checkpoint(checkpoints[beyond[-1]], None, public_key)
        raise _BrokenLinkError(
            BreakKind.TRUNCATED,
            last_seq + 1,
            f"the chain ends at row {last_seq} but checkpoint {beyond[-1]} is signed: "
            f"rows {last_seq + 1}..{beyond[-1]} were deleted",
        )
    if head is not None:
        head_seq, head_hash = head
        if head_seq > last_seq:
            raise _BrokenLinkError(
                BreakKind.TRUNCATED,
                last_seq + 1,
                f"the chain ends at row {last_seq} but {head_seq} rows were written: "
                f"rows {last_seq + 1}..{head_seq} were deleted",
            )
        if last is not None and (head_seq < last_seq or head_hash != last.hash):
            raise _BrokenLinkError(
                BreakKind.EDITED,
                last_seq,
                f"the chain head (row {head_seq}) does not match the last row {last_seq}: "
                "rows were rewritten or added outside the audit writer",
            )
