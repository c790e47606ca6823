"""Readiness checks (django-health-check ``HealthCheck`` classes) and their reports.

Four dependencies decide whether this process can serve: the database, the
channel layer, the key vault and the audit log. Each check raises
``CheckFailed`` (not ready) or ``CheckWarning`` (ready, but something needs
doing soon) with three texts:

- ``reason``: a short fixed phrase, safe for the unauthenticated readiness
  endpoint (no path, host, kid or message text);
- ``detail``: what exactly is wrong, for the doctor command and the staff
  status page (no secret: vault and audit messages never hold key material);
- ``remedy``: what the operator should do (docs/operations.md, "Runbooks").

The same checks serve ``/health/ready``, ``manage.py securemsg doctor`` and
the admin status page, so the three never disagree.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, ClassVar, Final, Literal

from django.db import DatabaseError, connections, transaction
from django.utils import timezone
from health_check.base import HealthCheck, HealthCheckResult
from health_check.checks import Database
from health_check.exceptions import HealthCheckException, ServiceUnavailable, ServiceWarning

__all__ = [
    "CHECKS",
    "AuditLogCheck",
    "ChannelLayerCheck",
    "CheckFailed",
    "CheckReport",
    "CheckWarning",
    "DatabaseCheck",
    "KeyVaultCheck",
    "ReadinessCheck",
    "overall",
    "run_checks",
    "run_checks_sync",
]

logger = logging.getLogger("securemsg.ops")

#: Rows at the head of the audit chain that readiness re-hashes.
HEAD_ROWS: Final = 200
#: Longest stretch walked to reach the last checkpoint (else only the head is checked).
MAX_WALK: Final = 5000
#: How long the channel layer round trip may take.
CHANNEL_TIMEOUT: Final = 2.0

Status = Literal["ok", "warn", "fail"]


class CheckFailed(ServiceUnavailable):  # type: ignore[misc]
    """A dependency is not usable: readiness is red."""

    def __init__(self, reason: str, *, detail: str = "", remedy: str = "") -> None:
        super().__init__(reason)
        self.detail = detail or reason
        self.remedy = remedy


class CheckWarning(ServiceWarning):  # type: ignore[misc]
    """A dependency works but needs attention soon: readiness stays green."""

    def __init__(self, reason: str, *, detail: str = "", remedy: str = "") -> None:
        super().__init__(reason)
        self.detail = detail or reason
        self.remedy = remedy


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """The outcome of one check, as the endpoint, the doctor and the status page show it."""

    name: str
    title: str
    status: Status
    reason: str = ""
    detail: str = ""
    remedy: str = ""
    seconds: float = 0.0

    def public(self) -> dict[str, Any]:
        """What the unauthenticated readiness endpoint shows."""
        data: dict[str, Any] = {"status": self.status, "seconds": round(self.seconds, 4)}
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclasses.dataclass
class ReadinessCheck(HealthCheck):  # type: ignore[misc]
    """A named readiness check; ``probe`` does the work and raises on a problem."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: What to do when the check fails with an unexpected error.
    remedy: ClassVar[str] = ""
    timeout = timedelta(seconds=5)

    def __repr__(self) -> str:
        return self.name

    def probe(self) -> None:
        """Check the dependency (synchronous checks); raise CheckFailed / CheckWarning."""
        raise NotImplementedError

    def run(self) -> None:
        """Run ``probe`` in the library's worker thread, then close that thread's connections."""
        try:
            _bound_lock_waits(self.timeout)
            self.probe()
        finally:
            # Worker threads outlive the check; do not leave a connection open in them.
            connections.close_all()


def _bound_lock_waits(limit: timedelta) -> None:
    """Make this thread's SQLite connection give up on a lock before the check's timeout.

    SQLite otherwise waits its whole busy timeout (30 s, settings.py) for a
    writer's lock, so a status page or readiness probe would hang long past
    its own timeout and report nothing useful. The connection is closed when
    the check ends, so the shorter wait does not reach other code.
    """
    connection = connections["default"]
    if connection.vendor == "sqlite":
        milliseconds = int(limit.total_seconds() * 800)  # 80 % of the check's time
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {milliseconds}")


