"""Server keys are new RSA keys of the configured size; the test key pool keeps them distinct."""

from __future__ import annotations

from typing import Any

import pytest

from keyvault.internal import lifecycle
from keyvault.models import ServerKey


def _fingerprints() -> list[str]:
    return list(ServerKey.objects.order_by("pk").values_list("fingerprint", flat=True))


@pytest.mark.fresh_keys
def test_vault_generates_new_keys_of_the_configured_size(vault: Any, settings: Any) -> None:
    assert "pooled" not in repr(lifecycle.generate_private_key)  # the real generator
    vault.rotate("signing")
    assert len(set(_fingerprints())) == 3
    for kid in ServerKey.objects.values_list("kid", flat=True):
        assert vault.public_spki(kid)  # published, parseable
    key = lifecycle.generate_private_key("RSA-3072")
    assert key.key_size == 3072
    assert key.public_key().public_numbers().e == 65537


def test_pooled_keys_are_distinct_within_a_test(vault: Any) -> None:
    for _ in range(3):
        vault.rotate("encryption")
    fingerprints = _fingerprints()
    assert len(fingerprints) == 5
    assert len(set(fingerprints)) == 5
