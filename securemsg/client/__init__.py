"""securemsg/1 Python client: sign in like a browser, pin, handshake over WebSocket.

It imports the protocol core, ``websockets`` and the standard library only
(never Django), so it runs anywhere. The CLI is ``python -m
securemsg.client``; the pieces below are for scripts and other services.
"""

from ._channel import SecureChannel, Transport, handshake
from ._cli import build_parser, main, open_channel
from ._errors import (
    ClientError,
    ClosedByServerError,
    PinRefusedError,
    ServerError,
    SignInError,
)
from ._http import Server
from ._pins import PinStore, default_pin_path, resolve_pins

__all__ = [
    "ClientError",
    "ClosedByServerError",
    "PinRefusedError",
    "PinStore",
    "SecureChannel",
    "Server",
    "ServerError",
    "SignInError",
    "Transport",
    "build_parser",
    "default_pin_path",
    "handshake",
    "main",
    "open_channel",
    "resolve_pins",
]
