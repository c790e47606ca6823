"""First-start preparation used by ``scripts/run``: migrate and create what the app needs."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.models import User


class Command(BaseCommand):
    """Bring a fresh or existing installation up to date; safe to run at every start."""

    help = "Apply migrations and create first-start material (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        # Creates the master key on a fresh installation only; with wrapped
        # keys present and the master key missing or wrong it stops with the
        # vault's error (a CommandError with a non-zero status), creating nothing.
        call_command("keyvault", "init", stdout=self.stdout, stderr=self.stderr)
        if not User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "No administrator yet. Create one in another terminal with:\n"
                "  .venv/bin/python manage.py createsuperuser"
            )
