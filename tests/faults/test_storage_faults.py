"""Faults of storage under a running conversation: the database during a send, a full
audit disk, a corrupted key row. Each ends with nothing lost or duplicated, every key
decryptable and ``audit verify`` passing.

How each fault is made (honestly, in process, through the real ASGI stack):

- database during a send: ``store.store_message`` is wrapped so the
  connection "drops" either before the commit (the row rolls back) or just
  after it (the row is committed, the ack is never sent); the consumer sees
  Django's ``OperationalError`` as a real dropped connection would raise it.
- full disk for the audit log: a 64 KiB tmpfs is mounted (root only; the
  test skips otherwise) and the audit file lives on it; a filler file takes
  the rest of the space, then is removed to recover.
- corrupted key row: one byte of the active encryption key's wrapped
  private key is flipped in the database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, transaction

import keyvault
from securemsg.chat.internal import store
from securemsg.chat.models import Message
from securemsg.protocol import (
    ClientHandshake,
    decode_frame,
    encode_json,
    parse_key_set,
    send_request,
)
from tests.faults.conftest import audit_verifies, every_key_decrypts
from tests.support.ws import active_pins, connect_as

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]


def _drop_connection(when: str) -> Any:
    real = store.store_message

    def failing(*args: Any, **kwargs: Any) -> Any:
        if when == "before_commit":
            with transaction.atomic():
                real(*args, **kwargs)
                raise OperationalError("server closed the connection unexpectedly")
        real(*args, **kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    return failing


@pytest.mark.parametrize("when", ["before_commit", "after_commit"])
async def test_database_drop_during_send_no_ack_without_row_and_resend_is_idempotent(
    chat_users: dict[str, Any], secure: Any, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    alice = await secure(chat_users["alice"])
    await alice.send(send_request("keep-1", "bob", "before the fault"))
    assert (await alice.receive_until("ack"))["id"] == "keep-1"

    monkeypatch.setattr(store, "store_message", _drop_connection(when))
    await alice.send(send_request("fault-1", "bob", "during the fault"))
    assert await alice.expect_close() == 4500  # no ack
    rows = await sync_to_async(lambda: Message.objects.filter(client_id="fault-1").count())()
    assert rows == (0 if when == "before_commit" else 1)
    monkeypatch.undo()

    # The client reconnects and resends with the same id: one row, one ack.
    again = await secure(chat_users["alice"])
    await again.send(send_request("fault-1", "bob", "during the fault"))
    ack = await again.receive_until("ack")
    await again.send(send_request("fault-1", "bob", "during the fault"))
    assert (await again.receive_until("ack"))["mid"] == ack["mid"]

    def check() -> None:
        assert Message.objects.filter(client_id="fault-1").count() == 1
        assert Message.objects.filter(client_id="keep-1").count() == 1
        every_key_decrypts()
        audit_verifies()

    await sync_to_async(check)()
    bob = await secure(chat_users["bob"])
    bodies = [(await bob.receive_until("msg"))["body"] for _ in range(2)]
    assert sorted(bodies) == ["before the fault", "during the fault"]


@contextlib.contextmanager
def _tiny_filesystem(path: Path) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as handle:
        for _ in range(1024):  # 64 KiB at most fit; bounded anyway
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    return filler


async def _handshake_close_code(user: Any) -> int | None:
    """Run a handshake; None when it reached ready, else the server's close code."""
    communicator, connected, code = await connect_as(user)
    assert connected and code is None
    document = await sync_to_async(keyvault.keys_document)()
    client = ClientHandshake(parse_key_set(document), active_pins(document), user=user.username)
    outgoing = client.client_hello()
    for step in range(2):
        await communicator.send_to(text_data=encode_json(outgoing))
        output = await communicator.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            return int(output["code"])
        if step == 0:
            outgoing = client.receive_server_hello(decode_frame(output["text"]))
        else:
            client.receive_ready(output["text"])
    await communicator.disconnect()
    return None


