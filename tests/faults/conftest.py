"""Fixtures of the fault tests: the chat fixtures and audit-chain / key checks."""

from __future__ import annotations

import io

from django.core.management import CommandError, call_command

from tests.chat.conftest import chat_users, secure, vault

__all__ = ["audit_verifies", "chat_users", "every_key_decrypts", "secure", "vault"]


def audit_verifies() -> str:
    """Run ``manage.py audit verify`` (database chain, MACs, second sink); return its output.

    Raises CommandError (non-zero exit) when the chain is broken.
    """
    out = io.StringIO()
    try:
        call_command("audit", "verify", stdout=out)
    except CommandError as exc:
        raise AssertionError(f"audit verify failed: {exc}\n{out.getvalue()}") from exc
    text = out.getvalue()
    assert "audit verify: OK" in text, text
    return text


def every_key_decrypts() -> int:
    """Unwrap every usable server key and every data key from storage; return how many."""
    import keyvault
    from keyvault.internal.access import private_key
    from keyvault.models import DataKey, ServerKey, State

    keyvault.reset_caches()
    count = 0
    for kid in ServerKey.objects.exclude(state=State.DESTROYED).values_list("kid", flat=True):
        assert private_key(kid).key_size >= 2048
        count += 1
    for key_id, purpose in DataKey.objects.values_list("key_id", "purpose"):
        assert len(keyvault.open_data_key(key_id, purpose=purpose)) == 32
        count += 1
    return count
