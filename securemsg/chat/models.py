"""Conversations and messages, stored encrypted at rest.

A message body is sealed with AES-256-GCM under its conversation's data key,
which the key vault keeps wrapped by the master key. The AAD binds the
message id, the conversation and the sender, so moving a ciphertext to
another row, conversation or sender makes it fail to open.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    """The pair of users who talk; ``user_low`` has the smaller primary key."""

    user_low = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    user_high = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    #: Key vault reference of this conversation's data key (opaque to chat).
    data_key_ref = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user_low", "user_high"], name="chat_conversation_pair"
            ),
            models.CheckConstraint(
                condition=models.Q(user_low__lte=models.F("user_high")),
                name="chat_conversation_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk}"


class Message(models.Model):
    """One chat message; the body exists only as ``ciphertext``."""

    mid = models.CharField(max_length=32, unique=True)
    conversation = models.ForeignKey(Conversation, on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    #: The sender's request id, which makes a resend idempotent.
    client_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)
    #: 12-byte nonce || AES-256-GCM ciphertext || 16-byte tag.
    ciphertext = models.BinaryField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "client_id"], name="chat_message_client_id"),
        ]
        indexes = [
            models.Index(fields=["conversation", "id"], name="chat_msg_conv_idx"),
            models.Index(fields=["recipient", "delivered_at", "id"], name="chat_msg_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"message {self.mid}"
