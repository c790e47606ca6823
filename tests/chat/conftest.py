"""Fixtures for the chat tests: vault keys, users and secure sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.core.management import call_command

import keyvault
from tests.support.ws import SecureSocket, connect_as, handshake


@pytest.fixture
def vault(transactional_db: None, settings: Any, tmp_path: Any) -> dict[str, Any]:
    """An initialised key vault (RSA-2048 keys, for speed) and its keys.json document."""
    settings.KEYVAULT_MASTER_KEY_FILE = str(tmp_path / "master-keyring.json")
    settings.KEYVAULT_KEY_ALGORITHM = "RSA-2048"
    keyvault.reset_caches()
    call_command("keyvault", "init", verbosity=0)
    return keyvault.keys_document()


@pytest.fixture
def chat_users(vault: dict[str, Any], user_factory: Callable[..., Any]) -> dict[str, Any]:
    """alice and bob, signed up and ready to chat."""
    return {name: user_factory(name) for name in ("alice", "bob")}


@pytest_asyncio.fixture
async def secure(vault: dict[str, Any]) -> AsyncIterator[Callable[..., Any]]:
    """Open secure sockets: ``await secure(user)``; all are closed after the test."""
    opened: list[SecureSocket] = []

    async def open_socket(user: Any) -> SecureSocket:
        communicator, connected, code = await connect_as(user)
        assert connected and code is None, code
        document = await sync_to_async(keyvault.keys_document)()
        socket = await handshake(communicator, document, username=user.username)
        opened.append(socket)
        return socket

    yield open_socket
    for socket in opened:
        await socket.communicator.disconnect()
