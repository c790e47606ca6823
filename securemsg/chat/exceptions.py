"""Errors of the chat layer.

    ChatError
    ├── UnknownUserError      a ``to`` or ``with`` that names no active user
    ├── UnknownMessageError   a ``before`` that names no message of the conversation
    └── MessageIntegrityError a stored ciphertext that does not open (tampered row)

The first two become an application ``error`` record; the last one means the
store cannot be trusted and the consumer closes with 4500.
"""

from __future__ import annotations


class ChatError(Exception):
    """Base class of chat-layer errors."""


class UnknownUserError(ChatError):
    """The named user does not exist or is inactive."""


class UnknownMessageError(ChatError):
    """The named message is not part of the conversation."""


class MessageIntegrityError(ChatError):
    """A stored message failed authentication when opened."""
