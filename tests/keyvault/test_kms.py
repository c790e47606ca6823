"""Each KMS backend, for real: local keyring file, environment key, passphrase, SoftHSM2."""

from __future__ import annotations

import base64
import json
import os

import pytest
from django.test import override_settings

from keyvault import reset_caches
from keyvault._secret import Secret
from keyvault.exceptions import (
    ConfigurationError,
    CorruptedKeyError,
    MasterKeyError,
    MasterKeyMissingError,
    TokenUnavailableError,
    WrongMasterKeyError,
)
from keyvault.kms import get_backend
from keyvault.kms.local import LocalBackend
from keyvault.kms.memory import MemoryBackend
from keyvault.kms.passphrase import PassphraseBackend

DEK = bytes(range(32))
AAD = b"row binding"


def _round_trip(backend):
    wrapped = backend.wrap(DEK, aad=AAD)
    assert wrapped.version == backend.primary_version()
    assert DEK not in wrapped.blob
    assert backend.unwrap(wrapped.blob, version=wrapped.version, aad=AAD) == DEK
    with pytest.raises(CorruptedKeyError):
        backend.unwrap(wrapped.blob, version=wrapped.version, aad=b"another row")
    tampered = bytearray(wrapped.blob)
    tampered[-1] ^= 1
    with pytest.raises(CorruptedKeyError):
        backend.unwrap(bytes(tampered), version=wrapped.version, aad=AAD)
    return wrapped


def _versions_survive_add(backend):
    old = _round_trip(backend)
    added = backend.add_version()
    assert added == old.version + 1
    assert backend.primary_version() == added
    assert backend.versions() == [old.version, added]
    assert backend.unwrap(old.blob, version=old.version, aad=AAD) == DEK
    new = _round_trip(backend)
    assert new.version == added
    with pytest.raises(CorruptedKeyError):
        backend.unwrap(new.blob, version=old.version, aad=AAD)
    with pytest.raises(MasterKeyMissingError):
        backend.unwrap(new.blob, version=99, aad=AAD)


# -- local -------------------------------------------------------------------------


def test_local_keyring_round_trip_and_versions(tmp_path):
    path = tmp_path / "keyring.json"
    backend = LocalBackend(path)
    assert not backend.exists()
    with pytest.raises(MasterKeyMissingError):
        backend.versions()
    assert backend.create() == 1
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    doc = json.loads(path.read_text())
    assert doc["format"] == "securemsg-master-keyring/1" and doc["primary"] == 1
    _versions_survive_add(backend)
    # A second instance (another process) reads the same keyring.
    assert LocalBackend(path).versions() == [1, 2]
    with pytest.raises(MasterKeyError):
        backend.create()


def test_local_refuses_group_or_world_readable_keyring(tmp_path):
    path = tmp_path / "keyring.json"
    LocalBackend(path).create()
    os.chmod(path, 0o644)
    with pytest.raises(ConfigurationError) as info:
        LocalBackend(path).versions()
    assert info.value.setting == "SECUREMSG_MASTER_KEY_FILE"
    assert "chmod 600" in str(info.value)


def test_local_single_32_byte_file_is_version_1_and_becomes_a_keyring(tmp_path):
    path = tmp_path / "master.key"
    raw = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, raw)
    os.close(fd)
    backend = LocalBackend(path)
    assert backend.versions() == [1]
    wrapped = _round_trip(backend)
    backend.add_version()
    assert backend.versions() == [1, 2]
    assert backend.unwrap(wrapped.blob, version=1, aad=AAD) == DEK
    assert base64.b64decode(json.loads(path.read_text())["versions"]["1"]["key"]) == raw


def test_local_environment_key_is_version_1_only(tmp_path):
    key = base64.b64encode(os.urandom(32)).decode()
    backend = LocalBackend(tmp_path / "unused.json", key)
    assert backend.exists() and backend.versions() == [1]
    _round_trip(backend)
    with pytest.raises(ConfigurationError) as info:
        backend.add_version()
    assert info.value.setting == "SECUREMSG_MASTER_KEY"


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_local_bad_environment_key_names_the_setting(tmp_path, value):
    with pytest.raises(ConfigurationError) as info:
        LocalBackend(tmp_path / "x", value).versions()
    assert info.value.setting == "SECUREMSG_MASTER_KEY"
    assert value not in str(info.value) or value.startswith("not")


def test_local_garbage_keyring_is_a_configuration_error(tmp_path):
    path = tmp_path / "keyring.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"format": "something else"}')
    os.close(fd)
    with pytest.raises(ConfigurationError):
        LocalBackend(path).versions()


# -- passphrase ----------------------------------------------------------------------


