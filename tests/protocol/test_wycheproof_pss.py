"""Wycheproof RSA-PSS (SHA-256, MGF1-SHA-256, salt 32) verification vectors.

Every case matches the suite's parameters, so all run through the core's
``pss_verify``: valid ones verify, invalid ones raise
AuthenticationFailedError. No file has ``acceptable`` cases.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from securemsg.protocol import AuthenticationFailedError
from securemsg.protocol._crypto import pss_verify

from .wycheproof import Case, wycheproof_params

FILES = [f"rsa_pss_{bits}_sha256_mgf1_32_test.json" for bits in (2048, 3072, 4096)]


@pytest.mark.parametrize("case", wycheproof_params(*FILES))
def test_rsa_pss(case: Case) -> None:
    assert case.group["sLen"] == 32 and case.group["mgfSha"] == "SHA-256"
    key = serialization.load_der_public_key(bytes.fromhex(case.group["publicKeyDer"]))
    assert isinstance(key, rsa.RSAPublicKey)
    if case.result == "invalid":
        with pytest.raises(AuthenticationFailedError):
            pss_verify(key, case.hex("sig"), case.hex("msg"))
    else:
        pss_verify(key, case.hex("sig"), case.hex("msg"))