@dataclasses.dataclass
class DatabaseCheck(ReadinessCheck):
    """``SELECT 1`` on the default database (django-health-check's own check)."""

    name: ClassVar[str] = "database"
    title: ClassVar[str] = "Database"
    remedy: ClassVar[str] = (
        "Check that the database server runs and DATABASE_URL points to it; "
        "docs/operations.md#database"
    )

    def probe(self) -> None:
        """Run the library's check and name the failure."""
        try:
            Database(alias="default").run()
        except ServiceUnavailable as exc:
            raise CheckFailed(
                "database unreachable", detail=f"database: {exc.message}", remedy=self.remedy
            ) from exc


@dataclasses.dataclass
class ChannelLayerCheck(ReadinessCheck):
    """A message sent to a fresh channel comes back (Redis when ``REDIS_URL`` is set)."""

    name: ClassVar[str] = "channel_layer"
    title: ClassVar[str] = "Channel layer"
    remedy: ClassVar[str] = (
        "Check that Redis runs and REDIS_URL points to it (redis-cli ping); "
        "docs/operations.md#channel-layer"
    )

    async def run(self) -> None:  # type: ignore[override]
        """Round trip one message through the channel layer."""
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            raise CheckFailed("no channel layer", remedy="Set CHANNEL_LAYERS (see README).")
        kind = type(layer).__name__
        nonce = secrets.token_hex(8)
        try:
            channel = await layer.new_channel()
            await layer.send(channel, {"type": "ops.probe", "nonce": nonce})
            message = await asyncio.wait_for(layer.receive(channel), CHANNEL_TIMEOUT)
        except TimeoutError as exc:
            raise CheckFailed(
                "channel layer timeout",
                detail=f"{kind}: no message back within {CHANNEL_TIMEOUT:g} s",
                remedy=self.remedy,
            ) from exc
        except Exception as exc:
            # Backends raise their own errors (redis, OSError); only the class is shown,
            # since a message could name a URL with a password.
            raise CheckFailed(
                "channel layer unreachable",
                detail=f"{kind}: {type(exc).__name__}",
                remedy=self.remedy,
            ) from exc
        if message.get("nonce") != nonce:
            raise CheckFailed(
                "channel layer returned another message", detail=kind, remedy=self.remedy
            )


_VAULT_REASONS: Final = {
    "MasterKeyMissingError": "master key missing",
    "WrongMasterKeyError": "wrong master key",
    "TokenUnavailableError": "token unavailable",
    "ConfigurationError": "key vault misconfigured",
    "CorruptedKeyError": "corrupted key row",
}
_VAULT_REMEDIES: Final = {
    "MasterKeyMissingError": (
        "Restore the master keyring (SECUREMSG_MASTER_KEY_FILE) or HSM token from backup; "
        "never run 'keyvault init' over existing keys. docs/operations.md#key-vault"
    ),
    "WrongMasterKeyError": (
        "The configured master key is not the one that wrapped the keys: restore the right "
        "keyring file or token. docs/operations.md#key-vault"
    ),
    "TokenUnavailableError": (
        "Check the PKCS#11 module, token label and PIN (SECUREMSG_PKCS11_*). "
        "docs/operations.md#key-vault"
    ),
}


