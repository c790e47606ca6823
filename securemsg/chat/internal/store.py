"""Message storage: the use cases the consumer calls (all synchronous, all ORM).

Every function that changes state commits before it returns, so an ``ack``
or a recorded ``delivered`` sent after it survives a crash of the server.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from securemsg.chat.exceptions import (
    MessageIntegrityError,
    UnknownMessageError,
    UnknownUserError,
)
from securemsg.chat.internal.sealing import new_conversation_key, open_body, seal_body
from securemsg.chat.models import Conversation, Message

logger = logging.getLogger("securemsg.chat")


@dataclass(frozen=True)
class StoredMessage:
    """A decrypted message as the protocol shows it."""

    mid: str
    sender: str
    to: str
    body: str
    ts: str
    delivered: bool

    def as_msg(self) -> dict[str, str]:
        """The fields of a ``msg`` record (without ``t``)."""
        return {
            "mid": self.mid,
            "from": self.sender,
            "to": self.to,
            "body": self.body,
            "ts": self.ts,
        }

    def as_history_item(self) -> dict[str, object]:
        """The fields of one history entry."""
        return {**self.as_msg(), "delivered": self.delivered}


@dataclass(frozen=True)
class SendResult:
    """The outcome of a ``send``: the ack fields and whether it is new."""

    mid: str
    ts: str
    recipient_id: int
    created: bool


def iso_ts(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def active_user(username: str) -> User:
    """Return the active user ``username`` or raise UnknownUserError."""
    try:
        return User.objects.get(username=username, is_active=True)
    except User.DoesNotExist:
        raise UnknownUserError(username) from None


def _conversation(a: User, b: User) -> Conversation:
    low, high = (a, b) if a.pk <= b.pk else (b, a)
    existing = Conversation.objects.filter(user_low=low, user_high=high).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Conversation.objects.create(
                user_low=low,
                user_high=high,
                data_key_ref=new_conversation_key(low.pk, high.pk),
            )
    except IntegrityError:
        # Another process created it first; use theirs.
        return Conversation.objects.get(user_low=low, user_high=high)


def find_previous_send(sender: User, client_id: str) -> SendResult | None:
    """The stored result of an earlier ``send`` with this id, for an idempotent resend."""
    message = Message.objects.filter(sender=sender, client_id=client_id).first()
    if message is None:
        return None
    return SendResult(message.mid, iso_ts(message.created_at), message.recipient_id, False)


def store_message(
    sender: User, to: str, client_id: str, body: str, *, checked: bool = False
) -> SendResult:
    """Store a message durably (idempotent per sender and client id).

    ``checked=True``: the caller has just looked for an earlier send with
    this id (``find_previous_send``) and found none, so the lookup is not
    repeated; a send that races in meanwhile is still caught by the unique
    constraint below.
    """
    if not checked:
        previous = find_previous_send(sender, client_id)
        if previous is not None:
            return previous
    recipient = active_user(to)
    conversation = _conversation(sender, recipient)
    mid = secrets.token_hex(16)
    now = timezone.now()
    sealed = seal_body(
        conversation.data_key_ref,
        mid=mid,
        conversation_id=conversation.pk,
        sender_id=sender.pk,
        body=body,
    )
    try:
        with transaction.atomic():
            Message.objects.create(
                mid=mid,
                conversation=conversation,
                sender=sender,
                recipient=recipient,
                client_id=client_id,
                created_at=now,
                ciphertext=sealed,
            )
    except IntegrityError:
        # The same id raced in from another session of this sender.
        previous = find_previous_send(sender, client_id)
        if previous is None:
            raise
        return previous
    return SendResult(mid, iso_ts(now), recipient.pk, True)


def _decrypt(message: Message, usernames: dict[int, str]) -> StoredMessage:
    conversation = message.conversation
    body = open_body(
        conversation.data_key_ref,
        mid=message.mid,
        conversation_id=conversation.pk,
        sender_id=message.sender_id,
        sealed=bytes(message.ciphertext),
    )
    return StoredMessage(
        mid=message.mid,
        sender=usernames[message.sender_id],
        to=usernames[message.recipient_id],
        body=body,
        ts=iso_ts(message.created_at),
        delivered=message.delivered_at is not None,
    )


def _readable(rows: list[Message], usernames: dict[int, str]) -> list[tuple[int, StoredMessage]]:
    """Decrypt ``rows``, leaving out (and logging) any row that fails authentication.

    One tampered row must not stop every other message of the conversation
    from being delivered or listed; the operator finds it in the log.
    """
    readable = []
    for row in rows:
        try:
            readable.append((row.pk, _decrypt(row, usernames)))
        except MessageIntegrityError:
            logger.error("stored message %s failed authentication; left out", row.mid)
    return readable


def _usernames(*messages: Message) -> dict[int, str]:
    ids = {m.sender_id for m in messages} | {m.recipient_id for m in messages}
    return dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))


def load_message(mid: str, viewer: User) -> StoredMessage | None:
    """Decrypt message ``mid`` if ``viewer`` is its sender or recipient."""
    message = (
        Message.objects.select_related("conversation")
        .filter(Q(sender=viewer) | Q(recipient=viewer), mid=mid)
        .first()
    )
    if message is None:
        return None
    return _decrypt(message, _usernames(message))


def mark_delivered(recipient: User, mid: str) -> int | None:
    """Record delivery of ``mid`` to its recipient; return the sender's id if newly delivered."""
    with transaction.atomic():
        updated = Message.objects.filter(
            mid=mid, recipient=recipient, delivered_at__isnull=True
        ).update(delivered_at=timezone.now())
        if not updated:
            return None
        return Message.objects.filter(mid=mid).values_list("sender_id", flat=True).get()


