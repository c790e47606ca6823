"""The command line: ``python -m securemsg.client --server URL --user NAME COMMAND``.

Exit statuses: 0 ok; 2 usage; 3 sign-in refused or session ended (4401);
4 pin refusal (the signing key is not endorsed by the pinned key); 5
protocol fault or other close code; 6 server unreachable or unusable;
7 the server answered a request with an ``error``; 130 interrupted.
Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Origin

from ..protocol import (
    MAX_FRAME_SIZE,
    KeySet,
    ProtocolError,
    StaleKeyError,
    history_request,
    ping_request,
)
from ._channel import SecureChannel, handshake
from ._errors import (
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_PROTOCOL,
    EXIT_USAGE,
    ClientError,
    ClosedByServerError,
    describe_close,
    exit_status_for_close,
)
from ._http import Server
from ._pins import PinStore, default_pin_path, resolve_pins

EXIT_REQUEST_REFUSED = 7
PASSWORD_ENV = "SECUREMSG_PASSWORD"
# protocol.md: idle clients send ping every 60 s.
PING_INTERVAL_SECONDS = 60.0


class UsageError(ClientError):
    """Bad command-line usage."""

    exit_status = EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the CLI."""
    parser = argparse.ArgumentParser(
        prog="python -m securemsg.client",
        description="securemsg/1 command-line client.",
        epilog="Exit status: 0 ok, 2 usage, 3 sign-in refused, 4 pin refusal, "
        "5 protocol/close error, 6 server unreachable, 7 request refused, 130 interrupted.",
    )
    parser.add_argument("--server", required=True, help="server origin, e.g. https://chat.example")
    parser.add_argument("--user", help="username to sign in as (not needed for 'keys')")
    parser.add_argument("--password-file", type=Path, help="file whose first line is the password")
    parser.add_argument("--pin", help="trusted signing key fingerprint (64 hex digits)")
    parser.add_argument(
        "--pin-file", type=Path, help="pin store (default: ~/.config/securemsg/pins.json)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    send = commands.add_parser("send", help="send one message and wait for its ack")
    send.add_argument("to")
    send.add_argument("body")
    commands.add_parser("listen", help="print incoming messages until interrupted")
    chat = commands.add_parser("chat", help="interactive chat with history")
    chat.add_argument("peer")
    chat.add_argument(
        "--history", type=int, default=20, help="messages of history to show (1..100)"
    )
    commands.add_parser("keys", help="show the server's keys and whether they chain to the pin")
    return parser


def read_password(args: argparse.Namespace, environ: dict[str, str]) -> str:
    """Return the password from --password-file, $SECUREMSG_PASSWORD or a prompt."""
    password_file: Path | None = args.password_file
    if password_file is not None:
        try:
            lines = password_file.read_text("utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read --password-file: {exc.strerror}") from exc
        if not lines or not lines[0]:
            raise UsageError("--password-file is empty")
        return lines[0]
    from_env = environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    try:
        return getpass.getpass(f"Password for {args.user}: ")
    except EOFError as exc:
        raise UsageError(f"no password: use --password-file or {PASSWORD_ENV}") from exc


async def open_channel(
    server: Server, key_set: KeySet, pins: list[str], user: str
) -> tuple[ClientConnection, SecureChannel]:
    """Connect and run the handshake; re-fetch keys.json once on 4412 or an unknown sig_kid."""
    for attempt in range(2):
        ws = await connect(
            server.ws_url,
            origin=Origin(server.origin),
            additional_headers={"Cookie": server.cookie_header()},
            max_size=MAX_FRAME_SIZE,
            open_timeout=15,
        )
        try:
            return ws, await handshake(ws, key_set, pins, user=user, origin=server.origin)
        except StaleKeyError:
            await ws.close()
            if attempt:
                raise
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code != 4412 or attempt:
                raise ClosedByServerError(describe_close(code), code=code) from exc
        key_set = server.fetch_keys()  # past every cache
    raise AssertionError("unreachable")


async def _run_send(channel: SecureChannel, args: argparse.Namespace, out: TextIO) -> int:
    answer = await channel.send_text(args.to, args.body)
    if answer["t"] == "error":
        print(f"refused: {answer['code']}: {answer.get('message', '')}", file=sys.stderr)
        return EXIT_REQUEST_REFUSED
    print(f"stored {answer['mid']} at {answer['ts']}", file=out)
    return EXIT_OK


def format_message(message: dict[str, Any]) -> str:
    """One line for a ``msg`` or history entry."""
    return f"[{message['ts']}] {message['from']} -> {message['to']}: {message['body']}"


async def _receive_with_pings(channel: SecureChannel) -> dict[str, Any]:
    while True:
        try:
            return await asyncio.wait_for(channel.receive(), PING_INTERVAL_SECONDS)
        except TimeoutError:
            await channel.send_message(ping_request())


async def _run_listen(channel: SecureChannel, out: TextIO) -> int:
    seen: set[str] = set()
    while True:
        message = await _receive_with_pings(channel)
        if message["t"] == "msg" and message["mid"] not in seen:
            seen.add(message["mid"])  # redelivery after reconnect: show once
            print(format_message(message), file=out, flush=True)
            await channel.confirm(message)
        elif message["t"] == "receipt":
            print(f"delivered {message['mid']}", file=out, flush=True)


async def _run_chat(channel: SecureChannel, args: argparse.Namespace, out: TextIO) -> int:
    if not 1 <= args.history <= 100:
        raise UsageError("--history must be 1..100")
    await channel.send_message(history_request(args.peer, limit=args.history, request_id="h0"))
    loop = asyncio.get_running_loop()
    reader = loop.run_in_executor(None, sys.stdin.readline)
    receiver = asyncio.ensure_future(_receive_with_pings(channel))
    while True:
        done, _ = await asyncio.wait({reader, receiver}, return_when=asyncio.FIRST_COMPLETED)
        if receiver in done:
            message = receiver.result()
            if message["t"] == "history":
                for item in message["messages"]:
                    print(format_message(item), file=out, flush=True)
            elif message["t"] == "msg":
                print(format_message(message), file=out, flush=True)
                await channel.confirm(message)
            elif message["t"] == "error":
                print(f"error: {message['code']}: {message.get('message', '')}", file=out)
            receiver = asyncio.ensure_future(_receive_with_pings(channel))
        if reader in done:
            line = reader.result()
            if not line:  # end of input
                receiver.cancel()
                return EXIT_OK
            if line.strip():
                await channel.send_message(
                    {
                        "t": "send",
                        "id": os.urandom(8).hex(),
                        "to": args.peer,
                        "body": line.rstrip("\n"),
                    }
                )
            reader = loop.run_in_executor(None, sys.stdin.readline)


def _run_keys(server: Server, store: PinStore, pin: str | None, out: TextIO) -> int:
    key_set = server.fetch_keys()
    pins = [pin.lower()] if pin else store.pins(server.origin)
    trusted = key_set.trusted_fingerprints(pins) if pins else frozenset()
    for key in key_set.keys:
        mark = (
            "trusted" if key.fingerprint in trusted else ("-" if key.use == "enc" else "untrusted")
        )
        print(f"{key.kid}\t{key.use}\t{key.state}\t{key.fingerprint}\t{mark}", file=out)
    resolve_pins(key_set, store, server.origin, pin)  # raises the loud refusal
    return EXIT_OK


async def run(args: argparse.Namespace, environ: dict[str, str], out: TextIO) -> int:
    """Execute one parsed command; returns the exit status."""
    try:
        server = Server.from_url(args.server)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    store = PinStore(args.pin_file or default_pin_path(environ))
    if args.command == "keys":
        return _run_keys(server, store, args.pin, out)
    if not args.user:
        raise UsageError(f"{args.command} needs --user")
    password = read_password(args, environ)
    server.sign_in(args.user, password)
    key_set = server.fetch_keys()
    pins, first_use = resolve_pins(key_set, store, server.origin, args.pin)
    ws, channel = await open_channel(server, key_set, pins, args.user)
    async with ws:
        if args.pin is None and first_use:
            # Trust on first use: remember the key only after a verified handshake.
            store.add(server.origin, pins)
        try:
            if args.command == "send":
                return await _run_send(channel, args, out)
            if args.command == "listen":
                return await _run_listen(channel, out)
            return await _run_chat(channel, args, out)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            raise ClosedByServerError(describe_close(code), code=code) from exc


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Entry point: parse ``argv``, run, print one-line errors, return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage error
        return EXIT_USAGE if exc.code else EXIT_OK
    try:
        return asyncio.run(run(args, dict(os.environ), out or sys.stdout))
    except ClosedByServerError as exc:
        return _fail(str(exc), exit_status_for_close(exc.code))
    except ClientError as exc:
        return _fail(str(exc), exc.exit_status)
    except ProtocolError as exc:
        return _fail(f"protocol error ({exc.close_code} {exc.reason}): {exc}", EXIT_PROTOCOL)
    except (InvalidHandshake, InvalidURI, OSError) as exc:
        return _fail(f"cannot connect to {args.server}: {exc}", EXIT_NETWORK)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _fail(message: str, status: int) -> int:
    with contextlib.suppress(OSError):
        print(f"securemsg: {message}", file=sys.stderr)
    return status
