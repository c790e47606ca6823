"""The pin store and the pin decision (TOFU, --pin, rotation, loud refusal)."""

from __future__ import annotations

import json
import stat

import pytest

from securemsg.client import PinRefusedError, PinStore, default_pin_path, resolve_pins
from securemsg.client._errors import ClientError
from securemsg.protocol import KeySet, fingerprint, published_key, spki_der

ORIGIN = "https://chat.example"


def test_default_path_follows_xdg(tmp_path) -> None:
    assert default_pin_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "securemsg/pins.json"
    assert default_pin_path({"HOME": str(tmp_path)}) == tmp_path / ".config/securemsg/pins.json"


def test_store_round_trip_and_mode(tmp_path, pin: str) -> None:
    store = PinStore(tmp_path / "cfg" / "pins.json")
    assert store.pins(ORIGIN) == []
    store.add(ORIGIN, [pin])
    store.add(ORIGIN, [pin])
    assert store.pins(ORIGIN) == [pin]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert json.loads(store.path.read_text())["servers"] == {ORIGIN: [pin]}


def test_corrupt_store_is_a_client_error(tmp_path) -> None:
    path = tmp_path / "pins.json"
    path.write_text("[1]")
    with pytest.raises(ClientError):
        PinStore(path).pins(ORIGIN)


def test_first_use_trusts_the_active_signing_key(tmp_path, key_set: KeySet, pin: str) -> None:
    pins, first_use = resolve_pins(key_set, PinStore(tmp_path / "p.json"), ORIGIN, None)
    assert pins == [pin] and first_use


def test_stored_pin_is_used(tmp_path, key_set: KeySet, pin: str) -> None:
    store = PinStore(tmp_path / "p.json")
    store.add(ORIGIN, [pin])
    assert resolve_pins(key_set, store, ORIGIN, None) == ([pin], False)


def test_rotation_is_followed_through_endorsements(tmp_path, rotated_key_set, pin) -> None:
    store = PinStore(tmp_path / "p.json")
    store.add(ORIGIN, [pin])
    pins, first_use = resolve_pins(rotated_key_set, store, ORIGIN, None)
    assert pins == [pin] and not first_use


def test_unendorsed_change_is_refused_loudly(tmp_path, keys, pin) -> None:
    store = PinStore(tmp_path / "p.json")
    store.add(ORIGIN, [pin])
    replaced = KeySet(
        keys=(published_key(kid="sig-9", use="sig", public_key=keys.other.public_key()),),
        endorsements=(),
    )
    with pytest.raises(PinRefusedError) as info:
        resolve_pins(replaced, store, ORIGIN, None)
    assert info.value.exit_status == 4
    assert "REFUSING" in str(info.value) and fingerprint(spki_der(keys.other.public_key())) in str(
        info.value
    )


def test_explicit_pin_wins_and_is_validated(tmp_path, key_set: KeySet, pin: str) -> None:
    store = PinStore(tmp_path / "p.json")
    assert resolve_pins(key_set, store, ORIGIN, pin.upper()) == ([pin], False)
    with pytest.raises(ClientError):
        resolve_pins(key_set, store, ORIGIN, "abc")
    assert not store.path.exists()
