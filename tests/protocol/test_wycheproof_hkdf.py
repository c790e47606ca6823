"""Wycheproof HKDF-SHA-256 vectors.

32-byte outputs (the suite's only length) run through the core's
``hkdf_sha256``; other sizes through ``cryptography``'s HKDF directly, where
the invalid (too long) sizes must raise ValueError. No ``acceptable`` cases.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from securemsg.protocol._crypto import hkdf_sha256

from .wycheproof import Case, wycheproof_params

CASES = wycheproof_params("hkdf_sha256_test.json")


@pytest.mark.parametrize("case", CASES)
def test_hkdf_sha256(case: Case) -> None:
    ikm, salt, info, size = case.hex("ikm"), case.hex("salt"), case.hex("info"), case.test["size"]
    if size == 32:
        assert case.result == "valid"
        assert hkdf_sha256(ikm, salt, info) == case.hex("okm")
        return
    if case.result == "invalid":
        # cryptography refuses the length when the HKDF object is made.
        with pytest.raises(ValueError):
            HKDF(algorithm=hashes.SHA256(), length=size, salt=salt, info=info).derive(ikm)
    else:
        kdf = HKDF(algorithm=hashes.SHA256(), length=size, salt=salt, info=info)
        assert kdf.derive(ikm) == case.hex("okm")


def test_suite_length_cases_are_present() -> None:
    assert sum(1 for p in CASES if p.values[0].test["size"] == 32) >= 10