def has_undelivered(recipient: User) -> bool:
    """Whether any message to ``recipient`` is not delivered yet (one index probe)."""
    return Message.objects.filter(recipient=recipient, delivered_at__isnull=True).exists()


def undelivered_for(
    recipient: User, *, after_id: int = 0, limit: int = 500
) -> list[tuple[int, StoredMessage]]:
    """Messages to ``recipient`` not yet delivered, oldest first, with their row ids."""
    rows = list(
        Message.objects.select_related("conversation")
        .filter(recipient=recipient, delivered_at__isnull=True, id__gt=after_id)
        .order_by("id")[:limit]
    )
    names = _usernames(*rows) if rows else {}
    return _readable(rows, names)


def undelivered_mids(
    user_ids: list[int], *, chunk: int = 1000, limit: int = 10_000
) -> dict[int, list[str]]:
    """Ids of undelivered messages to each of ``user_ids``, oldest first (bounded)."""
    pending: dict[int, list[str]] = {}
    for start in range(0, len(user_ids), chunk):
        rows = (
            Message.objects.filter(
                recipient_id__in=user_ids[start : start + chunk], delivered_at__isnull=True
            )
            .order_by("id")
            .values_list("recipient_id", "mid")[:limit]
        )
        for recipient_id, mid in rows:
            pending.setdefault(recipient_id, []).append(mid)
    return pending


def history(
    viewer: User, with_username: str, before: str | None, limit: int
) -> tuple[list[StoredMessage], bool]:
    """The ``limit`` newest messages older than ``before``, newest first, and whether more exist.

    The caller trims the page to one record and lists it oldest first.
    """
    other = active_user(with_username)
    low, high = (viewer, other) if viewer.pk <= other.pk else (other, viewer)
    conversation = Conversation.objects.filter(user_low=low, user_high=high).first()
    if conversation is None:
        if before is not None:
            raise UnknownMessageError(before)
        return [], False
    query = Message.objects.filter(conversation=conversation)
    if before is not None:
        anchor = query.filter(mid=before).values_list("id", flat=True).first()
        if anchor is None:
            raise UnknownMessageError(before)
        query = query.filter(id__lt=anchor)
    rows = list(query.select_related("conversation").order_by("-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    names = _usernames(*rows) if rows else {}
    return [message for _pk, message in _readable(rows, names)], more
