"""keys.json (protocol.md, "Server key publication") and public keys of any key ever made."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from securemsg.protocol import Endorsement as PublishedEndorsement
from securemsg.protocol import KeySet, published_key

from ..exceptions import CorruptedKeyError, UnknownKeyError
from ..models import Endorsement, Purpose, ServerKey, State
from .cache import cache

__all__ = ["keys_document", "public_spki"]

_USE = {Purpose.SIGNING: "sig", Purpose.ENCRYPTION: "enc"}


def keys_document() -> dict[str, Any]:
    """Return the keys.json document: active and retiring keys, every endorsement."""
    cached = cache.get("document", "keys.json")
    if isinstance(cached, dict):
        return cached
    keys = []
    for row in ServerKey.objects.filter(state__in=[State.ACTIVE, State.RETIRING]).order_by(
        "purpose", "-version"
    ):
        public = serialization.load_der_public_key(bytes(row.public_key))
        if not isinstance(public, rsa.RSAPublicKey):
            raise CorruptedKeyError(f"public key of {row.kid} is not an RSA key")
        keys.append(
            published_key(
                kid=row.kid,
                use="sig" if row.purpose == Purpose.SIGNING else "enc",
                public_key=public,
                state=str(row.state),
            )
        )
    # Cumulative: endorsements stay published after either key is withdrawn.
    endorsements = [
        PublishedEndorsement(
            kid=e.key.kid, by=e.by.kid, by_spki=bytes(e.by_spki), sig=bytes(e.signature)
        )
        for e in Endorsement.objects.select_related("key", "by").order_by("id")
    ]
    document = KeySet(tuple(keys), tuple(endorsements)).to_json()
    cache.put("document", "keys.json", document)
    return document


def public_spki(kid: str) -> bytes:
    """Return the SPKI DER of ``kid``, in any state (also destroyed)."""
    spki = cache.get("spki", kid)
    if isinstance(spki, bytes):
        return spki
    value = ServerKey.objects.filter(kid=kid).values_list("public_key", flat=True).first()
    if value is None:
        raise UnknownKeyError(f"no server key {kid!r}")
    spki = bytes(value)
    cache.put("spki", kid, spki)
    return spki
