"""The one place where failures become close codes and audit reason classes."""

from __future__ import annotations

from django.db import DatabaseError

from keyvault.exceptions import KeyVaultError
from securemsg.audit.exceptions import AuditError
from securemsg.chat.exceptions import LimitsUnavailableError, MessageIntegrityError
from securemsg.protocol import CloseCode, ProtocolError

#: Server-side failures after which the server cannot serve safely: close 4500.
SERVER_FAULTS: tuple[type[Exception], ...] = (
    KeyVaultError,
    AuditError,
    DatabaseError,
    MessageIntegrityError,
    LimitsUnavailableError,
)


def close_code_for(exc: BaseException) -> tuple[int, str]:
    """Return ``(close code, reason class)`` for an error that ends a session."""
    if isinstance(exc, ProtocolError):
        return int(exc.close_code), exc.reason
    if isinstance(exc, KeyVaultError):
        return int(CloseCode.SERVER_UNAVAILABLE), "key_vault_unavailable"
    if isinstance(exc, AuditError):
        return int(CloseCode.SERVER_UNAVAILABLE), "audit_unavailable"
    if isinstance(exc, MessageIntegrityError):
        return int(CloseCode.SERVER_UNAVAILABLE), "storage_integrity"
    if isinstance(exc, LimitsUnavailableError):
        return int(CloseCode.SERVER_UNAVAILABLE), "limits_unavailable"
    return int(CloseCode.SERVER_UNAVAILABLE), "storage_unavailable"
