"""keys.json parsing, fingerprints, endorsements and the pin logic."""

from __future__ import annotations

import copy

import pytest

from securemsg.protocol import (
    Endorsement,
    KeySet,
    MalformedMessageError,
    UnsupportedVersionError,
    b64u_encode,
    check_fingerprint,
    create_endorsement,
    encode_json,
    endorsement_message,
    fingerprint,
    parse_key_set,
    published_key,
    spki_der,
    verify_endorsement,
)

from .conftest import Keys


def test_round_trip_and_fingerprint(rotated_key_set: KeySet, keys: Keys) -> None:
    document = rotated_key_set.to_json()
    parsed = parse_key_set(encode_json(document))
    assert parsed == parse_key_set(document)
    sig2 = parsed.find("sig-2", "sig")
    assert sig2 is not None and sig2.state == "active"
    assert sig2.fingerprint == fingerprint(spki_der(keys.sig_next.public_key()))
    assert len(sig2.fingerprint) == 64 and sig2.fingerprint == sig2.fingerprint.lower()
    assert parsed.active_key("enc").kid == "enc-1"


def test_unknown_fields_are_ignored(key_set: KeySet) -> None:
    document = key_set.to_json()
    document["extra"] = 1
    document["keys"][0]["comment"] = "x"
    assert parse_key_set(document).keys == key_set.keys


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["keys"][0].update(fingerprint="00" * 32),
        lambda d: d["keys"][0].update(alg="RSA-OAEP-SHA256"),
        lambda d: d["keys"][0].update(use="wrap"),
        lambda d: d["keys"][0].update(state="destroyed"),
        lambda d: d["keys"][0].update(spki=d["keys"][0]["spki"] + "="),
        lambda d: d["keys"][0].pop("kid"),
        lambda d: d.update(keys="x"),
        lambda d: d["keys"].append(copy.deepcopy(d["keys"][0])),
        lambda d: d.update(version="1"),
    ],
)
def test_malformed_key_sets(key_set: KeySet, mutate) -> None:
    document = copy.deepcopy(key_set.to_json())
    mutate(document)
    with pytest.raises(MalformedMessageError):
        parse_key_set(document)


def test_unsupported_key_set_version(key_set: KeySet) -> None:
    with pytest.raises(UnsupportedVersionError):
        parse_key_set(dict(key_set.to_json(), version=2))


def test_endorsement_message_layout(keys: Keys) -> None:
    spki = spki_der(keys.sig_next.public_key())
    message = endorsement_message(spki)
    assert message[:20] == b"securemsg/1 endorse\x00"
    assert message[20:].hex() == fingerprint(spki)


def test_create_and_verify_endorsement(keys: Keys) -> None:
    spki = spki_der(keys.sig_next.public_key())
    endorsement = create_endorsement(kid="sig-2", spki=spki, by="sig-1", by_private_key=keys.sig)
    assert endorsement.by_spki == spki_der(keys.sig.public_key())
    assert verify_endorsement(endorsement, spki)
    assert not verify_endorsement(endorsement, spki_der(keys.other.public_key()))


def test_trust_follows_endorsement(rotated_key_set: KeySet, pin: str) -> None:
    assert rotated_key_set.trusted_signing_key("sig-2", [pin]) is not None
    assert rotated_key_set.trusted_signing_key("sig-1", [pin]) is not None  # retiring, pinned


def test_no_pin_no_trust(rotated_key_set: KeySet, keys: Keys) -> None:
    other = fingerprint(spki_der(keys.other.public_key()))
    assert rotated_key_set.trusted_signing_key("sig-2", [other]) is None
    assert rotated_key_set.trusted_signing_key("sig-2", []) is None


def test_endorsement_by_untrusted_key_does_not_count(keys: Keys, pin: str) -> None:
    spki = spki_der(keys.sig_next.public_key())
    forged = create_endorsement(kid="sig-2", spki=spki, by="sig-1", by_private_key=keys.other)
    key_set = KeySet(
        keys=(published_key(kid="sig-2", use="sig", public_key=keys.sig_next.public_key()),),
        endorsements=(forged,),
    )
    assert key_set.trusted_signing_key("sig-2", [pin]) is None


def test_endorsement_with_pinned_by_spki_but_wrong_signature(keys: Keys, pin: str) -> None:
    spki = spki_der(keys.sig_next.public_key())
    forged = create_endorsement(kid="sig-2", spki=spki, by="sig-1", by_private_key=keys.other)
    # Claim the pinned key as endorser: its digest is trusted, the signature is not its.
    forged = Endorsement(forged.kid, forged.by, spki_der(keys.sig.public_key()), forged.sig)
    key_set = KeySet(
        keys=(published_key(kid="sig-2", use="sig", public_key=keys.sig_next.public_key()),),
        endorsements=(forged,),
    )
    assert key_set.trusted_signing_key("sig-2", [pin]) is None


def test_chain_through_withdrawn_key(keys: Keys, pin: str) -> None:
    # sig-1 (pinned) endorsed sig-2, sig-2 endorsed sig-3; sig-1 and sig-2 are no
    # longer published, so sig-2's SPKI is only known as the by_spki of the later one.
    spki2 = spki_der(keys.sig_next.public_key())
    spki3 = spki_der(keys.other.public_key())
    e12 = create_endorsement(kid="sig-2", spki=spki2, by="sig-1", by_private_key=keys.sig)
    e23 = create_endorsement(kid="sig-3", spki=spki3, by="sig-2", by_private_key=keys.sig_next)
    published = (published_key(kid="sig-3", use="sig", public_key=keys.other.public_key()),)
    for order in [(e12, e23), (e23, e12)]:
        key_set = KeySet(keys=published, endorsements=order)
        assert key_set.trusted_signing_key("sig-3", [pin]) is not None
        trusted = key_set.trusted_fingerprints([pin])
        assert fingerprint(spki2) in trusted
    # Without the middle link the chain is broken.
    key_set = KeySet(keys=published, endorsements=(e23,))
    assert key_set.trusted_signing_key("sig-3", [pin]) is None


def test_unendorsed_replacement_is_refused(keys: Keys, pin: str) -> None:
    # A compromised key's replacement is never endorsed: TOFU clients refuse it.
    key_set = KeySet(
        keys=(published_key(kid="sig-9", use="sig", public_key=keys.other.public_key()),),
        endorsements=(),
    )
    assert key_set.trusted_signing_key("sig-9", [pin]) is None


@pytest.mark.parametrize("bad", ["AB" * 32, "ab" * 31, "xy" * 32, "ab:" * 21, 5])
def test_check_fingerprint(bad) -> None:
    with pytest.raises(ValueError):
        check_fingerprint(bad)


def test_endorsement_json_shape(keys: Keys) -> None:
    spki = spki_der(keys.sig_next.public_key())
    entry = create_endorsement(
        kid="sig-2", spki=spki, by="sig-1", by_private_key=keys.sig
    ).to_json()
    assert set(entry) == {"kid", "by", "by_spki", "sig"}
    assert entry["by_spki"] == b64u_encode(spki_der(keys.sig.public_key()))
