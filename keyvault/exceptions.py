"""Typed errors of the key vault.

Every error the vault raises on purpose derives from :class:`KeyVaultError`,
so callers (the handshake adapter, the message store, the audit log, the
management command) handle all of them with one ``except``::

    KeyVaultError                    the vault cannot do what was asked (fail closed)
    ├── ConfigurationError           a KEYVAULT setting is missing or invalid (names it)
    ├── MasterKeyError               the master key cannot be used
    │   ├── MasterKeyMissingError    no master key, or not the version a row needs
    │   └── WrongMasterKeyError      a master key is there but it is not the right one
    ├── TokenUnavailableError        the PKCS#11 module, token or PIN does not work
    ├── CorruptedKeyError            a stored row does not authenticate (tampered/damaged)
    ├── UnknownKeyError              no key with that kid (or data key id)
    ├── NoActiveKeyError             no active key of a purpose
    ├── IllegalTransitionError       a state change the state machine does not allow
    ├── InvalidMinimumVersionError   a minimum usable version that is refused (a ValueError too)
    └── AuditFailedError             the audit log refused the event, so the action rolled back

Messages say what is wrong and which key, setting or version is affected;
they never contain key bytes, passphrases or PINs. ``close_code`` is the
WebSocket close code a consumer uses when a vault failure ends a session
(4500: the server cannot serve safely, protocol.md "Close codes");
``exit_status`` is the management command's exit status (docs/keyvault.md).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuditFailedError",
    "ConfigurationError",
    "CorruptedKeyError",
    "IllegalTransitionError",
    "InvalidMinimumVersionError",
    "KeyVaultError",
    "MasterKeyError",
    "MasterKeyMissingError",
    "NoActiveKeyError",
    "TokenUnavailableError",
    "UnknownKeyError",
    "WrongMasterKeyError",
]


class KeyVaultError(Exception):
    """Base class of every error the key vault raises; the caller must fail closed."""

    close_code: ClassVar[int] = 4500
    exit_status: ClassVar[int] = 1
    reason: ClassVar[str] = "keyvault_error"


class ConfigurationError(KeyVaultError):
    """A key vault setting is missing or invalid."""

    exit_status = 2
    reason = "configuration"

    def __init__(self, message: str, *, setting: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


class MasterKeyError(KeyVaultError):
    """The master key cannot be used."""

    exit_status = 3
    reason = "master_key"


class MasterKeyMissingError(MasterKeyError):
    """There is no master key, or not the version that a stored row was wrapped under."""

    reason = "master_key_missing"


class WrongMasterKeyError(MasterKeyError):
    """A master key is configured but it does not open what it should."""

    reason = "master_key_wrong"


class TokenUnavailableError(KeyVaultError):
    """The PKCS#11 module, token, PIN or key cannot be reached or used."""

    exit_status = 4
    reason = "token_unavailable"


class CorruptedKeyError(KeyVaultError):
    """A stored key row does not authenticate: it was altered, swapped or damaged."""

    exit_status = 5
    reason = "corrupted_key"


class UnknownKeyError(KeyVaultError):
    """No key with the given identifier exists."""

    exit_status = 6
    reason = "unknown_key"


class NoActiveKeyError(KeyVaultError):
    """No key of the requested purpose is active (run ``keyvault init`` or ``rotate``)."""

    exit_status = 7
    reason = "no_active_key"


class IllegalTransitionError(KeyVaultError):
    """The requested state change is not allowed from the key's current state."""

    exit_status = 8
    reason = "illegal_transition"

    def __init__(self, message: str, *, kid: str, state: str, action: str) -> None:
        super().__init__(message)
        self.kid = kid
        self.state = state
        self.action = action


class InvalidMinimumVersionError(KeyVaultError, ValueError):
    """A minimum usable key version was refused: unknown purpose, lower than now, or too high."""

    # A usage error like a bad argument (exit 2); also a ValueError, so
    # callers that check arguments that way catch it too.
    exit_status = 2
    reason = "invalid_minimum_version"

    def __init__(self, message: str, *, purpose: str, minimum: int) -> None:
        super().__init__(message)
        self.purpose = purpose
        self.minimum = minimum


class AuditFailedError(KeyVaultError):
    """The audit log could not record an action's event, so the action was rolled back."""

    exit_status = 9
    reason = "audit_failed"
