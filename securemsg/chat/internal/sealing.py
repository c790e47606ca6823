"""Encryption at rest of message bodies under per-conversation data keys."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import keyvault
from securemsg.chat.exceptions import MessageIntegrityError

_NONCE_SIZE = 12
_AAD_PREFIX = b"securemsg/1 stored message"
_DATA_KEY_PURPOSE = "message"


def _aad(mid: str, conversation_id: int, sender_id: int) -> bytes:
    # Length-prefixed fields, so no two (mid, conversation, sender) triples
    # can produce the same AAD.
    parts = [_AAD_PREFIX, mid.encode(), str(conversation_id).encode(), str(sender_id).encode()]
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


def new_conversation_key(low_user_id: int, high_user_id: int) -> str:
    """Create a fresh data key for one conversation in the key vault; return its id."""
    context = f"conversation:{low_user_id}:{high_user_id}"
    return keyvault.new_data_key(_DATA_KEY_PURPOSE, context).key_id


def seal_body(
    data_key_ref: str, *, mid: str, conversation_id: int, sender_id: int, body: str
) -> bytes:
    """Return nonce || AES-256-GCM(body) for storage."""
    key = keyvault.open_data_key(data_key_ref, purpose=_DATA_KEY_PURPOSE)
    nonce = os.urandom(_NONCE_SIZE)
    aad = _aad(mid, conversation_id, sender_id)
    return nonce + AESGCM(key).encrypt(nonce, body.encode("utf-8"), aad)


def open_body(
    data_key_ref: str, *, mid: str, conversation_id: int, sender_id: int, sealed: bytes
) -> str:
    """Decrypt a stored body; raise MessageIntegrityError if the row was tampered with."""
    key = keyvault.open_data_key(data_key_ref, purpose=_DATA_KEY_PURPOSE)
    nonce, ciphertext = sealed[:_NONCE_SIZE], sealed[_NONCE_SIZE:]
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, _aad(mid, conversation_id, sender_id))
    except (InvalidTag, ValueError) as exc:
        raise MessageIntegrityError(f"stored message {mid} failed authentication") from exc
    return plaintext.decode("utf-8")
