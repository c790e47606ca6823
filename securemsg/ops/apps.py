"""The operations app: health checks, metrics, structured logs and the status page."""

from __future__ import annotations

import atexit
import os
from typing import Any

from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Connects the metric hooks when Django starts."""

    name = "securemsg.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        """Install the key vault cache observer and the audit/lockout signal receivers."""
        from axes.signals import user_locked_out
        from django.db.models.signals import post_save

        from keyvault.internal import cache
        from securemsg.audit.models import AuditEvent
        from securemsg.ops import checks, metrics

        checks.register()
        cache.observer = metrics.vault_cache_event
        post_save.connect(_audit_event_saved, sender=AuditEvent, dispatch_uid="ops.audit_metric")
        user_locked_out.connect(_locked_out, dispatch_uid="ops.lockout_metric")
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            atexit.register(_mark_process_dead, os.getpid())


def _audit_event_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    from django.db import transaction

    from securemsg.ops import metrics

    if created:
        # Counted when committed: a rolled-back action (or the readiness probe) is not.
        event = str(instance.event)
        transaction.on_commit(lambda: metrics.audit_event_committed(event))


def _locked_out(sender: Any, **kwargs: Any) -> None:
    from securemsg.ops import metrics

    metrics.lockout()


def _mark_process_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    # Drops this process's live gauges (open sessions) from the aggregated scrape.
    multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
