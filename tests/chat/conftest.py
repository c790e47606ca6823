"""Fixtures for the chat tests: vault keys, users and secure sockets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from django.core.management import call_command

import keyvault
from securemsg.chat import limits
from tests.support.ws import SecureSocket, connect_as, handshake

#: A test that counts toward a rate limit starts with at least this long left in the window.
WINDOW_MARGIN_SECONDS = 10.0


@pytest.fixture
def vault(transactional_db: None, settings: Any, tmp_path: Any) -> dict[str, Any]:
    """An initialised key vault (RSA-2048 keys, for speed) and its keys.json document."""
    settings.KEYVAULT_MASTER_KEY_FILE = str(tmp_path / "master-keyring.json")
    settings.KEYVAULT_KEY_ALGORITHM = "RSA-2048"
    keyvault.reset_caches()
    call_command("keyvault", "init", verbosity=0)
    return keyvault.keys_document()


@pytest.fixture
def one_rate_window() -> None:
    """Wait, if need be, so that the test runs inside one rate-limit window.

    Limits count in fixed 60-second windows (securemsg/chat/limits.py): a test
    whose second event must be refused fails if the two straddle a boundary,
    which the counter resets at (seen once in a loaded CI run).
    """
    left = limits.WINDOW_SECONDS - time.time() % limits.WINDOW_SECONDS
    if left < WINDOW_MARGIN_SECONDS:
        time.sleep(left + 0.05)


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
