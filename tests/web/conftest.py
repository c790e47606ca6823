"""The chat fixtures' key vault for pages that embed keys.json."""

from tests.chat.conftest import chat_users, secure, vault

__all__ = ["chat_users", "secure", "vault"]
