"""Settings of the audit log, read lazily from Django settings.

Every setting is ``SECUREMSG_AUDIT_<NAME>`` in Django settings and an
environment variable of the same name (see the README's configuration table).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

#: Default size at which the second sink's file is rotated (64 MiB).
DEFAULT_FILE_MAX_BYTES = 64 * 1024 * 1024


class AuditSettings:
    """Typed accessors with their defaults next to the names."""

    @property
    def CHECKPOINT_EVERY(self) -> int:  # noqa: N802 -- settings read like constants
        """Take a signed checkpoint after every N events (0 turns automatic checkpoints off)."""
        return int(getattr(settings, "SECUREMSG_AUDIT_CHECKPOINT_EVERY", 1000))

    @property
    def FILE(self) -> Path:  # noqa: N802
        """The second sink: a JSON Lines file of every event (``<data dir>/audit.jsonl``)."""
        default = Path(settings.DATA_DIR) / "audit.jsonl"
        return Path(getattr(settings, "SECUREMSG_AUDIT_FILE", None) or default)

    @property
    def FILE_MAX_BYTES(self) -> int:  # noqa: N802
        """Rotate the file (to ``audit.jsonl.1``, ``.2``, …; never deleted) past this size."""
        return int(getattr(settings, "SECUREMSG_AUDIT_FILE_MAX_BYTES", DEFAULT_FILE_MAX_BYTES))


app_settings = AuditSettings()
