"""Wycheproof AES-GCM vectors.

AES-256 with a 96-bit IV and a 128-bit tag (the suite's parameters) runs
through the core's ``aead_seal``/``aead_open``; an invalid case must raise
AuthenticationFailedError. Other key and IV sizes run through
``cryptography``'s AESGCM directly; IVs outside the 8..128 bytes that it
supports are skipped with that reason, except invalid ones, which must be
refused. No file has ``acceptable`` cases; one would be allowed either way.
"""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from securemsg.protocol import AuthenticationFailedError, CloseCode
from securemsg.protocol._crypto import aead_open, aead_seal

from .wycheproof import Case, wycheproof_params

CASES = wycheproof_params("aes_gcm_test.json")


def _suite_params(case: Case) -> bool:
    g = case.group
    return bool(g["keySize"] == 256 and g["ivSize"] == 96 and g["tagSize"] == 128)


@pytest.mark.parametrize("case", CASES)
def test_aes_gcm(case: Case) -> None:
    key, iv, aad = case.hex("key"), case.hex("iv"), case.hex("aad")
    msg, sealed = case.hex("msg"), case.hex("ct") + case.hex("tag")
    if _suite_params(case):
        if case.result == "invalid":
            with pytest.raises(AuthenticationFailedError) as info:
                aead_open(key, iv, sealed, aad)
            assert info.value.close_code == CloseCode.AUTHENTICATION_FAILED
        else:
            assert aead_open(key, iv, sealed, aad) == msg
            assert aead_seal(key, iv, msg, aad) == sealed
        return
    if not 8 <= len(iv) <= 128:
        if case.result == "invalid":
            with pytest.raises(ValueError):
                AESGCM(key).decrypt(iv, sealed, aad)
            return
        pytest.skip(f"IV of {len(iv)} bytes is outside cryptography's supported 8..128")
    if case.result == "invalid":
        with pytest.raises(InvalidTag):
            AESGCM(key).decrypt(iv, sealed, aad)
    else:
        assert AESGCM(key).decrypt(iv, sealed, aad) == msg
        assert AESGCM(key).encrypt(iv, msg, aad) == sealed


def test_suite_cases_are_present() -> None:
    # Guard against a file change that would leave the wrappers untested.
    suite = [c for c in (p.values[0] for p in CASES) if _suite_params(c)]
    assert len(suite) >= 20
    assert any(c.result == "invalid" for c in suite)
