"""Settings of the audit log, read lazily from Django settings.

Every setting is ``SECUREMSG_AUDIT_<NAME>`` in Django settings and an
environment variable of the same name (see the README's configuration table).
"""

from __future__ import annotations

from django.conf import settings


class AuditSettings:
    """Typed accessors with their defaults next to the names."""

    @property
    def CHECKPOINT_EVERY(self) -> int:  # noqa: N802 -- settings read like constants
        """Take a signed checkpoint after every N events (0 turns automatic checkpoints off)."""
        return int(getattr(settings, "SECUREMSG_AUDIT_CHECKPOINT_EVERY", 1000))


app_settings = AuditSettings()
