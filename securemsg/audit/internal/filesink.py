"""The second sink: an append-only JSON Lines file that receives every event.

Two kinds of line (``docs/audit.md``, "Second sink")::

    {"type":"event", <the row's hashed fields>, "prev_hash", "hash", "mac", "audit_key_id"}
    {"type":"commit","seq":N,"hash":H}

The event line is written and fsync'd inside the chain transaction, before
the commit: if the file refuses it, the database write rolls back and the
action is refused (fail closed on both sinks). The commit line follows the
database commit (not fsync'd), so verification can tell an event that was
rolled back (no commit line) from one deleted from the database later.

The file is opened with ``O_APPEND`` and each line is one ``write``, so
processes share it safely; writers hold the chain lock, so event lines are
in chain order. Past ``SECUREMSG_AUDIT_FILE_MAX_BYTES`` the file is renamed
to the next free ``<name>.<n>`` (1, 2, …; never deleted or overwritten) and
a new one is started; a process that finds the path renamed under it
reopens it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from securemsg.audit.app_settings import app_settings
from securemsg.audit.exceptions import AuditSinkError

logger = logging.getLogger("securemsg.audit")

#: Prefixes of the two line types (the writer puts ``type`` first).
EVENT_PREFIX: Final = '{"type":"event"'
COMMIT_PREFIX: Final = '{"type":"commit"'
_ROTATED_RE: Final = re.compile(r"\.(\d+)$")


def _line(item: dict[str, Any]) -> bytes:
    text = json.dumps(item, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8")


def event_line(row: dict[str, Any]) -> bytes:
    """The event line of ``row`` (hashed fields with ``ts`` as text, links, MAC)."""
    return _line({"type": "event", **row})


def _append(fd: int, data: bytes) -> None:
    """Append ``data`` whole or not at all.

    A full disk can take part of a line (a short write); the torn part would
    glue itself to the next line and make the file unreadable there. Under an
    exclusive lock shared by every writing process, the file is cut back to
    its size before the write when the write fails.
    """
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)")
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


class _Writer:
    """This process's handle on the file; one lock, one ``write`` per line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._path: Path | None = None
        self._inode: tuple[int, int] | None = None
        #: The last failure, for ``sink_health`` (a short reason, never a field).
        self.last_error: str | None = None

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd, self._path, self._inode = None, None, None

    def _open(self, path: Path) -> int:
        """The descriptor of ``path``, reopened when it moved or another path is configured."""
        if self._fd is not None and self._path == path:
            try:
                stat = os.stat(path)
                if (stat.st_dev, stat.st_ino) == self._inode:
                    return self._fd
            except FileNotFoundError:
                pass
        self._close()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        stat = os.fstat(fd)
        self._fd, self._path, self._inode = fd, path, (stat.st_dev, stat.st_ino)
        return fd

    def _rotate_if_full(self, path: Path, fd: int) -> int:
        limit = app_settings.FILE_MAX_BYTES
        if limit <= 0 or os.fstat(fd).st_size < limit:
            return fd
        number = max((n for n, _ in rotated_files(path)), default=0) + 1
        target = path.with_name(f"{path.name}.{number}")
        # Only a writer holding the chain lock rotates, so the name is free.
        os.rename(path, target)
        logger.info("audit file rotated to %s", target.name)
        return self._open(path)

    def write_event(self, data: bytes) -> None:
        """Append one event line and fsync it; raises ``AuditSinkError``."""
        self.write_events([data])

    def write_events(self, lines: list[bytes]) -> None:
        """Append event lines in one write (whole or not at all) and one fsync.

        A group commit's lines: one fsync makes them all durable. Raises
        ``AuditSinkError``.
        """
        path = app_settings.FILE
        with self._lock:
            try:
                fd = self._rotate_if_full(path, self._open(path))
                _append(fd, b"".join(lines))
                os.fsync(fd)
            except OSError as exc:
                self._close()
                self.last_error = f"{type(exc).__name__}: {exc.strerror or exc}"
                logger.error("audit file %s cannot be written: %s", path, self.last_error)
                raise AuditSinkError(
                    f"the audit file cannot be written ({self.last_error})"
                ) from exc
            self.last_error = None

    def write_commit(self, seq: int, digest: str) -> None:
        """Append the commit line of ``seq``; a failure is logged (the event line is safe)."""
        data = _line({"type": "commit", "seq": seq, "hash": digest})
        path = app_settings.FILE
        with self._lock:
            try:
                _append(self._open(path), data)
            except OSError as exc:
                self._close()
                logger.error("audit file commit line of row %s not written: %s", seq, exc)


writer = _Writer()


def rotated_files(path: Path) -> list[tuple[int, Path]]:
    """The rotated files of ``path`` as ``(number, path)``, oldest first."""
    found = []
    if path.parent.is_dir():
        for candidate in path.parent.glob(path.name + ".*"):
            match = _ROTATED_RE.search(candidate.name)
            if match and candidate.name == f"{path.name}.{match.group(1)}":
                found.append((int(match.group(1)), candidate))
    return sorted(found)


def sink_files(path: Path) -> list[Path]:
    """Every file of the sink, oldest first (the rotated ones, then the current one)."""
    files = [p for _, p in rotated_files(path)]
    if path.exists():
        files.append(path)
    return files


@dataclass
class SinkContents:
    """What the sink's files say about each seq."""

    files: list[Path] = field(default_factory=list)
    #: seq -> hash of the last event line written for it (rolled-back attempts are overwritten).
    events: dict[int, str] = field(default_factory=dict)
    #: seq -> hash of its (first) commit line.
    committed: dict[int, str] = field(default_factory=dict)
    #: seqs committed twice with different hashes (the chain was restarted after a deletion).
    recommitted: list[int] = field(default_factory=list)
    #: "file:line" of lines that cannot be read.
    malformed: list[str] = field(default_factory=list)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        yield from enumerate(handle, start=1)


def read_sink(path: Path) -> SinkContents:
    """Read every file of the sink; raises ``AuditSinkError`` when one cannot be read."""
    contents = SinkContents(files=sink_files(path))
    for file in contents.files:
        try:
            for number, line in _lines(file):
                if not line.endswith("\n"):
                    # A line cut by a crash during its write: never committed.
                    continue
                try:
                    item = json.loads(line)
                    seq, digest = int(item["seq"]), str(item["hash"])
                    kind = item["type"]
                except (ValueError, KeyError, TypeError, RecursionError):
                    contents.malformed.append(f"{file.name}:{number}")
                    continue
                if kind == "event":
                    contents.events[seq] = digest
                elif kind == "commit":
                    first = contents.committed.setdefault(seq, digest)
                    if first != digest:
                        contents.recommitted.append(seq)
                else:
                    contents.malformed.append(f"{file.name}:{number}")
        except OSError as exc:
            raise AuditSinkError(f"cannot read {file}: {exc.strerror or exc}") from exc
    return contents


def last_seq(path: Path) -> int | None:
    """The seq of the last event line of the sink (reads only the end of the newest file)."""
    for file in reversed(sink_files(path)):
        try:
            with file.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 65536))
                tail = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return None
        for line in reversed(tail.splitlines()):
            if line.startswith(EVENT_PREFIX):
                try:
                    return int(json.loads(line)["seq"])
                except (ValueError, KeyError, TypeError, RecursionError):
                    continue
    return None
