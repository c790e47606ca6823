"""Envelope encryption end to end: round trips per backend, AAD binding, every failure case."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection

import keyvault
from keyvault import reset_caches
from keyvault.exceptions import (
    CorruptedKeyError,
    MasterKeyMissingError,
    WrongMasterKeyError,
)
from keyvault.internal.access import load_private_key
from keyvault.kms.local import LocalBackend
from keyvault.models import DataKey, ServerKey

from .conftest import private_der

pytestmark = pytest.mark.django_db


def _snapshot():
    return {
        row.kid: (bytes(row.wrapped_dek), bytes(row.wrapped_private_key), row.master_version)
        for row in ServerKey.objects.all()
    }


def _full_round_trip():
    keyvault.initialize()
    reset_caches()
    kid, signature = keyvault.sign_checkpoint(b"checkpoint")
    assert kid == "sig-1" and len(signature) == 256
    assert keyvault.server_keyring().decryption_key("enc-1").key_size == 2048
    handle = keyvault.new_data_key("message", "alice:bob")
    reset_caches()
    assert keyvault.open_data_key(handle.key_id, purpose="message") == handle.key


def test_round_trip_local(vault_settings):
    _full_round_trip()
    raw = Path(vault_settings.KEYVAULT_MASTER_KEY_FILE).read_bytes()
    for kid in ("sig-1", "enc-1"):
        assert private_der(kid) not in raw


def test_round_trip_passphrase(passphrase_settings):
    _full_round_trip()


@pytest.mark.services
def test_round_trip_softhsm(pkcs11_settings):
    _full_round_trip()


def test_stored_rows_hold_no_plaintext(vault):
    for row in ServerKey.objects.all():
        der = private_der(row.kid)
        assert der not in bytes(row.wrapped_private_key)
        assert der[-64:] not in bytes(row.wrapped_private_key)


def _swap(column, table, key_column, a, b):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {key_column} = %s", [a])
        value_a = cursor.fetchone()[0]
        cursor.execute(f"SELECT {column} FROM {table} WHERE {key_column} = %s", [b])
        value_b = cursor.fetchone()[0]
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {key_column} = %s", [value_b, a])
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {key_column} = %s", [value_a, b])


@pytest.mark.parametrize("column", ["wrapped_private_key", "wrapped_dek"])
def test_swapping_two_rows_ciphertexts_in_sql_fails_closed(vault, column):
    _swap(column, "keyvault_serverkey", "kid", "sig-1", "enc-1")
    reset_caches()
    for kid in ("sig-1", "enc-1"):
        with pytest.raises(CorruptedKeyError) as info:
            load_private_key(ServerKey.objects.get(kid=kid))
        assert kid in str(info.value)


def test_swapping_both_columns_together_still_fails(vault):
    _swap("wrapped_private_key", "keyvault_serverkey", "kid", "sig-1", "enc-1")
    _swap("wrapped_dek", "keyvault_serverkey", "kid", "sig-1", "enc-1")
    with pytest.raises(CorruptedKeyError):
        load_private_key(ServerKey.objects.get(kid="sig-1"))


def test_editing_a_bound_field_fails(vault):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE keyvault_serverkey SET algorithm = 'RSA-4096' WHERE kid = 'enc-1'")
    with pytest.raises(CorruptedKeyError):
        load_private_key(ServerKey.objects.get(kid="enc-1"))


def test_swapping_data_keys_fails(vault):
    one = keyvault.new_data_key("message", "a:b")
    two = keyvault.new_data_key("message", "c:d")
    _swap("wrapped_key", "keyvault_datakey", "key_id", one.key_id, two.key_id)
    reset_caches()
    with pytest.raises(CorruptedKeyError):
        keyvault.open_data_key(one.key_id, purpose="message")


def test_data_key_purpose_must_match(vault):
    handle = keyvault.new_data_key("message", "a:b")
    reset_caches()
    with pytest.raises(keyvault.UnknownKeyError):
        keyvault.open_data_key(handle.key_id, purpose="audit")
    assert "key=" not in repr(handle) and handle.key.hex() not in repr(handle)


def test_truncated_row_is_corrupted_and_the_handshake_gets_4500(vault):
    ServerKey.objects.filter(kid="sig-1").update(wrapped_private_key=b"short")
    reset_caches()
    from securemsg.protocol import ServerUnavailableError

    with pytest.raises(ServerUnavailableError) as info:
        keyvault.server_keyring().signing_key()
    assert isinstance(info.value.__cause__, CorruptedKeyError)
    assert info.value.close_code == 4500


def test_wrong_master_key_is_detected_and_nothing_is_overwritten(vault, vault_settings):
    before = _snapshot()
    keyring = vault_settings.KEYVAULT_MASTER_KEY_FILE
    os.unlink(keyring)
    LocalBackend(Path(keyring)).create()  # a different master key at the same path
    reset_caches()
    with pytest.raises(WrongMasterKeyError) as info:
        keyvault.sign_checkpoint(b"x")
    assert "restore" in str(info.value)
    with pytest.raises(WrongMasterKeyError):
        keyvault.initialize()
    with pytest.raises(WrongMasterKeyError):
        keyvault.rotate("signing")
    assert _snapshot() == before
    assert ServerKey.objects.count() == 2


def test_missing_master_key_stops_init_and_creates_nothing(vault, vault_settings):
    before = _snapshot()
    os.unlink(vault_settings.KEYVAULT_MASTER_KEY_FILE)
    reset_caches()
    with pytest.raises(MasterKeyMissingError) as info:
        keyvault.initialize()
    assert "do not create a new one" in str(info.value)
    assert not os.path.exists(vault_settings.KEYVAULT_MASTER_KEY_FILE)
    with pytest.raises(MasterKeyMissingError):
        keyvault.sign_checkpoint(b"x")
    assert _snapshot() == before


def test_data_keys_alone_also_block_master_creation(db, vault_settings):
    keyvault.initialize()
    ServerKey.objects.update(wrapped_dek=b"")  # as if every server key were destroyed
    keyvault.new_data_key("audit")
    os.unlink(vault_settings.KEYVAULT_MASTER_KEY_FILE)
    reset_caches()
    with pytest.raises(MasterKeyMissingError):
        keyvault.initialize()
    assert DataKey.objects.count() == 1


@pytest.mark.services
def test_unavailable_token_fails_closed(pkcs11_settings):
    keyvault.initialize()
    before = _snapshot()
    pkcs11_settings.KEYVAULT_PKCS11_TOKEN_LABEL = "unplugged"
    with pytest.raises(keyvault.TokenUnavailableError):
        keyvault.sign_checkpoint(b"x")
    with pytest.raises(keyvault.TokenUnavailableError):
        keyvault.rotate("encryption")
    with pytest.raises(keyvault.TokenUnavailableError):
        keyvault.initialize()
    assert _snapshot() == before
