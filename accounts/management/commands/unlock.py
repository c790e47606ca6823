"""``manage.py unlock --user U --ip A``: lift sign-in lockouts and delays, audited.

Exit statuses: 0 done (also when there was nothing to lift), 2 usage error,
3 the audit log refused the event (nothing was changed).
"""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from securemsg.audit import AuditUnavailable


class Command(BaseCommand):
    """Unlock sign-ins by user, address or both."""

    help = "Lift sign-in lockouts (django-axes) and the username delay, by user, address or both."

    def add_arguments(self, parser: CommandParser) -> None:
        """``--user`` and/or ``--ip``."""
        parser.add_argument("--user", help="username as typed at sign-in")
        parser.add_argument("--ip", help="client address")

    def handle(self, *args: Any, **options: Any) -> None:
        """Unlock and print what was lifted."""
        from accounts.lockout import unlock

        if not options["user"] and not options["ip"]:
            raise CommandError("give --user, --ip or both", returncode=2)
        try:
            os_user = getpass.getuser()
        except (KeyError, OSError):
            os_user = "unknown"
        try:
            report = unlock(
                username=options["user"], ip=options["ip"], via=f"manage.py unlock ({os_user})"
            )
        except AuditUnavailable as exc:
            raise CommandError(f"nothing was unlocked: {exc}", returncode=3) from exc
        who = " from ".join(part for part in (report.username, report.ip) if part)
        self.stdout.write(
            f"unlock {who}: {report.lockouts} lockout(s) and {report.delays} username delay(s) "
            "lifted"
        )