@dataclasses.dataclass
class KeyVaultCheck(ReadinessCheck):
    """Master key usable (health call and check-value unwrap), an active key per purpose,
    no rotation overdue beyond the grace period."""

    name: ClassVar[str] = "key_vault"
    title: ClassVar[str] = "Key vault"
    remedy: ClassVar[str] = "Run 'manage.py keyvault status'; docs/operations.md#key-vault"

    def probe(self) -> None:
        """Check the master key, then the active keys against the rotation policy."""
        from keyvault.exceptions import KeyVaultError
        from keyvault.internal.master import verify_master_key
        from keyvault.kms import get_backend

        try:
            verify_master_key(get_backend())
        except KeyVaultError as exc:
            name = type(exc).__name__
            raise CheckFailed(
                _VAULT_REASONS.get(name, "key vault error"),
                detail=f"{name}: {exc}",
                remedy=_VAULT_REMEDIES.get(name, self.remedy),
            ) from exc
        except DatabaseError as exc:
            raise CheckFailed(
                "key vault storage unreadable",
                detail=type(exc).__name__,
                remedy="Fix the database first (see the database row).",
            ) from exc
        self._check_keys()

    def _check_keys(self) -> None:
        from keyvault.conf import app_settings
        from keyvault.models import Purpose, ServerKey, State

        now = timezone.now()
        keys = {
            row.purpose: row
            for row in ServerKey.objects.filter(state=State.ACTIVE).only(
                "kid", "purpose", "activated_at"
            )
        }
        missing = [purpose for purpose in Purpose.values if purpose not in keys]
        if missing:
            raise CheckFailed(
                "no active key",
                detail=f"no active {' or '.join(missing)} key",
                remedy=(
                    "Run 'manage.py keyvault init' (creates missing active keys) or "
                    "'manage.py keyvault rotate --purpose <purpose>'. docs/operations.md#key-vault"
                ),
            )
        late: list[str] = []
        due: list[str] = []
        for purpose, key in sorted(keys.items()):
            if key.activated_at is None:
                continue
            due_at = key.activated_at + app_settings.max_age(purpose)
            if now > due_at + app_settings.grace:
                late.append(f"{key.kid} ({purpose}) was due {due_at:%Y-%m-%d}")
            elif now > due_at:
                due.append(f"{key.kid} ({purpose}) due {due_at:%Y-%m-%d}")
        if late:
            raise CheckFailed(
                "key rotation overdue",
                detail="rotation overdue beyond the grace period: " + "; ".join(late),
                remedy=(
                    "Run 'manage.py keyvault rotate --due' now and check that its cron job "
                    "runs. docs/operations.md#key-vault"
                ),
            )
        due += _other_due_work(now)
        if due:
            raise CheckWarning(
                "key vault work due",
                detail="; ".join(due),
                remedy="Run 'manage.py keyvault rotate --due' (normally its daily cron job).",
            )


def _other_due_work(now: Any) -> list[str]:
    from keyvault.models import ServerKey, State

    work = [
        f"{kid} retiring past its deadline (disable due)"
        for kid in ServerKey.objects.filter(
            state=State.RETIRING, retire_after__lte=now
        ).values_list("kid", flat=True)
    ]
    work += [
        f"{kid} destruction due"
        for kid in ServerKey.objects.filter(
            state=State.PENDING_DELETION, delete_after__lte=now
        ).values_list("kid", flat=True)
    ]
    return work


class _RollBackError(Exception):
    """Undo the audit write probe."""


