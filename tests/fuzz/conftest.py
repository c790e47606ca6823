"""The chat fixtures (vault, chat_users, secure) for the live consumer fuzz."""

from tests.chat.conftest import chat_users, secure, vault

__all__ = ["chat_users", "secure", "vault"]
