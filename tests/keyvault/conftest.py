"""Fixtures of the key vault tests: a vault on a temporary keyring, audit capture, SoftHSM2."""

from __future__ import annotations

from typing import Any

import pytest


class AuditRecorder:
    """Stands in for ``securemsg.audit.record`` and keeps every event it is given.

    The audit log is another issue's work; these tests check which events
    the vault records and that a failing audit log rolls the action back.
    """

    def __init__(self, real: Any) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.fail_on: str | None = None
        #: Set to True to also write every event to the real audit log.
        self.passthrough = False
        self._real = real

    def __call__(self, event: str, *, actor: Any = None, request: Any = None, **fields: Any):
        if self.fail_on is not None and event == self.fail_on:
            raise RuntimeError(f"audit log unavailable ({event})")
        self.events.append((event, dict(fields, actor=actor)))
        if self.passthrough:
            self._real(event, actor=actor, request=request, **fields)

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [fields for event, fields in self.events if event == name]


@pytest.fixture(autouse=True)
def audit(monkeypatch: pytest.MonkeyPatch) -> AuditRecorder:
    """Capture the vault's audit events."""
    from securemsg import audit as audit_module

    recorder = AuditRecorder(audit_module.record)
    monkeypatch.setattr(audit_module, "record", recorder)
    return recorder


@pytest.fixture(autouse=True)
def vault_settings(settings: Any, tmp_path: Any) -> Any:
    """A local-backend vault on a keyring in a temp dir, RSA-2048 for speed, clean caches."""
    from keyvault import reset_caches
    from keyvault.internal import usage

    settings.KEYVAULT_BACKEND = "local"
    settings.KEYVAULT_MASTER_KEY_FILE = str(tmp_path / "master-keyring.json")
    settings.KEYVAULT_KEY_ALGORITHM = "RSA-2048"
    reset_caches()
    usage.discard()
    yield settings
    reset_caches()
    usage.discard()


@pytest.fixture
def vault(db: None, vault_settings: Any) -> Any:
    """An initialised vault: master key v1, active sig-1 and enc-1."""
    import keyvault

    keyvault.initialize()
    return keyvault


SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN_LABEL = "securemsg-test"
TOKEN_PIN = "4321-test-pin"


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A SoftHSM2 token in a temp dir with its own SOFTHSM2_CONF (one per test session).

    SoftHSM2 reads its configuration when the module is first initialised,
    which python-pkcs11 does once per process, so the token lives for the
    whole session; tests use distinct key labels to stay independent.
    """
    import os
    import shutil
    import subprocess

    if not os.path.exists(SOFTHSM_MODULE) or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    base = tmp_path_factory.mktemp("softhsm")
    (base / "tokens").mkdir()
    conf = base / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {base / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            TOKEN_LABEL,
            "--pin",
            TOKEN_PIN,
            "--so-pin",
            "8765-test-so-pin",
        ],
        check=True,
        capture_output=True,
    )
    return {"module": SOFTHSM_MODULE, "label": TOKEN_LABEL, "pin": TOKEN_PIN, "conf": str(conf)}


@pytest.fixture
def pkcs11_settings(softhsm_token: dict[str, str], vault_settings: Any, request: Any) -> Any:
    """Point the vault at the SoftHSM2 token with a key label unique to the test."""
    from keyvault import reset_caches
    from keyvault._secret import Secret

    vault_settings.KEYVAULT_BACKEND = "pkcs11"
    vault_settings.KEYVAULT_PKCS11_MODULE = softhsm_token["module"]
    vault_settings.KEYVAULT_PKCS11_TOKEN_LABEL = softhsm_token["label"]
    vault_settings.KEYVAULT_PKCS11_PIN = Secret(softhsm_token["pin"])
    vault_settings.KEYVAULT_PKCS11_KEY_LABEL = "m-" + request.node.name[:40]
    reset_caches()
    return vault_settings


@pytest.fixture
def passphrase_settings(vault_settings: Any, tmp_path: Any) -> Any:
    """Use the passphrase backend with a parameters file in the temp dir."""
    from keyvault import reset_caches
    from keyvault._secret import Secret

    vault_settings.KEYVAULT_BACKEND = "passphrase"
    vault_settings.KEYVAULT_MASTER_PASSPHRASE = Secret("an operator passphrase 42")
    vault_settings.KEYVAULT_PASSPHRASE_PARAMS_FILE = str(tmp_path / "master-passphrase.json")
    reset_caches()
    return vault_settings


def private_der(kid: str) -> bytes:
    """The PKCS#8 DER of a stored key, unwrapped through the vault (for leak scans)."""
    from cryptography.hazmat.primitives import serialization

    from keyvault.internal.access import private_key

    return private_key(kid).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
