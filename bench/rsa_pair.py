"""The raw RSA work that handshake ratios are measured against, written once.

One pair is an RSA-3072 OAEP decryption and an RSA-3072 PSS signature with
SHA-256: the server's private-key work in a securemsg/1 handshake, without
the protocol around it. ``bench/_harness.py`` times it on one core;
``bench/plain_asgi.py`` runs it in the handshake floor's consumer.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

OAEP = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
PSS = padding.PSS(padding.MGF1(hashes.SHA256()), 32)


class RsaPair:
    """Two fresh RSA-3072 keys and a ciphertext; :meth:`run` does one decrypt + sign."""

    def __init__(self) -> None:
        self.sig = rsa.generate_private_key(65537, 3072)
        self.enc = rsa.generate_private_key(65537, 3072)
        self.ciphertext = self.enc.public_key().encrypt(b"k" * 32, OAEP)

    def run(self) -> None:
        """One OAEP decryption and one PSS signature."""
        self.enc.decrypt(self.ciphertext, OAEP)
        self.sig.sign(b"t" * 32, PSS, hashes.SHA256())
