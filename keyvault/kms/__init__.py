"""KMS backends behind one interface (``base.KMSBackend``) and the factory that picks one.

``get_backend()`` builds the backend named by ``SECUREMSG_KMS_BACKEND`` (a
short name or a dotted path to a ``KMSBackend`` subclass) once per process
and caches it; changing a ``KEYVAULT_*`` setting (tests) drops the cache.
"""

from __future__ import annotations

import threading

from django.utils.module_loading import import_string

from ..conf import app_settings
from ..exceptions import ConfigurationError
from .base import KMSBackend, WrappedKey

__all__ = ["BACKENDS", "KMSBackend", "WrappedKey", "get_backend", "reset_backend"]

#: Short names accepted in SECUREMSG_KMS_BACKEND.
BACKENDS = {
    "local": "keyvault.kms.local.LocalBackend",
    "passphrase": "keyvault.kms.passphrase.PassphraseBackend",  # a class path  # nosec B105
    "pkcs11": "keyvault.kms.pkcs11.Pkcs11Backend",
    "memory": "keyvault.kms.memory.MemoryBackend",
}
_SETTING = "SECUREMSG_KMS_BACKEND"
_lock = threading.Lock()
_backend: KMSBackend | None = None


def _make_backend() -> KMSBackend:
    name = app_settings.backend
    path = BACKENDS.get(name, name)
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ConfigurationError(
            f"cannot load KMS backend {name!r} ({exc}); use one of "
            f"{', '.join(BACKENDS)} or a dotted path",
            setting=_SETTING,
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, KMSBackend)):
        raise ConfigurationError(f"{path} is not a KMSBackend subclass", setting=_SETTING)
    backend: KMSBackend = cls.from_settings(app_settings)
    return backend


def get_backend() -> KMSBackend:
    """Return the configured KMS backend (built once per process)."""
    global _backend
    with _lock:
        if _backend is None:
            _backend = _make_backend()
        return _backend


def reset_backend() -> None:
    """Drop the cached backend so that the next call rebuilds it from the settings."""
    global _backend
    with _lock:
        _backend = None
