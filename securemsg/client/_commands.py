"""The CLI's commands on an established channel: send, listen, history, chat.

Each returns the exit status. Output goes to ``out`` one line per event, so
scripts can read it; text from the server is printed with control
characters escaped (a message body must not drive the terminal).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from typing import Any, TextIO

from ..protocol import MAX_BODY_BYTES, body_size_ok, history_request, ping_request
from ._channel import ACK_TIMEOUT_SECONDS, SecureChannel
from ._errors import EXIT_OK, EXIT_REQUEST_REFUSED, ClientError

# protocol.md: idle clients send ping every 60 s.
PING_INTERVAL_SECONDS = 60.0
HISTORY_REQUEST_ID = "history"


def printable(text: str) -> str:
    """``text`` with control characters (ESC, CR, NUL, ...) shown as escapes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def body_problem(body: str) -> str | None:
    """Why ``body`` cannot be sent (not UTF-8 text, or too long), or None."""
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        return "the message is not valid UTF-8 text"
    if not body_size_ok(body):
        return f"the message is longer than {MAX_BODY_BYTES:,} bytes of UTF-8"
    return None


def format_message(message: dict[str, Any]) -> str:
    """One line for a ``msg`` or history entry."""
    return (
        f"[{printable(message['ts'])}] {printable(message['from'])} -> "
        f"{printable(message['to'])}: {printable(message['body'])}"
    )


def _refused(answer: dict[str, Any], err: TextIO) -> int:
    print(
        f"securemsg: refused: {printable(answer['code'])}: {printable(answer.get('message', ''))}",
        file=err,
    )
    return EXIT_REQUEST_REFUSED


async def run_send(
    channel: SecureChannel, to: str, body: str, request_id: str | None, out: TextIO
) -> int:
    """Send one message, print ``stored MID at TS`` once the server acknowledged it."""
    answer = await channel.send_text(to, body, request_id=request_id)
    if answer["t"] == "error":
        return _refused(answer, sys.stderr)
    print(f"stored {printable(answer['mid'])} at {printable(answer['ts'])}", file=out)
    return EXIT_OK


async def receive_with_pings(channel: SecureChannel) -> dict[str, Any]:
    """Receive the next message, sending a ``ping`` after each quiet minute."""
    while True:
        try:
            return await asyncio.wait_for(channel.receive(), PING_INTERVAL_SECONDS)
        except TimeoutError:
            await channel.send_message(ping_request())


async def run_listen(
    channel: SecureChannel, out: TextIO, *, count: int | None, timeout: float | None
) -> int:
    """Print incoming messages (and receipts) and confirm each as delivered.

    Stops after ``count`` messages or ``timeout`` seconds, whichever comes
    first (both None: until interrupted); either way the exit status is 0.
    """
    seen: set[str] = set()
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    try:
        async with asyncio.timeout_at(deadline):
            while count is None or len(seen) < count:
                message = await receive_with_pings(channel)
                if message["t"] == "msg" and message["mid"] not in seen:
                    seen.add(message["mid"])  # redelivery after reconnect: show once
                    print(format_message(message), file=out, flush=True)
                    await channel.confirm(message)
                elif message["t"] == "receipt":
                    print(f"delivered {printable(message['mid'])}", file=out, flush=True)
    except TimeoutError:
        pass
    # Exit only once the server has recorded our "delivered" notices.
    await channel.flush()
    return EXIT_OK


async def _request_history(
    channel: SecureChannel, peer: str, limit: int, before: str | None
) -> dict[str, Any]:
    await channel.send_message(
        history_request(peer, before=before, limit=limit, request_id=HISTORY_REQUEST_ID)
    )
    try:
        async with asyncio.timeout(ACK_TIMEOUT_SECONDS):
            while True:
                message = await channel.receive()
                if message["t"] in ("history", "error") and message.get("id") == (
                    HISTORY_REQUEST_ID
                ):
                    return message
    except TimeoutError:
        raise ClientError(f"no history answer within {ACK_TIMEOUT_SECONDS:g} s") from None


async def run_history(
    channel: SecureChannel, peer: str, limit: int, before: str | None, out: TextIO
) -> int:
    """Print one page of the conversation with ``peer``, oldest first."""
    answer = await _request_history(channel, peer, limit, before)
    if answer["t"] == "error":
        return _refused(answer, sys.stderr)
    for item in answer["messages"]:
        print(format_message(item), file=out)
    if answer["more"] and answer["messages"]:
        oldest = printable(answer["messages"][0]["mid"])
        print(f"securemsg: older messages exist: --before {oldest}", file=sys.stderr)
    return EXIT_OK


