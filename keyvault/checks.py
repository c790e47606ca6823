"""System checks: the key vault configuration must be loadable (it fails closed otherwise)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from .exceptions import KeyVaultError

__all__ = ["check_backend_configuration"]


@register("keyvault")
def check_backend_configuration(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report a KMS backend that cannot be built from the settings (no key is touched)."""
    from .conf import app_settings
    from .kms import get_backend, reset_backend

    errors: list[CheckMessage] = []
    try:
        app_settings.key_algorithm  # noqa: B018  (validates the setting)
        app_settings.deletion_wait  # noqa: B018
        reset_backend()
        get_backend()
    except KeyVaultError as exc:
        errors.append(Error(str(exc), id="keyvault.E001"))
    return errors
