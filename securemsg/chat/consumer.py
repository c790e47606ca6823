"""The securemsg/1 WebSocket endpoint: a thin adapter around the protocol core.

The consumer decodes frames, hands them to the core's state machines, runs
the use cases of :mod:`securemsg.chat.internal.store` and maps every
failure to a close code in one place (:mod:`securemsg.chat.errors`). RSA
private-key work runs in a thread pool sized to the cores, so a handshake
never stalls the event loop; database and cache work runs on one database
thread whose connection stays open (:mod:`securemsg.chat.dbthread`), one
trip per step of a handshake, and audit events are committed in groups
(:mod:`securemsg.chat.auditbatch`). The channel layer carries message ids
only; each session loads, decrypts and seals what it delivers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import close_old_connections
from django.utils import timezone

import keyvault
from accounts.session_store import stored_key
from securemsg import audit
from securemsg.chat import auditbatch, dbthread, delivery, limits
from securemsg.chat.conf import chat_settings
from securemsg.chat.errors import SERVER_FAULTS, close_code_for
from securemsg.chat.exceptions import (
    LimitsUnavailableError,
    MessageIntegrityError,
    UnknownMessageError,
    UnknownUserError,
)
from securemsg.chat.internal import store
from securemsg.chat.internal.signin import loaded_session_deadline, session_deadline
from securemsg.chat.netaddr import client_address
from securemsg.chat.sweeper import sweeper
from securemsg.ops import correlation
from securemsg.ops import metrics as ops_metrics
from securemsg.protocol import (
    MAX_FRAME_SIZE,
    MAX_PLAINTEXT_SIZE,
    CloseCode,
    DeliveredNotice,
    ErrorReply,
    HistoryRequest,
    MalformedMessageError,
    PingRequest,
    ProtocolError,
    SendRequest,
    ServerHandshake,
    Session,
    UnexpectedMessageError,
    ack_message,
    chat_message,
    encode_json,
    encode_json_bytes,
    history_message,
    parse_client_request,
    pong_message,
    receipt_message,
)

logger = logging.getLogger("securemsg.chat")

#: A sign-in session's end is checked when it is due, at least this far apart
#: (expiry can move later with activity; a check is one query).
_SESSION_RECHECK_MIN_SECONDS = 1.0
#: Upper bound of checks per connection (a 12-hour session extended by
#: activity needs a few hundred); the loop is bounded by it.
_SESSION_CHECKS_MAX = 100_000
delivery.install_drop_counter()

# RSA operations release the GIL, so one thread per core uses every core.
_RSA_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="securemsg-rsa")


def _in_rsa_pool(func: Any, *args: Any) -> Any:
    def run() -> Any:
        try:
            return func(*args)
        finally:
            close_old_connections()

    return asyncio.get_running_loop().run_in_executor(_RSA_POOL, run)


def _admit(user_id: int, limit: int, session: Any) -> tuple[bool, datetime | None]:
    """Count a new connection (False past ``limit``), then tell when its sign-in session ends."""
    if not limits.open_session(user_id, limit):
        return False, None
    try:
        return True, loaded_session_deadline(session)
    except BaseException:
        limits.close_session(user_id)
        raise


def _start_handshake(
    user_id: int, address: str, username: str, frame: str
) -> tuple[ServerHandshake, dict[str, Any]] | str:
    """The server's side of ``client_hello`` (RSA work; runs in the RSA pool).

    Returns the handshake and ``server_hello``, or the name of the handshake
    rate limit this one is over (checked first, so a refused handshake costs
    no RSA work; here rather than on the event loop, as the counters may
    live in Redis).
    """
    if not limits.hit(f"hs:user:{user_id}", chat_settings.handshakes_per_minute):
        return "handshakes_per_user"
    if not limits.hit(f"hs:ip:{address}", chat_settings.handshakes_per_minute_per_ip):
        return "handshakes_per_ip"
    handshake = ServerHandshake(keyvault.server_keyring(), username)
    return handshake, handshake.receive_client_hello(frame)


def _pending_for(user: Any) -> list[tuple[int, store.StoredMessage]] | Exception:
    """Undelivered messages to ``user``, or the server fault that prevented reading them."""
    try:
        # Most sessions have nothing pending: one index probe instead of the full query.
        return store.undelivered_for(user) if store.has_undelivered(user) else []
    except SERVER_FAULTS as exc:
        return exc


def _store_send(user: Any, request: SendRequest, limit: int) -> store.SendResult | None:
    """Store a ``send`` (an idempotent resend returns the first result); None when rate limited."""
    previous = store.find_previous_send(user, request.id)
    if previous is not None:
        return previous
    if not limits.hit(f"msg:user:{user.pk}", limit):
        return None
    return store.store_message(user, request.to, request.id, request.body, checked=True)


def user_group(user_id: int) -> str:
    """The channel-layer group of every open session of one user."""
    return f"securemsg.user.{user_id}"


class SecureChannelConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """One WebSocket connection: handshake, then encrypted application records."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Run the handler of ``message`` (Channels' dispatch, minus its connection clean-up).

        Channels closes the stale database connections of its shared sync
        thread before every handler (``aclose_old_connections``), a trip to
        that thread per frame. This consumer does no database work there:
        the database thread and the RSA pool look after their own
        connections (:mod:`securemsg.chat.dbthread`, ``_in_rsa_pool``).
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.connection_id = correlation.bind_connection()
        self.user = self.scope["user"]
        self.address = client_address(self.scope)
        self.session: Session | None = None
        self.handshake: ServerHandshake | None = None
        self.handshake_started: float | None = None
        self.closing = False
        self.counted = False
        self.joined = False
        self.sent_mids: set[str] = set()
        self.receipts_sent: set[str] = set()
        self.last_frame = time.monotonic()
        self.tasks: list[asyncio.Task[None]] = []
        # Sealing assigns sequence numbers: the frames of one record must go
        # out before another record is sealed (the sweeper runs concurrently).
        self.send_lock = asyncio.Lock()
        self.swept = False
        await self.accept()
        try:
            # One trip: the session count and the sign-in session's end.
            admitted, deadline = await dbthread.run(
                _admit,
                self.user.pk,
                chat_settings.max_sessions_per_user,
                self.scope["session"],
            )
        except SERVER_FAULTS as exc:
            await self._fail(exc)
            return
        if not admitted:
            await self._audit("ratelimit.hit", outcome="denied", limit="sessions_per_user")
            await self._close(CloseCode.RATE_LIMITED, "too many open sessions")
            return
        self.counted = True
        self.tasks.append(asyncio.create_task(self._handshake_deadline()))
        self.session_watch = asyncio.create_task(self._session_expiry_watch(deadline))

    async def disconnect(self, code: int) -> None:
        for task in self.tasks:
            task.cancel()
        if self.swept:
            sweeper.remove(self.user.pk, self)
        watch = getattr(self, "session_watch", None)
        if watch is not None:
            watch.cancel()
        ops_metrics.secure_session_ended(self.session is not None)
        if self.joined:
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        if self.counted:
            self.counted = False
            try:
                await dbthread.run(limits.close_session, self.user.pk)
            except LimitsUnavailableError as exc:
                # The socket is gone either way; the user's open-session count
                # stays one too high (docs/operations.md, "Redis").
                logger.warning("could not uncount a closed session: %s", exc)

    # --- frames from the client ------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        self.last_frame = time.monotonic()
        try:
            if text_data is None or (
                # A code point is at most 4 bytes: short frames need no encoding to check.
                len(text_data) > MAX_FRAME_SIZE // 4
                and len(text_data.encode("utf-8", "surrogatepass")) > MAX_FRAME_SIZE
            ):
                raise MalformedMessageError("frames are JSON text of at most 65,536 bytes")
            if self.session is not None:
                await self._on_record(text_data)
            elif self.handshake is None:
                await self._on_client_hello(text_data)
            else:
                await self._on_client_finished(text_data)
        except (ProtocolError, *SERVER_FAULTS) as exc:  # type: ignore[misc]
            await self._fail(exc)
        except Exception as exc:
            # A bug must not leave the client guessing or the session half-open:
            # log it for the operator and close as "cannot serve safely".
            logger.exception("unexpected error in the securemsg/1 consumer")
            await self._fail(exc)

    async def _on_client_hello(self, frame: str) -> None:
        started = ops_metrics.start_handshake()
        started_or_limited = await _in_rsa_pool(
            _start_handshake, self.user.pk, self.address, self.user.get_username(), frame
        )
        if isinstance(started_or_limited, str):
            await self._audit("ratelimit.hit", outcome="denied", limit=started_or_limited)
            ops_metrics.handshake_failed("rate_limited")
            await self._close(CloseCode.RATE_LIMITED, "handshake rate limit")
            return
        self.handshake_started = started
        self.handshake, server_hello = started_or_limited
        await self.send(text_data=encode_json(server_hello))

    async def _on_client_finished(self, frame: str) -> None:
        if self.handshake is None:  # receive() routes here only after client_hello
            raise UnexpectedMessageError("client_finished before client_hello")
        established = self.handshake.receive_client_finished(frame)
        # Joined before the pending messages are read, so a message stored in
        # between arrives through the layer. Channels runs one handler at a
        # time: its chat.deliver waits until this one has sent ready.
        await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
        self.joined = True
        # The handshake is audited (committed) before the client may use it;
        # the pending messages are read in the same trip, after the commit.
        pending = await auditbatch.record_then(
            self._prepare(
                "handshake.completed",
                session_id=established.session.session_id.hex(),
                sig_kid=self.handshake.sig_kid,
                enc_kid=self.handshake.enc_kid,
            ),
            partial(_pending_for, self.user),
        )
        self.session = established.session
        ops_metrics.handshake_completed(self.handshake_started)
        await self.send(text_data=encode_json(established.ready))
        for task in self.tasks:
            task.cancel()
        self.tasks = [asyncio.create_task(self._idle_watchdog())]
        if isinstance(pending, Exception):
            raise pending
        await self._deliver(pending)
        sweeper.add(self.user.pk, self)
        self.swept = True

    async def _on_record(self, frame: str) -> None:
        if self.session is None:  # receive() routes here only after ready
            raise UnexpectedMessageError("record before ready")
        ops_metrics.record_received()
        message = self.session.open(frame)
        if message is None:  # a key update, handled by the session
            return
        request = parse_client_request(message)
        if isinstance(request, ErrorReply):
            await self._seal(request.to_json())
        elif isinstance(request, SendRequest):
            await self._on_send(request)
        elif isinstance(request, HistoryRequest):
            await self._on_history(request)
        elif isinstance(request, PingRequest):
            await self._seal(pong_message(request.id))
        elif isinstance(request, DeliveredNotice):
            await self._on_delivered(request.mid)

    # --- application requests --------------------------------------------------

    async def _on_send(self, request: SendRequest) -> None:
        try:
            result = await dbthread.run(
                _store_send, self.user, request, chat_settings.messages_per_minute
            )
        except UnknownUserError:
            await self._seal(ErrorReply(request.id, "unknown_user", "no such user").to_json())
            return
        if result is None:
            await self._audit("ratelimit.hit", outcome="denied", limit="messages_per_user")
            await self._seal(ErrorReply(request.id, "rate_limited", "too many messages").to_json())
            return
        ops_metrics.message_stored(result.created)
        # The sending session has the ack; it never gets this message as a msg.
        self.sent_mids.add(result.mid)
        await self._seal(ack_message(request.id, result.mid, result.ts))
        if result.created:
            event = {"type": "chat.deliver", "mid": result.mid, "origin": self.channel_name}
            await self.channel_layer.group_send(user_group(result.recipient_id), event)
            if result.recipient_id != self.user.pk:
                await self.channel_layer.group_send(user_group(self.user.pk), event)

    async def _on_history(self, request: HistoryRequest) -> None:
        try:
            rows, more = await dbthread.run(
                store.history, self.user, request.with_, request.before, request.limit
            )
        except UnknownUserError:
            await self._seal(ErrorReply(request.id, "unknown_user", "no such user").to_json())
            return
        except UnknownMessageError:
            reply = ErrorReply(request.id, "unknown_message", "no such message")
            await self._seal(reply.to_json())
            return
        await self._seal(_history_page(request, rows, more))

    async def _on_delivered(self, mid: str) -> None:
        sender_id = await dbthread.run(store.mark_delivered, self.user, mid)
        ops_metrics.message_delivered(sender_id is not None)
        if sender_id is not None:
            await self.channel_layer.group_send(
                user_group(sender_id), {"type": "chat.receipt", "mid": mid}
            )

    # --- events from the channel layer ----------------------------------------

    async def chat_deliver(self, event: dict[str, Any]) -> None:
        """Deliver a stored message named by id (never by content) to this session."""
        mid = str(event["mid"])
        if self.session is None or self.closing or mid in self.sent_mids:
            return
        if event.get("origin") == self.channel_name:
            return
        try:
            message = await dbthread.run(store.load_message, mid, self.user)
            if message is not None:
                await self._send_msg(message)
        except MessageIntegrityError:
            logger.error("stored message %s failed authentication; not delivered", mid)
        except SERVER_FAULTS as exc:
            await self._fail(exc)

    async def chat_receipt(self, event: dict[str, Any]) -> None:
        """Tell this sender session, once, that a message was delivered."""
        mid = str(event["mid"])
        if self.session is None or self.closing or mid in self.receipts_sent:
            return
        self.receipts_sent.add(mid)
        await self._seal(receipt_message(mid))

    async def session_ended(self, event: dict[str, Any]) -> None:
        """The sign-in session behind this socket ended (sign-out, password change, …).

        ``session_hash`` names one session (``stored_key`` of its key); absent
        or None, every session of the user ended. A notice in an older
        format (with the raw key) therefore closes every socket of the user:
        the safe side during a rolling upgrade.
        """
        ended = event.get("session_hash")
        if ended is not None and ended != stored_key(self.scope["session"].session_key or ""):
            return
        await self._audit("session.closed_signed_out", reason=str(event.get("reason", "ended")))
        await self._close(CloseCode.NOT_LOGGED_IN, "sign-in session ended")

    # --- delivery helpers --------------------------------------------------------

    async def _send_msg(self, message: store.StoredMessage) -> bool:
        """Send ``message`` unless this session already has it; return whether it was sent."""
        if message.mid in self.sent_mids:
            return False
        self.sent_mids.add(message.mid)
        await self._seal(
            chat_message(
                mid=message.mid,
                sender=message.sender,
                to=message.to,
                body=message.body,
                ts=message.ts,
            )
        )
        return True

    async def _deliver(self, pending: list[tuple[int, store.StoredMessage]]) -> int:
        sent = 0
        for _row_id, message in pending:
            if not self.closing and await self._send_msg(message):
                sent += 1
        return sent

    async def sweep(self, mids: list[str]) -> None:
        """Deliver from storage what the channel layer did not bring (called by the sweeper)."""
        sent = 0
        for mid in mids:
            if self.session is None or self.closing:
                return
            if mid in self.sent_mids:
                continue
            try:
                message = await dbthread.run(store.load_message, mid, self.user)
                if message is not None and await self._send_msg(message):
                    sent += 1
            except MessageIntegrityError:
                logger.error("stored message %s failed authentication; not delivered", mid)
            except SERVER_FAULTS as exc:
                await self._fail(exc)
                return
        # What a sweep delivers, the channel layer did not (delivery.py).
        delivery.count_redelivered(sent)

    async def _seal(self, message: dict[str, Any]) -> None:
        if self.session is None:  # callers check; sealing without keys is a bug
            raise RuntimeError("no established session to seal with")
        async with self.send_lock:
            for frame in self.session.seal(message):
                ops_metrics.record_sent()
                await self.send(text_data=encode_json(frame))

    # --- timers -------------------------------------------------------------------

    async def _handshake_deadline(self) -> None:
        await asyncio.sleep(chat_settings.handshake_timeout)
        if self.session is None and not self.closing:
            await self._audit("handshake.failed", outcome="failure", reason="timeout")
            ops_metrics.handshake_failed("timeout")
            await self._close(CloseCode.TIMEOUT, "handshake timeout")

    async def _session_expiry_watch(self, deadline: datetime | None) -> None:
        # Expiry has no signal: check when the session is due to end (4401).
        # ``deadline`` is the first check's answer, read by connect.
        key = self.scope["session"].session_key
        for _ in range(_SESSION_CHECKS_MAX):
            if self.closing:
                return
            if deadline is None:
                await self.session_ended({"session_hash": None, "reason": "expired"})
                return
            remaining = (deadline - timezone.now()).total_seconds()
            await asyncio.sleep(max(remaining, 0) + _SESSION_RECHECK_MIN_SECONDS)
            try:
                deadline = await dbthread.run(session_deadline, key)
            except SERVER_FAULTS as exc:
                await self._fail(exc)
                return

    async def _idle_watchdog(self) -> None:
        timeout = chat_settings.idle_timeout
        if timeout <= 0:
            return
        while not self.closing:
            remaining = self.last_frame + timeout - time.monotonic()
            if remaining <= 0:
                await self._close(CloseCode.TIMEOUT, "idle timeout")
                return
            # Sleep until the deadline, not in short steps: a frame received
            # meanwhile moves it, and the loop sleeps again for the rest. One
            # wake-up per timeout, not per second, for each idle session.
            await asyncio.sleep(remaining + 0.01)

    # --- closing and auditing --------------------------------------------------

    async def _fail(self, exc: BaseException) -> None:
        code, reason = close_code_for(exc)
        event = "record.rejected" if self.session is not None else "handshake.failed"
        ops_metrics.connection_failed(self.session is not None, code, reason)
        if code == CloseCode.SERVER_UNAVAILABLE:
            logger.error("closing session with 4500: %s", reason)
        try:
            await self._audit(event, outcome="failure", reason=reason, close_code=code)
        except SERVER_FAULTS:
            code = CloseCode.SERVER_UNAVAILABLE
        await self._close(code, reason)

    async def _close(self, code: int, why: str) -> None:
        if self.closing:
            return
        self.closing = True
        logger.info("closing websocket of user %s with %d (%s)", self.user.pk, code, why)
        # int(): Daphne's WebSocket layer (autobahn) accepts a plain int only.
        await self.close(code=int(code))

    def _prepare(
        self, event: str, *, outcome: str = "success", **fields: Any
    ) -> audit.PreparedEvent:
        return audit.prepare(
            event,
            actor=self.user,
            request=self.scope,
            outcome=outcome,
            ip=self.address,
            target_type="user",
            target_id=str(self.user.pk),
            **fields,
        )

    async def _audit(self, event: str, *, outcome: str = "success", **fields: Any) -> None:
        # Committed (with other connections' events, in one group) before it returns.
        await auditbatch.record(self._prepare(event, outcome=outcome, **fields))


def _history_page(
    request: HistoryRequest, rows: list[store.StoredMessage], more: bool
) -> dict[str, Any]:
    """The newest rows that fit in one record, listed oldest first."""
    page: list[dict[str, Any]] = []
    for row in rows:  # newest first
        candidate = [row.as_history_item(), *page]
        reply = history_message(request.id, request.with_, candidate, more)
        if page and len(encode_json_bytes(reply)) > MAX_PLAINTEXT_SIZE:
            more = True
            break
        page = candidate
    return history_message(request.id, request.with_, page, more)
