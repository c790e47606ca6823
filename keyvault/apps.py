from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class KeyvaultConfig(AppConfig):
    """The server's private keys under envelope encryption."""

    name = "keyvault"
    verbose_name = "Key vault"

    def ready(self) -> None:
        """Drop cached backends and keys when a key vault setting changes; register checks."""
        from django.core.signals import setting_changed

        from . import checks  # noqa: F401  (registers the system checks)

        setting_changed.connect(_on_setting_changed, dispatch_uid="keyvault_setting_changed")


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("KEYVAULT_") or setting in ("DATA_DIR", "DATABASES"):
        from .services import reset_caches

        reset_caches()