def test_passphrase_round_trip_versions_and_stored_parameters(tmp_path):
    params = tmp_path / "params.json"
    backend = PassphraseBackend("correct horse battery", params)
    backend.create()
    doc = json.loads(params.read_text())
    entry = doc["versions"]["1"]
    assert entry["kdf"] == "argon2id"
    assert len(base64.b64decode(entry["salt"])) == 16
    assert entry["memory_kib"] >= 65536 and entry["iterations"] >= 3
    assert "correct horse" not in params.read_text()
    _versions_survive_add(backend)
    # The same passphrase in a fresh process derives the same keys.
    again = PassphraseBackend("correct horse battery", params)
    wrapped = backend.wrap(DEK, aad=AAD, version=1)
    assert again.unwrap(wrapped.blob, version=1, aad=AAD) == DEK


def test_wrong_passphrase_is_reported_as_wrong_master_key(tmp_path):
    params = tmp_path / "params.json"
    PassphraseBackend("correct horse battery", params).create()
    wrong = PassphraseBackend("incorrect horse battery", params)
    with pytest.raises(WrongMasterKeyError) as info:
        wrong.health()
    assert "incorrect" not in str(info.value)


def test_passphrase_backend_requires_a_passphrase(passphrase_settings):
    passphrase_settings.KEYVAULT_MASTER_PASSPHRASE = Secret("")
    with pytest.raises(ConfigurationError) as info:
        get_backend()
    assert info.value.setting == "SECUREMSG_MASTER_PASSPHRASE"


def test_passphrase_from_file(passphrase_settings, tmp_path):
    secret_file = tmp_path / "passphrase"
    secret_file.write_text("a passphrase from a file\n")
    passphrase_settings.KEYVAULT_MASTER_PASSPHRASE = Secret("")
    passphrase_settings.KEYVAULT_MASTER_PASSPHRASE_FILE = str(secret_file)
    backend = get_backend()
    backend.create()
    _round_trip(backend)


def test_secret_repr_never_shows_the_value():
    assert "hunter2" not in repr(Secret("hunter2-long-enough"))
    assert "hunter2" not in str(Secret("hunter2-long-enough"))


# -- PKCS#11 (SoftHSM2) --------------------------------------------------------------


@pytest.mark.services
def test_pkcs11_round_trip_on_softhsm(pkcs11_settings):
    backend = get_backend()
    assert backend.name == "pkcs11"
    assert not backend.exists()
    backend.create()
    assert backend.exists()
    _versions_survive_add(backend)


@pytest.mark.services
def test_pkcs11_master_key_is_not_extractable(pkcs11_settings, softhsm_token):
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    backend = get_backend()
    backend.create()
    lib = pkcs11.lib(softhsm_token["module"])
    token = lib.get_token(token_label=softhsm_token["label"])
    with token.open(user_pin=softhsm_token["pin"]) as session:
        label = pkcs11_settings.KEYVAULT_PKCS11_KEY_LABEL + "-1"
        (key,) = session.get_objects(
            {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: label}
        )
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        with pytest.raises(pkcs11.exceptions.PKCS11Error):
            key[Attribute.VALUE]


@pytest.mark.services
@pytest.mark.parametrize(
    "change",
    [
        {"KEYVAULT_PKCS11_TOKEN_LABEL": "no-such-token"},
        {"KEYVAULT_PKCS11_PIN": Secret("wrong-pin-0000")},
    ],
    ids=["unknown-token", "wrong-pin"],
)
def test_pkcs11_unavailable_token_is_a_typed_error(pkcs11_settings, change):
    with override_settings(**change):
        with pytest.raises(TokenUnavailableError) as info:
            get_backend().health()
        assert "wrong-pin" not in str(info.value)
    reset_caches()


@pytest.mark.services
def test_pkcs11_missing_module_names_the_setting(pkcs11_settings):
    pkcs11_settings.KEYVAULT_PKCS11_MODULE = "/nonexistent/libpkcs11.so"
    with pytest.raises(ConfigurationError) as info:
        get_backend().health()
    assert info.value.setting == "SECUREMSG_PKCS11_MODULE"


# -- factory -------------------------------------------------------------------------


def test_unknown_backend_is_a_configuration_error_naming_the_setting(vault_settings):
    vault_settings.KEYVAULT_BACKEND = "keyvault.kms.nothing.Here"
    with pytest.raises(ConfigurationError) as info:
        get_backend()
    assert info.value.setting == "SECUREMSG_KMS_BACKEND"


def test_backend_by_dotted_path_and_cache_dropped_on_setting_change(vault_settings):
    vault_settings.KEYVAULT_BACKEND = "keyvault.kms.memory.MemoryBackend"
    first = get_backend()
    assert isinstance(first, MemoryBackend) and get_backend() is first
    vault_settings.KEYVAULT_BACKEND = "local"
    assert isinstance(get_backend(), LocalBackend)


def test_memory_backend_round_trip():
    MemoryBackend.reset()
    backend = MemoryBackend()
    backend.create()
    _versions_survive_add(backend)
    MemoryBackend.reset()
