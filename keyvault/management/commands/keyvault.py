"""``manage.py keyvault <subcommand>``: operate the key vault (docs/keyvault.md, "Operations").

Every subcommand is idempotent where that makes sense and audited. Errors
print one line (never a traceback, never key material) and exit with the
status of the error class: 2 configuration or usage (also a refused
minimum version), 3 master key missing or wrong, 4 token unavailable, 5
corrupted key row, 6 unknown key, 7 no active key, 8 illegal state
transition, 9 the audit log refused the event, 1 any other vault or
database error.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from keyvault import services
from keyvault.exceptions import KeyVaultError
from keyvault.kms import get_backend
from keyvault.models import MasterKeyVersion, Purpose, ServerKey

#: Who the audit log names for command-line actions.
CLI_ACTOR = "cli:manage.py keyvault"

_KEY_ACTIONS = {
    "retire": services.retire_key,
    "disable": services.disable_key,
    "reenable": services.reenable_key,
    "schedule-deletion": services.schedule_deletion,
    "destroy": services.schedule_deletion,
    "cancel-deletion": services.cancel_deletion,
}


class Command(BaseCommand):
    """Initialise, rotate, re-wrap and inspect the server's keys."""

    help = (
        "Operate the key vault: init, rotate, rewrap, status, master-add, min-version "
        "and key actions."
    )
    # The vault reports its own configuration errors with the documented
    # exit statuses; the system check would turn them into status 1.
    requires_system_checks: ClassVar[list[str]] = []  # type: ignore[misc]

    def add_arguments(self, parser: ArgumentParser) -> None:
        """Declare the subcommands."""
        sub = parser.add_subparsers(dest="sub", required=True, metavar="subcommand")
        sub.add_parser("init", help="create the master key (if safe) and missing active keys")
        rotate = sub.add_parser("rotate", help="rotate keys now, or do all due work (--due)")
        rotate.add_argument("--purpose", choices=Purpose.values)
        rotate.add_argument("--due", action="store_true", help="only what is due by policy")
        rewrap = sub.add_parser("rewrap", help="re-wrap every key under a master version")
        rewrap.add_argument("--to-version", type=int, default=None)
        sub.add_parser("status", help="table of keys, states, ages and what is due")
        sub.add_parser("check", help="verify the master key opens the stored keys")
        sub.add_parser("master-add", help="add a master key version and make it primary")
        compromised_master = sub.add_parser(
            "master-compromised", help="new master version, re-wrap all, disable the old one"
        )
        compromised_master.add_argument("version", type=int)
        minimum = sub.add_parser("master-min-version", help="disable master versions below N")
        minimum.add_argument("version", type=int)
        key_minimum = sub.add_parser(
            "min-version",
            help="make the keys of a purpose below version N unusable for good (N only goes up)",
        )
        key_minimum.add_argument("--purpose", choices=Purpose.values, required=True)
        key_minimum.add_argument("version", type=int)
        for name, helptext in [
            ("retire", "retire the active key KID (rotates its purpose)"),
            ("disable", "disable a pending or retiring key"),
            ("reenable", "bring a disabled key back as retiring"),
            ("schedule-deletion", "schedule destruction after the waiting period"),
            ("destroy", "same as schedule-deletion (destruction is always scheduled)"),
            ("cancel-deletion", "cancel a scheduled destruction"),
            ("compromised", "disable KID at once as compromised; replace it if active"),
        ]:
            sub.add_parser(name, help=helptext).add_argument("kid")
        allow = sub.add_parser("allow-deletion", help="allow scheduling destruction of KID")
        allow.add_argument("kid")
        allow.add_argument("--forbid", action="store_true", help="forbid it again")

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the subcommand, turning vault errors into one line and an exit status."""
        sub: str = options["sub"]
        try:
            getattr(self, "_" + sub.replace("-", "_"), self._key_action)(sub, options)
        except KeyVaultError as exc:
            raise CommandError(f"keyvault {sub}: {exc}", returncode=exc.exit_status) from None
        except ValueError as exc:
            raise CommandError(f"keyvault {sub}: {exc}", returncode=2) from None
        except DatabaseError as exc:
            raise CommandError(
                f"keyvault {sub}: database error ({type(exc).__name__}: {exc}); "
                "is the database migrated?",
                returncode=1,
            ) from None

    # -- subcommands -------------------------------------------------------------

    def _init(self, sub: str, options: dict[str, Any]) -> None:
        report = services.initialize(actor=CLI_ACTOR)
        if report.master_created:
            self.stdout.write(f"Created master key version 1 ({get_backend().describe()}).")
        if report.versions_registered:
            versions = ", ".join(map(str, report.versions_registered))
            self.stdout.write(f"Registered master version(s) {versions}.")
        for kid in report.keys_created:
            self.stdout.write(f"Created and activated {kid}.")
        if not (report.master_created or report.keys_created):
            self.stdout.write("Key vault ready; nothing to create.")

    def _rotate(self, sub: str, options: dict[str, Any]) -> None:
        if options["due"]:
            report = services.run_due(actor=CLI_ACTOR)
            for label, kids in [
                ("Rotated", report.rotated),
                ("Disabled", report.disabled),
                ("Destroyed", report.destroyed),
            ]:
                if kids:
                    self.stdout.write(f"{label}: {', '.join(kids)}")
            if not (report.rotated or report.disabled or report.destroyed):
                self.stdout.write("Nothing due.")
            return
        purposes = [options["purpose"]] if options["purpose"] else list(Purpose.values)
        for purpose in purposes:
            key = services.rotate(purpose, actor=CLI_ACTOR)
            self.stdout.write(f"Rotated {purpose}: {key.kid} is active.")

    def _rewrap(self, sub: str, options: dict[str, Any]) -> None:
        report = services.rewrap(options["to_version"], actor=CLI_ACTOR)
        self.stdout.write(
            f"Re-wrapped {report.server_keys} server key(s) and {report.data_keys} data key(s) "
            f"under master version {report.version}; every key is now under it."
        )

    def _check(self, sub: str, options: dict[str, Any]) -> None:
        from keyvault.internal.master import verify_master_key

        backend = get_backend()
        verify_master_key(backend)
        self.stdout.write(f"Master key OK ({backend.describe()}).")

    def _master_add(self, sub: str, options: dict[str, Any]) -> None:
        version = services.add_master_version(actor=CLI_ACTOR)
        self.stdout.write(
            f"Added master version {version} (primary). Run 'manage.py keyvault rewrap' next."
        )

    def _master_compromised(self, sub: str, options: dict[str, Any]) -> None:
        report = services.compromise_master_version(options["version"], actor=CLI_ACTOR)
        self.stdout.write(
            f"Master version {options['version']} marked compromised; everything re-wrapped "
            f"under version {report.version}."
        )

    def _master_min_version(self, sub: str, options: dict[str, Any]) -> None:
        disabled = services.set_minimum_master_version(options["version"], actor=CLI_ACTOR)
        listed = ", ".join(map(str, disabled)) or "none"
        self.stdout.write(f"Disabled master version(s): {listed}.")

    def _min_version(self, sub: str, options: dict[str, Any]) -> None:
        purpose, minimum = options["purpose"], options["version"]
        report = services.set_minimum_key_version(purpose, minimum, actor=CLI_ACTOR)
        if not report.changed:
            self.stdout.write(f"The minimum {purpose} version is already {minimum}; nothing done.")
            return
        unusable = ", ".join(report.unusable) or "none"
        self.stdout.write(
            f"Minimum {purpose} version {report.previous} -> {minimum}; "
            f"unusable for good now: {unusable}."
        )
        if report.replacement:
            follow_up = (
                "not endorsed: clients must re-pin out of band"
                if purpose == Purpose.SIGNING
                else "clients that wrapped to an old key get 4412 and re-fetch keys.json"
            )
            self.stdout.write(f"{report.replacement} is active ({follow_up}).")

    def _compromised(self, sub: str, options: dict[str, Any]) -> None:
        replacement = services.mark_compromised(options["kid"], actor=CLI_ACTOR)
        self.stdout.write(f"{options['kid']} disabled as compromised.")
        if replacement is not None:
            self.stdout.write(
                f"{replacement.kid} is active (not endorsed: clients must re-pin out of band)."
            )

    def _allow_deletion(self, sub: str, options: dict[str, Any]) -> None:
        allowed = not options["forbid"]
        services.allow_deletion(options["kid"], allowed, actor=CLI_ACTOR)
        self.stdout.write(f"Deletion of {options['kid']} {'allowed' if allowed else 'forbidden'}.")

    def _key_action(self, sub: str, options: dict[str, Any]) -> None:
        key = _KEY_ACTIONS[sub](options["kid"], actor=CLI_ACTOR)
        detail = (
            f" (destroyed after {key.delete_after:%Y-%m-%d %H:%M} UTC)" if key.delete_after else ""
        )
        self.stdout.write(f"{key.kid}: {key.state}{detail}")

    def _status(self, sub: str, options: dict[str, Any]) -> None:
        services.flush_usage()
        now = timezone.now()
        header = (
            f"{'kid':<8} {'purpose':<10} {'state':<16} {'age':>5} {'uses':>7} {'master':>6}  due"
        )
        self.stdout.write(header)
        for key in ServerKey.objects.order_by("purpose", "version"):
            age = (now - key.created_at).days
            self.stdout.write(
                f"{key.kid:<8} {key.purpose:<10} {key.state:<16} {age:>4}d {key.usage_count:>7} "
                f"{'v' + str(key.master_version) if key.wrapped_dek else '-':>6}  "
                f"{_due(key, now)}"
            )
        minimums = services.minimum_key_versions()
        self.stdout.write(
            "\nMinimum usable version: "
            + ", ".join(f"{purpose} {version}" for purpose, version in minimums.items())
        )
        backend = get_backend()
        self.stdout.write(f"KMS: {backend.describe()}")
        try:
            primary = backend.primary_version()
        except KeyVaultError as exc:
            self.stdout.write(f"Master key: unavailable ({exc})")
            primary = None
        for row in MasterKeyVersion.objects.all():
            flags = [
                flag
                for flag, on in [
                    ("primary", row.version == primary),
                    ("disabled", row.disabled),
                    ("compromised", row.compromised),
                ]
                if on
            ]
            self.stdout.write(
                f"master v{row.version}: {row.wrapped_count} data key(s) wrapped"
                + (f" [{', '.join(flags)}]" if flags else "")
            )


def _due(key: ServerKey, now: Any) -> str:
    """What ``rotate --due`` would do with ``key`` now, for the status table."""
    from keyvault.conf import app_settings

    if key.state == "active" and key.activated_at is not None:
        left = key.activated_at + app_settings.max_age(key.purpose) - now
        return "rotate now" if left.total_seconds() <= 0 else f"rotate in {left.days}d"
    if key.state == "retiring" and key.retire_after is not None:
        return "disable now" if key.retire_after <= now else f"disable {key.retire_after:%Y-%m-%d}"
    if key.state == "pending_deletion" and key.delete_after is not None:
        return "destroy now" if key.delete_after <= now else f"destroy {key.delete_after:%Y-%m-%d}"
    return ""
