from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The tamper-evident audit log."""

    name = "securemsg.audit"
    label = "audit"
    verbose_name = "Audit log"
