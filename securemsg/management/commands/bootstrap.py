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
        if not User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "No administrator yet. Create one in another terminal with:\n"
                "  .venv/bin/python manage.py createsuperuser"
            )
