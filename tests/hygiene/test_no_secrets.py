"""No secret ever reaches a log line, the audit log, the database or a rendered page.

One full scenario runs with every logger at DEBUG and captured (a handler on
every logger, plus the process's stdout/stderr): sign-in through the form
for two users, handshakes, chat both ways, key rotation, a new master
version and a rewrap (the management commands' output is captured too).
Then every output is scanned for the secrets of the scenario:

- the two passwords;
- every server private key (PKCS#8 DER as hex, base64, base64url and PEM)
  and both clients' ephemeral private keys;
- the Django session keys (the ``sessionid`` cookies of the form sign-ins);
- the protocol secrets of both handshakes, computed on the client side
  from the test's own randomness: client_secret, server_secret (unwrapped
  with the client key), the c2s/s2c traffic secrets, the finished key and
  the AES-256-GCM epoch keys;
- every message body.

Scanned: captured log records (message, arguments and extras), stdout and
stderr, the command outputs, the audit table and the second audit sink
file, every database table except the wrapped key blobs and message
ciphertexts (``django_session.session_key`` included: it holds a hash of
each key, accounts/session_store.py), and the rendered chat and admin pages.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.db import connection
from django.test import Client

import keyvault
from securemsg.protocol import (
    ClientHandshake,
    b64u_decode,
    decode_frame,
    encode_json,
    parse_key_set,
    send_request,
)
from securemsg.protocol._crypto import oaep_decrypt
from securemsg.protocol._schedule import derive_handshake_secrets, epoch_key
from tests.support.ws import SecureSocket, active_pins, connect_as

PASSWORDS = {"alice": "alice-Sekr1t-" + uuid.uuid4().hex, "bob": "bob-Sekr1t-" + uuid.uuid4().hex}
# Columns that hold ciphertext by design (scanning them for plaintext is
# meaningless).
EXCLUDED_COLUMNS = {
    ("keyvault_serverkey", "wrapped_private_key"),
    ("keyvault_serverkey", "wrapped_dek"),
    ("keyvault_datakey", "wrapped_key"),
    ("chat_message", "ciphertext"),
}


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the arguments
            message = str(record.msg)
        self.lines.append(f"{record.name} {message} {record.__dict__!r}")


@pytest.fixture
def every_log() -> Iterator[_Everything]:
    """A DEBUG handler on the root logger and on every existing logger."""
    handler = _Everything()
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
    ]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg, level in saved:
            lg.setLevel(level)
            lg.removeHandler(handler)


def _encodings(data: bytes) -> list[str]:
    """Text forms in which ``data`` could leak (windows of long values)."""
    forms = [
        data.hex(),
        data.hex().upper(),
        base64.b64encode(data).decode().rstrip("="),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
    ]
    if len(data) > 48:  # a long key: any 32-character window in the middle betrays it
        middle = len(data) // 2
        window = data[middle : middle + 24]
        forms = [
            window.hex(),
            window.hex().upper(),
            *(
                f[len(f) // 2 : len(f) // 2 + 32]
                for f in (base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode())
            ),
        ]
    return forms


class Secrets:
    """Everything that must not appear, as named text needles and raw byte needles."""

    def __init__(self) -> None:
        self.text: dict[str, str] = {}
        self.raw: dict[str, bytes] = {}

    def add_text(self, name: str, value: str) -> None:
        self.text[name] = value

    def add_bytes(self, name: str, value: bytes) -> None:
        self.raw[name] = value if len(value) <= 48 else value[len(value) // 2 :][:24]
        for index, form in enumerate(_encodings(value)):
            self.text[f"{name}/{index}"] = form

    def add_private_key(self, name: str, key: rsa.RSAPrivateKey) -> None:
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.add_bytes(name, der)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.text[f"{name}/pem"] = pem.splitlines()[5]

    def hits(self, where: str, content: str | bytes) -> list[str]:
        found = []
        if isinstance(content, bytes):
            found += [f"{where}: {n}" for n, needle in self.raw.items() if needle in content]
            content = content.decode("utf-8", "replace")
        found += [f"{where}: {n}" for n, needle in self.text.items() if needle in content]
        return found


class _RecordingRandom:
    """os.urandom that remembers what it gave (client_nonce, client_secret)."""

    def __init__(self) -> None:
        self.draws: list[bytes] = []

    def __call__(self, size: int) -> bytes:
        value = os.urandom(size)
        self.draws.append(value)
        return value


async def _signed_in_socket(
    user: Any, session_key: str, document: dict[str, Any], secrets: Secrets
) -> SecureSocket:
    communicator, connected, code = await connect_as(user, session_key=session_key)
    assert connected and code is None, code
    client_key = rsa.generate_private_key(65537, 2048)
    secrets.add_private_key(f"client-key-{user.username}", client_key)
    random = _RecordingRandom()
    client = ClientHandshake(
        parse_key_set(document), active_pins(document), user=user.username,
        client_key=client_key, random=random,
    )  # fmt: skip
    await communicator.send_to(text_data=encode_json(client.client_hello()))
    server_hello = decode_frame(await communicator.receive_from(timeout=10))
    await communicator.send_to(text_data=encode_json(client.receive_server_hello(server_hello)))
    session = client.receive_ready(await communicator.receive_from(timeout=10))
    # The protocol secrets, recomputed from this side's randomness and key.
    client_secret = random.draws[1]
    server_secret = oaep_decrypt(client_key, b64u_decode(server_hello["wrapped_server_secret"]))
    derived = derive_handshake_secrets(client_secret, server_secret, session.th)
    name = user.username
    secrets.add_bytes(f"client_secret-{name}", client_secret)
    secrets.add_bytes(f"server_secret-{name}", server_secret)
    for label, value in (("c2s", derived.c2s), ("s2c", derived.s2c)):
        secrets.add_bytes(f"{label}-secret-{name}", value)
        secrets.add_bytes(f"{label}-key-{name}", epoch_key(value, session.th))
    secrets.add_bytes(f"finished_key-{name}", derived.finished_key)
    return SecureSocket(communicator, session, name)


def _form_sign_in(username: str) -> tuple[Client, str]:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": username, "password": PASSWORDS[username]}
    )
    assert response.status_code == 302, response.status_code
    return client, client.cookies["sessionid"].value


def _database_dump() -> Iterator[tuple[str, Any]]:
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(
                f"SELECT * FROM {connection.ops.quote_name(table)}"
            )  # table names from introspection
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if (table, column) in EXCLUDED_COLUMNS or value is None:
                        continue
                    if isinstance(value, memoryview):
                        value = bytes(value)
                    yield f"db {table}.{column}", value


@pytest.mark.timeout(180)
def test_full_scenario_leaves_no_secret_anywhere(
    vault: dict[str, Any], user_factory: Any, every_log: _Everything, capfd: Any, settings: Any
) -> None:
    secrets = Secrets()
    users = {name: user_factory(name, password=PASSWORDS[name]) for name in PASSWORDS}
    for name, password in PASSWORDS.items():
        secrets.add_text(f"password-{name}", password)
    bodies = {f"body-{i}": f"hygiene message {i} {uuid.uuid4().hex}" for i in range(4)}
    for name, body in bodies.items():
        secrets.add_text(name, body)

    # Sign in through the form, like a browser.
    pages: dict[str, bytes] = {}
    browsers = {}
    for name in PASSWORDS:
        browsers[name], session_key = _form_sign_in(name)
        secrets.add_text(f"django-session-{name}", session_key)

    async def chat() -> None:
        document = await sync_to_async(keyvault.keys_document)()
        sockets = {
            name: await _signed_in_socket(
                users[name], browsers[name].cookies["sessionid"].value, document, secrets
            )
            for name in PASSWORDS
        }
        alice, bob = sockets["alice"], sockets["bob"]
        await alice.send(send_request("h-0", "bob", bodies["body-0"]))
        await alice.receive_until("ack")
        await bob.send(send_request("h-1", "alice", bodies["body-1"]))
        await bob.receive_until("ack")
        await alice.send(send_request("h-2", "bob", bodies["body-2"]))
        await alice.receive_until("ack")
        received = [await bob.receive_until("msg") for _ in range(2)]
        for message in received:
            await bob.send({"t": "delivered", "mid": message["mid"]})
        await bob.send({"t": "history", "with": "alice", "limit": 10})
        await bob.receive_until("history")
        await alice.send(send_request("h-3", "alice", bodies["body-3"]))  # to themself
        await alice.receive_until("ack")
        for socket in sockets.values():
            await socket.close()

    async_to_sync(chat)()

    commands = io.StringIO()
    for args in (("rotate",), ("master-add",), ("rewrap",), ("status",), ("check",)):
        call_command("keyvault", *args, stdout=commands, stderr=commands)
    call_command("audit", "verify", stdout=commands, stderr=commands)

    # Every private key the vault holds now (old and new), unwrapped here only to scan for it.
    from keyvault.internal.access import private_key
    from keyvault.models import ServerKey

    keyvault.reset_caches()
    for kid in ServerKey.objects.values_list("kid", flat=True):
        secrets.add_private_key(f"server-key-{kid}", private_key(kid))

    # Rendered pages: the chat page, the admin pages of keys, audit and users.
    pages["chat"] = browsers["alice"].get("/chat/").content
    staff = Client()
    staff.force_login(user_factory("root", is_staff=True, is_superuser=True))
    from securemsg.audit.models import AuditEvent

    # Not the status page (/admin/): it runs every readiness check, which can
    # take tens of seconds late in a full test run (tests/ops covers that page).
    admin_paths = ["/admin/keyvault/serverkey/", "/admin/audit/auditevent/",
                   "/admin/accounts/user/", "/admin/audit/checkpoint/"]  # fmt: skip
    admin_paths += [
        f"/admin/keyvault/serverkey/{pk}/change/"
        for pk in ServerKey.objects.values_list("pk", flat=True)
    ]
    admin_paths += [
        f"/admin/audit/auditevent/{pk}/change/"
        for pk in AuditEvent.objects.values_list("pk", flat=True)
    ]
    admin_paths += [f"/admin/accounts/user/{u.pk}/change/" for u in users.values()]
    for path in admin_paths:
        response = staff.get(path)
        assert response.status_code == 200, path
        pages[path] = response.content

    # --- the scan --------------------------------------------------------------
    outputs = capfd.readouterr()
    hits: list[str] = []
    for index, line in enumerate(every_log.lines):
        hits += secrets.hits(f"log line {index}", line)
    hits += secrets.hits("stdout", outputs.out) + secrets.hits("stderr", outputs.err)
    hits += secrets.hits("command output", commands.getvalue())
    for row in AuditEvent.objects.values():
        hits += secrets.hits(f"audit row {row['seq']}", repr(row))
    audit_file = Path(settings.SECUREMSG_AUDIT_FILE)
    sink_files = sorted(audit_file.parent.glob(audit_file.name + "*"))
    assert sink_files, "the second audit sink should exist"
    for sink in sink_files:
        hits += secrets.hits(f"audit file {sink.name}", sink.read_bytes())
    for where, value in _database_dump():
        hits += secrets.hits(where, value if isinstance(value, bytes) else str(value))
    for path, content in pages.items():
        hits += secrets.hits(f"page {path}", content)
    assert hits == []
    # The scan is not vacuous: it saw the scenario and knows the secrets.
    assert len(every_log.lines) > 50
    assert len(secrets.text) > 60 and len(pages) > 10
    leaked_key = private_key(ServerKey.objects.values_list("kid", flat=True)[0])
    pem = leaked_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert secrets.hits("self-check", pem), "a PEM private key must be recognised"
    assert secrets.hits("self-check", f"x {bodies['body-0']} x") == ["self-check: body-0"]
