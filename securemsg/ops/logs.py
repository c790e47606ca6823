"""Log formatting: JSON lines in production, readable lines in development.

structlog renders every record of the standard ``logging`` module (Django,
Daphne, Channels and our own ``logging.getLogger`` loggers) through
``structlog.stdlib.ProcessorFormatter``, so no call site changes. We chose
structlog over python-json-logger because it is actively maintained, gives
both renderers (JSON and console) from one processor chain, and lets us add
the request/connection ids and the secret redaction as two small processors.

``logging_config`` builds the ``LOGGING`` setting; it imports no Django code
(settings call it).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Final

import structlog

from securemsg.ops.correlation import correlation_fields

__all__ = ["FORMATS", "add_correlation_ids", "logging_config", "redact_secrets"]

#: Values of ``SECUREMSG_LOG_FORMAT``.
FORMATS: Final = ("json", "console")
#: Keys whose values never reach a log line, whatever logged them.
_SECRET_KEY_RE: Final = re.compile(
    r"pass(word|phrase)?|secret|token|pin$|authorization|cookie|session_key|private|"
    r"master_key|^key$|_key$|body|plaintext",
    re.IGNORECASE,
)
#: Keys produced by the chain itself, never redacted.
_OWN_KEYS: Final = frozenset(
    {"event", "level", "logger", "timestamp", "request_id", "connection_id", "exception"}
)
REDACTED: Final = "[redacted]"

EventDict = MutableMapping[str, Any]


def add_correlation_ids(logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """Add the bound ``request_id`` / ``connection_id`` (``securemsg.ops.correlation``)."""
    for name, value in correlation_fields().items():
        event_dict.setdefault(name, value)
    return event_dict


def redact_secrets(logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """Replace the value of any key that names a secret (password, token, key...)."""
    for name in list(event_dict):
        if name not in _OWN_KEYS and _SECRET_KEY_RE.search(name):
            event_dict[name] = REDACTED
    return event_dict


def _pre_chain() -> list[Any]:
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Only known-safe extras: Django's request logger also attaches the
        # request object, whose repr holds the query string.
        structlog.stdlib.ExtraAdder(allow=("status_code", "method", "path", "duration_ms")),
        add_correlation_ids,
    ]


def _formatter(fmt: str) -> dict[str, Any]:
    renderer: Any
    if fmt == "json":
        tail: list[Any] = [structlog.processors.format_exc_info]
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        tail = []
        # Plain tracebacks: structlog's default (rich) prints every frame's local
        # variables, which can hold passwords and keys, and takes seconds per
        # traceback.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    return {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": _pre_chain(),
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_secrets,
            *tail,
            renderer,
        ],
    }


def logging_config(base: dict[str, Any], *, fmt: str) -> dict[str, Any]:
    """Return ``base`` (a ``LOGGING`` dict) with its console handler rendering ``fmt``.

    Levels and per-logger settings of ``base`` are kept; the ``console``
    handler writes to standard error with the structlog formatter.
    """
    if fmt not in FORMATS:
        raise ValueError(f"SECUREMSG_LOG_FORMAT must be one of {', '.join(FORMATS)}, got {fmt!r}")
    config = dict(base)
    config["formatters"] = {**base.get("formatters", {}), "structured": _formatter(fmt)}
    handlers = dict(base.get("handlers", {}))
    handlers["console"] = {
        "class": "logging.StreamHandler",
        "formatter": "structured",
        "stream": "ext://sys.stderr",
    }
    config["handlers"] = handlers
    # django-health-check logs a traceback for every failed probe; readiness is
    # polled every few seconds, so keep its errors only (our one-line warning
    # names the check and the reason, securemsg.ops.health).
    config["loggers"] = {"health_check": {"level": "ERROR"}, **base.get("loggers", {})}
    return config


def level_name(level: str) -> str:
    """Validate a log level name (``INFO``...) and return it upper-cased."""
    name = level.upper()
    if not isinstance(logging.getLevelName(name), int):
        raise ValueError(f"SECUREMSG_LOG_LEVEL {level!r} is not a log level")
    return name
