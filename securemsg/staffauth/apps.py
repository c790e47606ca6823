"""App configuration of the staff two-factor pages."""

from __future__ import annotations

from django.apps import AppConfig


class StaffAuthConfig(AppConfig):
    """Staff two-factor (TOTP and recovery codes)."""

    name = "securemsg.staffauth"
    label = "staffauth"
    verbose_name = "Staff two-factor"
