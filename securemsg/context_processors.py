"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """Expose the few settings that templates need (never a secret)."""
    return {"signup_enabled": settings.SECUREMSG_ALLOW_SIGNUP}
