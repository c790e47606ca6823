"""The chat fixtures' key vault, for the accounts tests that open a secure WebSocket."""

from tests.chat.conftest import chat_users, vault

__all__ = ["chat_users", "vault"]
