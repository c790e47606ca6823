"""The keyed chain: an HMAC-SHA-256 over each row's hash under the audit key.

The audit key is a key vault data key (purpose ``"audit"``): 32 random bytes
wrapped by the master key like any data key, so ``keyvault rewrap`` carries
it and every KMS backend (PKCS#11 included) protects it. Its wrap binds a
context ``chain-from:<seq>``, the first row the key MACs; rows before it
were written before the keyed chain existed. Someone who can write to the
database can recompute the plain hashes, but not the MACs: that needs the
master key.

A process opens the key once and keeps it (clarifications, "Audit"), so
an event can still be recorded while the key vault fails.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Final

from securemsg.audit.exceptions import AuditKeyError

#: Key vault purpose of audit keys.
PURPOSE: Final = "audit"
#: Context of an audit key: the first seq it covers.
_CONTEXT_RE: Final = re.compile(r"^chain-from:([1-9][0-9]{0,18})$")


@dataclass(frozen=True)
class AuditKey:
    """An opened audit key: its id (stored on each row) and bytes (never stored)."""

    key_id: str
    chain_from: int
    key: bytes = field(repr=False)

    def mac(self, row_hash: str) -> str:
        """``HMAC-SHA-256(key, bytes.fromhex(row_hash))`` as 64 lowercase hex digits."""
        return hmac.new(self.key, bytes.fromhex(row_hash), hashlib.sha256).hexdigest()


def mac_matches(key: AuditKey, row_hash: str, mac: str) -> bool:
    """Whether ``mac`` is the MAC of ``row_hash`` under ``key`` (constant time)."""
    return hmac.compare_digest(key.mac(row_hash), mac)


def chain_from(context: str) -> int | None:
    """The first seq of an audit key's context, or None when it is not one of ours."""
    match = _CONTEXT_RE.match(context)
    return int(match.group(1)) if match else None


class _State(threading.local):
    """Per-thread: the rows written while this thread creates the audit key."""

    creating: list[dict[str, Any]] | None = None


_lock = threading.Lock()
_keys: dict[str, AuditKey] = {}
_state = _State()


def reset() -> None:
    """Forget this process's audit key (settings or database changed; tests)."""
    with _lock:
        _keys.clear()


def cached(using: str) -> AuditKey | None:
    """The key this process already holds for database ``using``, if any."""
    with _lock:
        return _keys.get(using)


def _keep(using: str, key: AuditKey) -> None:
    with _lock:
        _keys[using] = key


def _vault_error(exc: Exception, doing: str) -> AuditKeyError:
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return AuditKeyError(f"the audit key cannot be {doing} (key vault: {reason})")


def _open(key_id: str, context: str) -> AuditKey:
    import keyvault

    start = chain_from(context)
    if start is None:
        raise AuditKeyError(f"audit key {key_id} has no chain-from context")
    try:
        key = keyvault.open_data_key(key_id, purpose=PURPOSE)
    except keyvault.KeyVaultError as exc:
        raise _vault_error(exc, "opened") from exc
    return AuditKey(key_id, start, key)


def load(using: str) -> AuditKey | None:
    """Open the newest stored audit key and keep it; None when there is none yet.

    Kept once the caller's transaction commits: the key may have been made
    earlier in the same transaction, and a rollback would remove it.
    """
    from django.db import transaction

    import keyvault

    key = cached(using)
    if key is not None:
        return key
    try:
        infos = keyvault.list_data_keys(PURPOSE)
    except keyvault.KeyVaultError as exc:
        raise _vault_error(exc, "found") from exc
    if not infos:
        return None
    newest = infos[-1]
    opened = _open(newest.key_id, newest.context)
    transaction.on_commit(lambda: _keep(using, opened), using=using)
    return opened


def creating() -> list[dict[str, Any]] | None:
    """Rows written by the key vault while this thread creates the audit key, else None.

    Creating the key may make the vault record events of its own (a master
    version seen for the first time); those rows get their MAC as soon as
    the key exists, in the same transaction.
    """
    return _state.creating


def create(using: str, first_seq: int) -> tuple[AuditKey, list[dict[str, Any]]]:
    """Create the audit key for rows from ``first_seq`` on, inside the caller's transaction.

    Returns the key and the rows recorded meanwhile (to be MAC'd by the
    caller). The key is kept for this process only once the transaction
    commits, so a rollback never leaves a key that is not stored.
    """
    from django.db import transaction

    import keyvault

    _state.creating = []
    try:
        handle = keyvault.new_data_key(PURPOSE, f"chain-from:{first_seq}")
    except keyvault.KeyVaultError as exc:
        raise _vault_error(exc, "created") from exc
    finally:
        pending, _state.creating = _state.creating, None
    key = AuditKey(handle.key_id, first_seq, handle.key)
    transaction.on_commit(lambda: _keep(using, key), using=using)
    return key, pending


def all_keys() -> tuple[dict[str, AuditKey], dict[str, str]]:
    """Every stored audit key, opened: ``(keys by id, unusable ids -> why)``.

    Raises ``AuditKeyError`` when the vault cannot answer at all (a missing
    or wrong master key is not a verdict on the chain).
    """
    import keyvault

    opened: dict[str, AuditKey] = {}
    unusable: dict[str, str] = {}
    try:
        infos = keyvault.list_data_keys(PURPOSE)
    except keyvault.KeyVaultError as exc:
        raise _vault_error(exc, "found") from exc
    for info in infos:
        try:
            opened[info.key_id] = _open(info.key_id, info.context)
        except AuditKeyError as exc:
            cause = exc.__cause__
            if isinstance(cause, keyvault.CorruptedKeyError) or cause is None:
                # The stored row was edited (its context or wrap): a verdict.
                unusable[info.key_id] = str(exc)
            else:
                raise
    return opened, unusable
