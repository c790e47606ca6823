"""Server key publication: keys.json, fingerprints, endorsements, pin logic.

protocol.md, "Server key publication". A client trusts a signing key when
its fingerprint is pinned or reachable from a pin through endorsements; the
endorser of each endorsement is identified by SHA-256(``by_spki``) only, so
a chain can be checked from a pinned fingerprint alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric import rsa

from ._b64 import b64u_encode
from ._constants import ENDORSE_LABEL, MAX_KID_LENGTH
from ._crypto import fingerprint, load_rsa_spki, pss_sign, pss_verify, sha256, spki_der
from ._framing import parse_json_object, require_bytes, require_int, require_name, require_str
from .exceptions import (
    AuthenticationFailedError,
    MalformedMessageError,
    UnsupportedVersionError,
)

KEYS_JSON_VERSION = 1
# keys.json is fetched over HTTPS from the server; the bound only keeps a
# hostile or broken server from making the client parse megabytes.
MAX_KEYS_JSON_SIZE = 1_048_576
_ALGS = {"sig": "RSA-PSS-SHA256", "enc": "RSA-OAEP-SHA256"}
_STATES = ("active", "retiring")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")

KeyUse = Literal["sig", "enc"]


@dataclass(frozen=True)
class PublishedKey:
    """One key of keys.json."""

    kid: str
    use: KeyUse
    alg: str
    spki: bytes
    fingerprint: str
    state: str
    public_key: rsa.RSAPublicKey


@dataclass(frozen=True)
class Endorsement:
    """One endorsement of keys.json: the key ``by`` (``by_spki``) vouches for ``kid``."""

    kid: str
    by: str
    by_spki: bytes
    sig: bytes

    def to_json(self) -> dict[str, str]:
        """Return the keys.json form of this endorsement."""
        return {
            "kid": self.kid,
            "by": self.by,
            "by_spki": b64u_encode(self.by_spki),
            "sig": b64u_encode(self.sig),
        }


def check_fingerprint(value: str) -> str:
    """Return ``value`` if it is 64 lowercase hex digits, else raise ValueError."""
    if not isinstance(value, str) or _FINGERPRINT.fullmatch(value) is None:
        raise ValueError("fingerprint must be 64 lowercase hex digits (SHA-256 of the SPKI)")
    return value


def endorsement_message(endorsed_spki: bytes) -> bytes:
    """Return the signed bytes: "securemsg/1 endorse" || 0x00 || SHA-256(endorsed SPKI)."""
    return ENDORSE_LABEL + b"\x00" + sha256(endorsed_spki)


def create_endorsement(
    *, kid: str, spki: bytes, by: str, by_private_key: rsa.RSAPrivateKey
) -> Endorsement:
    """Endorse the new signing key ``kid`` (SPKI DER ``spki``) with the older key ``by``.

    The key vault calls this when it rotates a signing key in the ordinary
    way; it must never do so when the old key was compromised.
    """
    return Endorsement(
        kid=kid,
        by=by,
        by_spki=spki_der(by_private_key.public_key()),
        sig=pss_sign(by_private_key, endorsement_message(spki)),
    )


def verify_endorsement(endorsement: Endorsement, endorsed_spki: bytes) -> bool:
    """Return whether ``endorsement.sig`` by ``by_spki`` covers ``endorsed_spki``."""
    try:
        by_key = load_rsa_spki(endorsement.by_spki, field="by_spki")
        pss_verify(by_key, endorsement.sig, endorsement_message(endorsed_spki))
    except (MalformedMessageError, AuthenticationFailedError):
        return False
    return True


@dataclass(frozen=True)
class KeySet:
    """A validated keys.json document."""

    keys: tuple[PublishedKey, ...]
    endorsements: tuple[Endorsement, ...]

    def find(self, kid: str, use: KeyUse) -> PublishedKey | None:
        """Return the published key ``kid`` of the given use, or None."""
        for key in self.keys:
            if key.kid == kid and key.use == use:
                return key
        return None

    def active_key(self, use: KeyUse) -> PublishedKey:
        """Return the active key of ``use`` (the one clients wrap to or pin on first use)."""
        for key in self.keys:
            if key.use == use and key.state == "active":
                return key
        raise MalformedMessageError(f"keys.json has no active {use} key")

    def trusted_fingerprints(self, pins: Iterable[str]) -> frozenset[str]:
        """Return every SPKI fingerprint trusted from ``pins`` through endorsements.

        An endorsement counts only when SHA-256(by_spki) is already trusted
        and its signature verifies over the digest of the endorsed SPKI:
        the published key with that kid, or the by_spki of an endorsement
        whose ``by`` is that kid (a key that has since been withdrawn). The
        signature binds the exact SPKI, so the position of an endorsement in
        the list does not matter; the loop runs to a fixed point.
        """
        trusted = {check_fingerprint(pin) for pin in pins}
        pending = list(self.endorsements)
        progress = True
        while progress:
            progress = False
            for endorsement in list(pending):
                if fingerprint(endorsement.by_spki) not in trusted:
                    continue
                for candidate in self._endorsed_candidates(endorsement.kid):
                    if verify_endorsement(endorsement, candidate):
                        trusted.add(fingerprint(candidate))
                        pending.remove(endorsement)
                        progress = True
                        break
        return frozenset(trusted)

    def _endorsed_candidates(self, kid: str) -> list[bytes]:
        candidates = [e.by_spki for e in self.endorsements if e.by == kid]
        published = self.find(kid, "sig")
        if published is not None:
            candidates.insert(0, published.spki)
        return candidates

    def trusted_signing_key(self, kid: str, pins: Iterable[str]) -> PublishedKey | None:
        """Return the published signing key ``kid`` if it chains to ``pins``, else None."""
        key = self.find(kid, "sig")
        if key is None or key.fingerprint not in self.trusted_fingerprints(pins):
            return None
        return key

    def to_json(self) -> dict[str, Any]:
        """Return the keys.json document for this key set."""
        return {
            "version": KEYS_JSON_VERSION,
            "keys": [
                {
                    "kid": k.kid,
                    "use": k.use,
                    "alg": k.alg,
                    "spki": b64u_encode(k.spki),
                    "fingerprint": k.fingerprint,
                    "state": k.state,
                }
                for k in self.keys
            ],
            "endorsements": [e.to_json() for e in self.endorsements],
        }


def published_key(
    *, kid: str, use: KeyUse, public_key: rsa.RSAPublicKey, state: str = "active"
) -> PublishedKey:
    """Build a PublishedKey from a public key (for the key vault's keys.json)."""
    spki = spki_der(public_key)
    return PublishedKey(kid, use, _ALGS[use], spki, fingerprint(spki), state, public_key)


def _parse_key(entry: Any) -> PublishedKey:
    if not isinstance(entry, dict):
        raise MalformedMessageError("keys.json key entries must be objects")
    kid = require_name(entry, "kid", max_length=MAX_KID_LENGTH)
    use = require_str(entry, "use")
    if use not in _ALGS:
        raise MalformedMessageError("key use must be 'sig' or 'enc'")
    if require_str(entry, "alg") != _ALGS[use]:
        raise MalformedMessageError(f"a {use} key must have alg {_ALGS[use]}")
    state = require_str(entry, "state")
    if state not in _STATES:
        raise MalformedMessageError("key state must be 'active' or 'retiring'")
    spki = require_bytes(entry, "spki")
    public_key = load_rsa_spki(spki, field="spki")
    if require_str(entry, "fingerprint") != fingerprint(spki):
        raise MalformedMessageError(f"fingerprint of key {kid!r} does not match its spki")
    return PublishedKey(
        kid,
        "sig" if use == "sig" else "enc",
        entry["alg"],
        spki,
        fingerprint(spki),
        state,
        public_key,
    )


def _parse_endorsement(entry: Any) -> Endorsement:
    if not isinstance(entry, dict):
        raise MalformedMessageError("keys.json endorsements must be objects")
    return Endorsement(
        kid=require_name(entry, "kid", max_length=MAX_KID_LENGTH),
        by=require_name(entry, "by", max_length=MAX_KID_LENGTH),
        by_spki=require_bytes(entry, "by_spki"),
        sig=require_bytes(entry, "sig"),
    )


def parse_key_set(document: str | bytes | Mapping[str, Any]) -> KeySet:
    """Parse and validate a keys.json document (MalformedMessageError on any fault).

    Each key must be an RSA 2048..4096-bit rsaEncryption SPKI whose
    published fingerprint matches; kids are unique per use. Unknown fields
    are ignored. A version other than 1 is UnsupportedVersionError.
    """
    if isinstance(document, Mapping):
        obj = dict(document)
    else:
        obj = parse_json_object(document, limit=MAX_KEYS_JSON_SIZE, what="keys.json")
    if require_int(obj, "version") != KEYS_JSON_VERSION:
        raise UnsupportedVersionError("unsupported keys.json version")
    raw_keys = obj.get("keys")
    raw_endorsements = obj.get("endorsements", [])
    if not isinstance(raw_keys, list) or not isinstance(raw_endorsements, list):
        raise MalformedMessageError("keys and endorsements must be lists")
    keys = tuple(_parse_key(entry) for entry in raw_keys)
    if len({(k.kid, k.use) for k in keys}) != len(keys):
        raise MalformedMessageError("keys.json lists a kid twice")
    endorsements = tuple(_parse_endorsement(entry) for entry in raw_endorsements)
    return KeySet(keys, endorsements)
