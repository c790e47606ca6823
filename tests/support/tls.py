"""A throwaway certificate authority and a server certificate for 127.0.0.1.

Live TLS tests (nginx in front of Daphne, tests/scaleout) need a server
certificate that real clients verify: the Python ``ssl`` module and the
project's client trust the CA file, Chromium is told the SPKI hash of the
server certificate (``--ignore-certificate-errors-spki-list``), as the
Chromium documentation suggests for test servers. Keys are ECDSA P-256 (fast
to make); nothing is written outside the directory given.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ThrowawayPKI", "make_throwaway_pki"]

#: How long the certificates are valid; a test run is far shorter.
VALIDITY = datetime.timedelta(days=1)
#: Back-dating, so a clock a little behind still accepts the certificates.
CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class ThrowawayPKI:
    """The files of a test CA and of one server certificate it signed."""

    ca_cert: Path  # PEM; the trust anchor of the clients
    server_cert: Path  # PEM, the server certificate then the CA (nginx's fullchain)
    server_key: Path  # PEM, PKCS#8, unencrypted (mode 0600)
    spki_sha256: str  # base64 SHA-256 of the server certificate's SubjectPublicKeyInfo

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this CA only (hostname checked)."""
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def chromium_args(self) -> list[str]:
        """Chromium flags that make it accept the server certificate (and only it)."""
        return [f"--ignore-certificate-errors-spki-list={self.spki_sha256}"]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "securemsg tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _ca(now: datetime.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name("securemsg test CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _server(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    address: str,
    now: datetime.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(address))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def spki_sha256(cert: x509.Certificate) -> str:
    """Base64 SHA-256 of ``cert``'s SubjectPublicKeyInfo (Chromium's SPKI list format)."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def make_throwaway_pki(directory: Path, *, address: str = "127.0.0.1") -> ThrowawayPKI:
    """Create a CA and a server certificate for ``address`` (an IP SAN) in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key, ca_cert = _ca(now)
    key, cert = _server(ca_key, ca_cert, address, now)
    pem = serialization.Encoding.PEM
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    chain_path = directory / "fullchain.pem"
    chain_path.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    key_path = directory / "privkey.pem"
    key_path.touch(mode=0o600)
    key_path.write_bytes(_pem_key(key))
    # The CA's private key is never written: nothing else is ever signed with it.
    return ThrowawayPKI(ca_path, chain_path, key_path, spki_sha256(cert))
