"""Wycheproof RSA-OAEP (SHA-256, MGF1-SHA-256) decryption vectors, 2048/3072/4096.

Empty-label cases run through the client's raising wrapper
``oaep_decrypt``: invalid ones must raise AuthenticationFailedError (4410).
Cases with a label (the suite never uses one) run through ``cryptography``
directly. The server's silent unwrap is tested on its own in
test_handshake_negative.py. No file has ``acceptable`` cases.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from securemsg.protocol import AuthenticationFailedError
from securemsg.protocol._crypto import oaep_decrypt

from .wycheproof import Case, wycheproof_params

FILES = [f"rsa_oaep_{bits}_sha256_mgf1sha256_test.json" for bits in (2048, 3072, 4096)]
CASES = wycheproof_params(*FILES)
_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def _key(case: Case) -> rsa.RSAPrivateKey:
    der = case.group["privateKeyPkcs8"]
    if der not in _KEYS:
        key = serialization.load_der_private_key(bytes.fromhex(der), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        _KEYS[der] = key
    return _KEYS[der]


@pytest.mark.parametrize("case", CASES)
def test_rsa_oaep(case: Case) -> None:
    key, ct, label = _key(case), case.hex("ct"), case.hex("label")
    if not label:
        if case.result == "invalid":
            with pytest.raises(AuthenticationFailedError):
                oaep_decrypt(key, ct)
        else:
            assert oaep_decrypt(key, ct) == case.hex("msg")
        return
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), label)
    if case.result == "invalid":
        with pytest.raises(ValueError):
            key.decrypt(ct, oaep)
    else:
        assert key.decrypt(ct, oaep) == case.hex("msg")
