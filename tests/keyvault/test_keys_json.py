"""GET /.well-known/securemsg/keys.json as protocol.md specifies it."""

from __future__ import annotations

import base64
import hashlib

import pytest

import keyvault
from securemsg.protocol import parse_key_set

pytestmark = pytest.mark.django_db
URL = "/.well-known/securemsg/keys.json"


def _b64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_shape_headers_and_states(client, vault):
    keyvault.rotate("signing")
    keyvault.rotate("encryption")
    keyvault.rotate("encryption")
    keyvault.disable_key("enc-1")
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=60"
    doc = response.json()
    assert set(doc) == {"version", "keys", "endorsements"} and doc["version"] == 1
    listed = {(k["kid"], k["use"], k["state"], k["alg"]) for k in doc["keys"]}
    assert listed == {
        ("sig-2", "sig", "active", "RSA-PSS-SHA256"),
        ("sig-1", "sig", "retiring", "RSA-PSS-SHA256"),
        ("enc-3", "enc", "active", "RSA-OAEP-SHA256"),
        ("enc-2", "enc", "retiring", "RSA-OAEP-SHA256"),
    }
    for key in doc["keys"]:
        assert set(key) == {"kid", "use", "alg", "spki", "fingerprint", "state"}
        assert "=" not in key["spki"]
        assert key["fingerprint"] == hashlib.sha256(_b64u(key["spki"])).hexdigest()
        assert key["spki"] == base64.urlsafe_b64encode(
            keyvault.public_spki(key["kid"])
        ).decode().rstrip("=")
    (endorsement,) = doc["endorsements"]
    assert set(endorsement) == {"kid", "by", "by_spki", "sig"}
    assert (endorsement["kid"], endorsement["by"]) == ("sig-2", "sig-1")
    assert _b64u(endorsement["by_spki"]) == keyvault.public_spki("sig-1")
    parse_key_set(doc)  # the protocol core's validator accepts it


def test_never_publishes_disabled_pending_deletion_or_destroyed(client, vault):
    keyvault.rotate("signing")
    keyvault.disable_key("sig-1")
    keyvault.allow_deletion("sig-1")
    keyvault.schedule_deletion("sig-1")
    doc = client.get(URL).json()
    assert [k["kid"] for k in doc["keys"] if k["use"] == "sig"] == ["sig-2"]
    assert [e["by"] for e in doc["endorsements"]] == ["sig-1"]  # cumulative


def test_only_get(client, vault):
    assert client.post(URL).status_code == 405


def test_no_private_material_in_document(client, vault):
    from .conftest import private_der

    body = client.get(URL).content
    for kid in ("sig-1", "enc-1"):
        der = private_der(kid)
        assert base64.urlsafe_b64encode(der).rstrip(b"=")[:40] not in body
