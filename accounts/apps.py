from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People who sign in: the custom user model, sign-in pages and lockout."""

    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        """Count failed sign-ins per username (``accounts.throttle``); register the checks."""
        from django.contrib.auth.signals import user_login_failed

        from . import checks  # noqa: F401  (registers the system checks)

        user_login_failed.connect(_on_login_failed, dispatch_uid="accounts_username_throttle")


def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # An attempt refused by an axes lock checked no password: it says nothing
    # about the username and must not lengthen its delay.
    if request is not None and getattr(request, "axes_locked_out", False):
        return
    username = credentials.get("username")
    if isinstance(username, str) and username.strip():
        from accounts import throttle

        throttle.record_failure(username)
