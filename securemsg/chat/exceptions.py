"""Errors of the chat layer.

    ChatError
    ├── UnknownUserError        a ``to`` or ``with`` that names no active user
    ├── UnknownMessageError     a ``before`` that names no message of the conversation
    ├── MessageIntegrityError   a stored ciphertext that does not open (tampered row)
    └── LimitsUnavailableError  the rate-limit and session-count store did not answer

The first two become an application ``error`` record; the last two mean the
server cannot serve safely and the consumer closes with 4500.
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


class LimitsUnavailableError(ChatError):
    """The cache that holds rate limits and session counts (Redis in production) failed.

    Raised by :mod:`securemsg.chat.limits` in place of the backend's own
    error (a refused connection, a timeout), which is chained as the cause.
    """