async def _full_disk_then_recovery(
    users: dict[str, Any], secure: Any, settings: Any, tiny: Path
) -> None:
    from django.test import Client

    # Move the second sink onto the tiny disk with what it holds already
    # (the users' creation events), as an operator moving it would.
    current = Path(settings.SECUREMSG_AUDIT_FILE)
    if current.exists():
        shutil.copyfile(current, tiny / "audit.jsonl")
    settings.SECUREMSG_AUDIT_FILE = str(tiny / "audit.jsonl")
    alice = await secure(users["alice"])  # works while there is space
    await alice.send(send_request("disk-1", "bob", "stored before the disk filled"))
    await alice.receive_until("ack")
    filler = await sync_to_async(_fill)(tiny)

    # Handshakes need their audit event. The audit file's last page may
    # still hold a few lines, so the disk "fills up while serving": within
    # a few handshakes one is refused with 4500 (no ready), and so is the next.
    codes = [await _handshake_close_code(users["bob"]) for _ in range(2)]
    for _ in range(12):
        if codes[-2:] == [4500, 4500]:
            break
        codes.append(await _handshake_close_code(users["bob"]))
    assert codes[-2:] == [4500, 4500], codes
    assert set(codes) <= {None, 4500}, codes
    # A sign-in is refused as well (no session without its audit event).
    response = await sync_to_async(Client().post)(
        "/accounts/login/", {"username": "bob", "password": "correct-horse-battery-staple-42"}
    )
    assert "sessionid" not in response.cookies
    assert response.status_code != 302

    # Space comes back: everything works again, nothing manual.
    filler.unlink()
    bob = await secure(users["bob"])
    message = await bob.receive_until("msg")
    assert message["body"] == "stored before the disk filled"


async def test_full_audit_disk_fails_closed_then_recovers(
    chat_users: dict[str, Any], secure: Any, settings: Any, tmp_path: Path
) -> None:
    with _tiny_filesystem(tmp_path / "tiny") as tiny:
        await _full_disk_then_recovery(chat_users, secure, settings, tiny)

        def check() -> None:
            assert Message.objects.count() == 1
            every_key_decrypts()

        await sync_to_async(check)()


async def test_audit_verify_passes_after_a_full_disk(
    chat_users: dict[str, Any], secure: Any, settings: Any, tmp_path: Path
) -> None:
    with _tiny_filesystem(tmp_path / "tiny") as tiny:
        await _full_disk_then_recovery(chat_users, secure, settings, tiny)
        await sync_to_async(audit_verifies)()


async def test_corrupted_key_row_is_a_typed_4500_and_nothing_is_overwritten(
    chat_users: dict[str, Any], secure: Any
) -> None:
    from keyvault.exceptions import CorruptedKeyError
    from keyvault.internal.access import private_key
    from keyvault.models import ServerKey, State

    alice = await secure(chat_users["alice"])
    await alice.send(send_request("c-1", "bob", "before the corruption"))
    await alice.receive_until("ack")

    def corrupt() -> tuple[str, bytes, bytes, int]:
        row = ServerKey.objects.get(purpose="encryption", state=State.ACTIVE)
        good = bytes(row.wrapped_private_key)
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0x01
        ServerKey.objects.filter(pk=row.pk).update(wrapped_private_key=bytes(bad))
        keyvault.reset_caches()  # a process that starts now, or whose cache expired
        return row.kid, good, bytes(bad), ServerKey.objects.count()

    kid, good, bad, keys_before = await sync_to_async(corrupt)()
    with pytest.raises(CorruptedKeyError):
        await sync_to_async(private_key)(kid)
    assert await _handshake_close_code(chat_users["bob"]) == 4500
    assert await _handshake_close_code(chat_users["bob"]) == 4500  # still refused, not "repaired"

    def unchanged() -> None:
        row = ServerKey.objects.get(kid=kid)
        assert bytes(row.wrapped_private_key) == bad  # nothing overwritten
        assert row.state == State.ACTIVE
        assert ServerKey.objects.count() == keys_before  # no key made behind the operator's back
        audit_verifies()

    await sync_to_async(unchanged)()

    # Recovery: the row restored from a backup; the next handshake works, nothing lost.
    def restore() -> None:
        ServerKey.objects.filter(kid=kid).update(wrapped_private_key=good)
        keyvault.reset_caches()

    await sync_to_async(restore)()
    bob = await secure(chat_users["bob"])
    assert (await bob.receive_until("msg"))["body"] == "before the corruption"

    def check() -> None:
        every_key_decrypts()
        audit_verifies()

    await sync_to_async(check)()
