"""App configuration of the audit log."""

from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The tamper-evident audit log."""

    name = "securemsg.audit"
    label = "audit"
    verbose_name = "Audit log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the account signal receivers and register the system checks."""
        from securemsg.audit import checks  # noqa: F401 -- registers the checks
        from securemsg.audit.internal import signals

        signals.connect()
