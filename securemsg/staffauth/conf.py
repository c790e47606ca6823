"""Settings of the staff two-factor, read lazily from Django settings."""

from __future__ import annotations

from django.conf import settings


class StaffAuthSettings:
    """Typed access to the staff two-factor settings."""

    @property
    def required(self) -> bool:
        """Whether staff and superusers need a verified TOTP code for the admin."""
        return bool(getattr(settings, "SECUREMSG_STAFF_OTP_REQUIRED", True))

    @property
    def recovery_codes(self) -> int:
        """How many one-time recovery codes an enrolment creates."""
        return 10


staffauth_settings = StaffAuthSettings()