@dataclasses.dataclass
class AuditLogCheck(ReadinessCheck):
    """The audit log takes a write (rolled back) and its head re-hashes to the last checkpoint."""

    name: ClassVar[str] = "audit_log"
    title: ClassVar[str] = "Audit log"
    remedy: ClassVar[str] = "Run 'manage.py audit verify'; docs/operations.md#audit-log"

    def probe(self) -> None:
        """Write probe first (fail closed means no write, no service), then the head."""
        self._probe_write()
        self._check_sinks()
        self._verify_head()

    def _check_sinks(self) -> None:
        # The audit app's own reading of both sinks (the database chain and the
        # second, file sink; it also loads the audit key for this process).
        from securemsg import audit

        sink_health = getattr(audit, "sink_health", None)
        if sink_health is None:
            return
        health = sink_health()
        if not health.ok:
            broken = [s for s in (health.database, health.file) if not s.ok]
            raise CheckFailed(
                "audit log not writable",
                detail="; ".join(f"{s.name}: {s.detail}" for s in broken),
                remedy=(
                    "Every audited action is refused until both sinks take events: check "
                    "the second sink's file and directory (SECUREMSG_AUDIT_FILE), disk space "
                    "and the key vault (audit key). docs/operations.md#audit-log"
                ),
            )

    def _probe_write(self) -> None:
        # A row inserted straight into the table and rolled back: it takes the
        # same write path (table, indexes, triggers, disk) without touching the
        # chain head, the second sink or a concurrent writer's seq.
        from securemsg.audit.models import GENESIS_HASH, AuditEvent

        try:
            with transaction.atomic():
                AuditEvent.objects.create(
                    seq=-secrets.randbelow(2**62) - 1,
                    ts=timezone.now(),
                    event="ops.readiness_probe",
                    outcome="success",
                    prev_hash=GENESIS_HASH,
                    hash=GENESIS_HASH,
                )
                raise _RollBackError
        except _RollBackError:
            return
        except DatabaseError as exc:
            raise CheckFailed(
                "audit log not writable",
                detail=f"a test row could not be inserted ({type(exc).__name__}: {exc})",
                remedy=(
                    "Every audited action is refused until the audit table takes writes: "
                    "check disk space, database permissions and triggers. "
                    "docs/operations.md#audit-log"
                ),
            ) from exc

    def _verify_head(self) -> None:
        from securemsg.audit.exceptions import AuditUnavailable, CheckpointError
        from securemsg.audit.internal.sources import verify_database
        from securemsg.audit.models import ChainHead, Checkpoint

        try:
            head = ChainHead.objects.filter(pk=1).values_list("seq", flat=True).first() or 0
            if head == 0:
                return
            start = max(1, head - HEAD_ROWS + 1)
            last = Checkpoint.objects.order_by("-seq").values_list("seq", flat=True).first()
            if last is not None and head - MAX_WALK < last < start:
                start = last
            result = verify_database(start)
        except CheckpointError as exc:
            raise CheckWarning(
                "audit head not verified",
                detail=f"checkpoint signatures cannot be checked: {exc}",
                remedy="Fix the key vault first (see its row), then run 'manage.py audit verify'.",
            ) from exc
        except (AuditUnavailable, DatabaseError) as exc:
            raise CheckFailed("audit log unreadable", detail=str(exc), remedy=self.remedy) from exc
        if result.broken is not None:
            raise CheckFailed(
                "audit chain broken",
                detail=f"row {result.broken.seq}: {result.broken.kind}: {result.broken.message}",
                remedy=(
                    "Treat as an incident: keep the database as it is, run 'manage.py audit "
                    "verify' and compare with the last export. docs/operations.md#audit-log"
                ),
            )


#: The readiness checks, in the order they are shown.
CHECKS: Final[tuple[type[ReadinessCheck], ...]] = (
    DatabaseCheck,
    ChannelLayerCheck,
    KeyVaultCheck,
    AuditLogCheck,
)


def _report(result: HealthCheckResult) -> CheckReport:
    check = result.check
    assert isinstance(check, ReadinessCheck)  # noqa: S101 (type narrowing)  # nosec B101
    base = {"name": check.name, "title": check.title, "seconds": result.time_taken}
    error: HealthCheckException | None = result.error
    if error is None:
        return CheckReport(status="ok", **base)
    status: Status = "warn" if isinstance(error, ServiceWarning) else "fail"
    reason = str(error.message) if isinstance(error, CheckFailed | CheckWarning) else "check error"
    if isinstance(error, CheckFailed | CheckWarning):
        return CheckReport(
            status=status, reason=reason, detail=error.detail, remedy=error.remedy, **base
        )
    # A timeout or an unexpected exception (logged by the library with our request id).
    return CheckReport(
        status=status,
        reason=reason if "Timed out" not in str(error.message) else "timeout",
        detail=str(error.message),
        remedy=check.remedy,
        **base,
    )


async def run_checks(checks: Iterable[type[ReadinessCheck]] = CHECKS) -> list[CheckReport]:
    """Run ``checks`` concurrently (each with its timeout) and report them in order."""
    results = await asyncio.gather(*(check().get_result() for check in checks))
    reports = [_report(result) for result in results]
    for report in reports:
        if report.status != "ok":
            logger.warning("readiness check %s: %s (%s)", report.name, report.status, report.reason)
    return reports


def run_checks_sync(checks: Iterable[type[ReadinessCheck]] = CHECKS) -> list[CheckReport]:
    """``run_checks`` from synchronous code (the doctor command, the status page)."""
    return asyncio.run(run_checks(checks))


def overall(reports: Iterable[CheckReport]) -> Status:
    """``fail`` if any check failed, else ``warn`` if any warned, else ``ok``."""
    statuses = {report.status for report in reports}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "ok"
