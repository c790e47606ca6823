"""The chat fixtures' key vault for the hygiene scenario."""

from tests.chat.conftest import vault

__all__ = ["vault"]
