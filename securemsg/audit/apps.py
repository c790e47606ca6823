from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The tamper-evident audit log."""

    name = "securemsg.audit"
    label = "audit"
    verbose_name = "Audit log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the account signal receivers and register the system checks."""
        from django.core.signals import setting_changed

        from securemsg.audit import checks  # noqa: F401 -- registers the checks
        from securemsg.audit.internal import signals

        signals.connect()
        setting_changed.connect(_on_setting_changed, dispatch_uid="audit_setting_changed")


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    # Another database, key vault or file: the kept audit key and the open
    # file belong to the old one.
    if setting.startswith(("KEYVAULT_", "SECUREMSG_AUDIT_")) or setting in (
        "DATA_DIR",
        "DATABASES",
    ):
        from securemsg.audit.internal import auditkey, filesink

        auditkey.reset()
        filesink.writer.close()
