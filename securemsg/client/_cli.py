"""The command line: ``python -m securemsg.client --server URL --user NAME COMMAND``.

Commands: ``keys``, ``send``, ``listen``, ``history``, ``chat`` (see
docs/client.md). Exit statuses: 0 ok; 2 usage; 3 sign-in refused or
session ended (4401); 4 pin refusal (the signing key is not endorsed by the
pinned key); 5 protocol fault or other close code; 6 server unreachable or
unusable; 7 the server answered a request with an ``error``; 130
interrupted. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Origin

from ..protocol import (
    MAX_FRAME_SIZE,
    ClientHandshake,
    KeySet,
    ProtocolError,
    StaleKeyError,
    new_client_key,
)
from ._channel import SecureChannel, handshake
from ._commands import (
    body_problem,
    run_chat,
    run_history,
    run_listen,
    run_send,
)
from ._errors import (
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_PROTOCOL,
    EXIT_USAGE,
    ClientError,
    ClosedByServerError,
    UsageError,
    describe_close,
    exit_status_for_close,
)
from ._http import Server
from ._pins import PinStore, check_pin, default_pin_path, resolve_pins

PASSWORD_ENV = "SECUREMSG_PASSWORD"  # noqa: S105 (a name)  # nosec B105
# protocol.md: a request id is a string of at most 64 characters.
MAX_REQUEST_ID_LENGTH = 64


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
    parser.add_argument(
        "--cafile",
        type=Path,
        help="trust only the CA certificates in this PEM file for https/wss "
        "(default: the system's trust store)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("keys", help="show the server's keys and whether they chain to the pin")
    send = commands.add_parser("send", help="send one message and wait for its ack")
    send.add_argument("to")
    send.add_argument("body")
    send.add_argument(
        "--id",
        dest="request_id",
        help="request id (default: a random UUID); resending with the same id is idempotent: "
        "the server answers with the original ack and stores nothing new",
    )
    listen = commands.add_parser(
        "listen", help="print incoming messages and confirm them as delivered"
    )
    listen.add_argument("--count", type=int, metavar="N", help="exit (status 0) after N messages")
    listen.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="exit (status 0) after SECONDS, even with fewer than --count messages",
    )
    history = commands.add_parser("history", help="print the conversation with PEER")
    history.add_argument("peer")
    history.add_argument("--limit", type=int, default=50, help="messages to show (1..100)")
    history.add_argument("--before", metavar="MID", help="only messages older than MID")
    chat = commands.add_parser(
        "chat",
        help="interactive chat with history: each stdin line is sent to PEER; at end of "
        "input, waits for the acks and exits",
    )
    chat.add_argument("peer")
    chat.add_argument(
        "--history", type=int, default=20, help="messages of history to show (1..100)"
    )
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
    # websockets refuses ssl=None for wss://: pass a context only when there is one.
    tls: dict[str, Any] = {} if server.ssl_context is None else {"ssl": server.ssl_context}
    for attempt in range(2):
        # The ephemeral key first, on a thread: see new_client_key.
        make_client = partial(ClientHandshake, client_key=await asyncio.to_thread(new_client_key))
        ws = await connect(
            server.ws_url,
            origin=Origin(server.origin),
            additional_headers={"Cookie": server.cookie_header()},
            max_size=MAX_FRAME_SIZE,
            open_timeout=15,
            **tls,
        )
        try:
            return ws, await handshake(
                ws, key_set, pins, user=user, origin=server.origin, make_client=make_client
            )
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


def _run_keys(server: Server, store: PinStore, pin: str | None, out: TextIO) -> int:
    """List the published keys, marking which signing keys chain to the pins."""
    key_set = server.fetch_keys()
    explicit = [check_pin(pin)] if pin is not None else store.pins(server.origin)
    trusted = key_set.trusted_fingerprints(explicit) if explicit else frozenset()
    for key in key_set.keys:
        if key.use == "enc":
            mark = "-"
        elif not explicit:
            mark = "first-use" if key.state == "active" else "unpinned"
        else:
            mark = "trusted" if key.fingerprint in trusted else "untrusted"
        print(f"{key.kid}\t{key.use}\t{key.state}\t{key.fingerprint}\t{mark}", file=out)
    resolve_pins(key_set, store, server.origin, pin)  # raises the loud refusal
    return EXIT_OK


def _check_args(args: argparse.Namespace) -> None:
    if not args.user:
        raise UsageError(f"{args.command} needs --user")
    if args.command == "send" and (problem := body_problem(args.body)) is not None:
        raise UsageError(problem)
    if args.command == "send" and args.request_id is not None:
        if not 1 <= len(args.request_id) <= MAX_REQUEST_ID_LENGTH:
            raise UsageError(f"--id must have 1 to {MAX_REQUEST_ID_LENGTH} characters")
    if args.command == "listen":
        if args.count is not None and args.count < 1:
            raise UsageError("--count must be at least 1")
        if args.timeout is not None and args.timeout <= 0:
            raise UsageError("--timeout must be positive")
    if args.command == "history" and not 1 <= args.limit <= 100:
        raise UsageError("--limit must be 1..100")
    if args.command == "chat" and not 1 <= args.history <= 100:
        raise UsageError("--history must be 1..100")


def follow_pins(store: PinStore, origin: str, pins: list[str], channel: SecureChannel) -> None:
    """Store the pins and the key that signed this verified handshake, if any is new.

    On first use this is trust on first use; after a rotation the server's
    new signing key (which chained to the pins through endorsements) joins
    them, so the pin file follows the rotation. Older pins stay: they are
    where every endorsement chain starts.
    """
    wanted = [*pins, channel.sig_fingerprint] if channel.sig_fingerprint else list(pins)
    stored = store.pins(origin)
    if any(fp not in stored for fp in wanted):
        store.add(origin, wanted)


async def _run_command(channel: SecureChannel, args: argparse.Namespace, out: TextIO) -> int:
    if args.command == "send":
        return await run_send(channel, args.to, args.body, args.request_id, out)
    if args.command == "listen":
        return await run_listen(channel, out, count=args.count, timeout=args.timeout)
    if args.command == "history":
        return await run_history(channel, args.peer, args.limit, args.before, out)
    return await run_chat(channel, args.peer, args.history, out)


async def run(args: argparse.Namespace, environ: dict[str, str], out: TextIO) -> int:
    """Execute one parsed command; returns the exit status."""
    try:
        server = Server.from_url(args.server, cafile=args.cafile)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    store = PinStore(args.pin_file or default_pin_path(environ))
    if args.command == "keys":
        return _run_keys(server, store, args.pin, out)
    _check_args(args)
    password = read_password(args, environ)
    server.sign_in(args.user, password)
    key_set = server.fetch_keys()
    pins, _first_use = resolve_pins(key_set, store, server.origin, args.pin)
    ws, channel = await open_channel(server, key_set, pins, args.user)
    async with ws:
        if args.pin is None:
            # Remember keys only after a verified handshake.
            follow_pins(store, server.origin, pins, channel)
        try:
            return await _run_command(channel, args, out)
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