def _start_line_reader(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Read stdin lines in a daemon thread into a queue; None marks end of input.

    A daemon thread (not the loop's executor) so that leaving the chat on a
    server close does not wait for the person to press Enter.
    """
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
        except (OSError, ValueError):
            pass
        finally:
            try:
                loop.call_soon_threadsafe(lines.put_nowait, None)
            except RuntimeError:  # the loop is already closed
                pass

    threading.Thread(target=read, name="securemsg-stdin", daemon=True).start()
    return lines


class _Chat:
    """State of one interactive chat: what was sent and not yet acknowledged."""

    def __init__(self, channel: SecureChannel, peer: str, out: TextIO) -> None:
        self.channel = channel
        self.peer = peer
        self.out = out
        self.pending: dict[str, str] = {}  # request id -> body, until ack or error
        self.seen: set[str] = set()
        self.early: list[dict[str, Any]] = []  # msgs that came before the history
        self.history_done = False
        self.refused = False

    def show(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    async def send_line(self, line: str) -> None:
        body = line.rstrip("\r\n")
        if not body.strip():
            return
        problem = body_problem(body)
        if problem is not None:
            self.show(f"not sent: {problem}")
            return
        request_id = str(uuid.uuid4())
        self.pending[request_id] = body
        await self.channel.send_text_nowait(self.peer, body, request_id=request_id)

    async def on_message(self, message: dict[str, Any]) -> None:
        kind = message["t"]
        if kind == "history" and message.get("id") == HISTORY_REQUEST_ID:
            self._on_history(message["messages"])
        elif kind == "msg":
            await self.channel.confirm(message)
            if not self.history_done:
                self.early.append(message)  # shown after the history, in order
            elif message["mid"] not in self.seen:
                self.seen.add(message["mid"])
                self.show(format_message(message))
        elif kind == "ack" and message.get("id") in self.pending:
            body = self.pending.pop(message["id"])
            self.seen.add(message["mid"])
            mine = {**message, "from": self.channel.user, "to": self.peer, "body": body}
            self.show(format_message(mine))
        elif kind == "receipt":
            self.show(f"delivered {printable(message['mid'])}")
        elif kind == "error":
            if message.get("id") == HISTORY_REQUEST_ID:
                self._on_history([])
            self.pending.pop(message.get("id") or "", None)
            self.refused = True
            self.show(
                f"error: {printable(message['code'])}: {printable(message.get('message', ''))}"
            )

    def _on_history(self, items: list[dict[str, Any]]) -> None:
        # Undelivered messages are redelivered right after the handshake, so
        # they can arrive before the history that also lists them.
        self.history_done = True
        for item in [*items, *self.early]:
            if item["mid"] not in self.seen:
                self.seen.add(item["mid"])
                self.show(format_message(item))
        self.early.clear()

    @property
    def settled(self) -> bool:
        """Whether the history arrived and every sent line was answered."""
        return self.history_done and not self.pending


async def run_chat(channel: SecureChannel, peer: str, history: int, out: TextIO) -> int:
    """Show ``history`` messages with ``peer``, then send each stdin line and print arrivals.

    At end of input it waits (at most 30 s) for the history and for the
    ack of every line sent, so ``echo hi | ... chat bob`` is reliable.
    Exit status 7 when the server refused a line.
    """
    chat = _Chat(channel, peer, out)
    await channel.send_message(history_request(peer, limit=history, request_id=HISTORY_REQUEST_ID))
    loop = asyncio.get_running_loop()
    lines = _start_line_reader(loop)
    reader: asyncio.Task[str | None] | None = asyncio.ensure_future(lines.get())
    receiver = asyncio.ensure_future(receive_with_pings(channel))
    deadline: float | None = None
    try:
        while reader is not None or not chat.settled:
            waiting: set[asyncio.Future[Any]] = {receiver}
            if reader is not None:
                waiting.add(reader)
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                raise ClientError(
                    f"{len(chat.pending)} message(s) not acknowledged within "
                    f"{ACK_TIMEOUT_SECONDS:g} s"
                )
            if receiver in done:
                await chat.on_message(receiver.result())
                receiver = asyncio.ensure_future(receive_with_pings(channel))
            if reader is not None and reader.done():
                line = reader.result()
                if line is None:  # end of input: wait for what is outstanding
                    reader = None
                    deadline = loop.time() + ACK_TIMEOUT_SECONDS
                else:
                    await chat.send_line(line)
                    reader = asyncio.ensure_future(lines.get())
    finally:
        receiver.cancel()
        if reader is not None:
            reader.cancel()
    # Exit only once the server has recorded our "delivered" notices.
    await channel.flush()
    return EXIT_REQUEST_REFUSED if chat.refused else EXIT_OK
