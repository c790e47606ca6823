"""Record layer (protocol.md, "Records"): seq, nonce, AAD, epochs, key update."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._b64 import b64u_decode, b64u_encode
from ._constants import (
    AAD_LABEL,
    DIRECTION_C2S,
    DIRECTION_S2C,
    MAX_PLAINTEXT_SIZE,
    MAX_RECORDS_PER_EPOCH,
    MAX_SEQ,
    UPDATE_AFTER_RECORDS,
    UPDATE_AFTER_SECONDS,
)
from ._crypto import aead_cipher, aead_open, aead_seal
from ._framing import (
    Frame,
    decode_frame,
    encode_json_bytes,
    parse_json_object,
    require_bytes,
    require_int,
    require_str,
    split_record_frame,
)
from ._schedule import HandshakeSecrets, epoch_key, next_epoch_secret
from .exceptions import (
    MalformedMessageError,
    ProtocolError,
    SequenceError,
    UnexpectedMessageError,
)

Role = Literal["client", "server"]
# The epoch is written as 4 bytes in the AAD; it must never wrap.
_MAX_EPOCH = 2**32 - 1
UPDATE_MESSAGE: dict[str, Any] = {"t": "update"}


# Precompiled layouts (protocol.md, "Records"): the nonce is the 4-byte
# direction tag || 8-byte seq; the AAD ends with 1-byte direction || 8-byte
# seq || 4-byte epoch.
_NONCE = struct.Struct(">IQ")
_AAD_TAIL = struct.Struct(">BQI")
_SEQ_EPOCH = struct.Struct(">QI")


def record_nonce(direction: int, seq: int) -> bytes:
    """Return the 12-byte nonce: 4-byte direction tag || 8-byte big-endian seq."""
    return _NONCE.pack(direction, seq)


def record_aad(session_id: bytes, direction: int, seq: int, epoch: int) -> bytes:
    """Return the AAD: "securemsg/1 rec" || session_id || direction || seq || epoch."""
    return AAD_LABEL + session_id + _AAD_TAIL.pack(direction, seq, epoch)


@dataclass
class _DirectionState:
    """Keys and counters of one direction; old secrets are overwritten on update."""

    direction: int
    secret: bytes
    key: AESGCM  # the epoch's AES-256-GCM key, expanded once
    # "securemsg/1 rec" || session_id || direction: the fixed start of every AAD
    # (record_aad builds the same bytes; this avoids rebuilding it per record).
    aad_prefix: bytes = b""
    epoch: int = 0
    seq: int = 0
    index: int = 0  # records in the current epoch
    epoch_started: float = 0.0

    def nonce_and_aad(self, seq: int) -> tuple[bytes, bytes]:
        """The nonce and AAD of record ``seq`` in the current epoch."""
        return _NONCE.pack(self.direction, seq), self.aad_prefix + _SEQ_EPOCH.pack(seq, self.epoch)

    def advance_epoch(self, th: bytes, now: float) -> None:
        if self.epoch >= _MAX_EPOCH:
            raise SequenceError("epoch counter exhausted")
        # Dropping the reference to the old secret is all Python allows;
        # the point is that no code path can reach it again.
        self.secret = next_epoch_secret(self.secret, th)
        self.key = aead_cipher(epoch_key(self.secret, th))
        self.epoch += 1
        self.index = 0
        self.epoch_started = now


class Session:
    """An established securemsg/1 session: seals and opens records.

    Both sides use this class; ``role`` picks which traffic secret sends.
    Any error raised by ``open`` ends the session: later calls raise
    UnexpectedMessageError, so a caller cannot continue by mistake.
    """

    def __init__(
        self,
        *,
        role: Role,
        th: bytes,
        session_id: bytes,
        secrets: HandshakeSecrets,
        now: Callable[[], float] = time.monotonic,
        update_after_records: int = UPDATE_AFTER_RECORDS,
        update_after_seconds: float = UPDATE_AFTER_SECONDS,
        max_records_per_epoch: int = MAX_RECORDS_PER_EPOCH,
    ) -> None:
        if role not in ("client", "server"):
            raise ValueError("role must be 'client' or 'server'")
        if update_after_records < 1 or update_after_records >= max_records_per_epoch:
            raise ValueError("update_after_records must be in 1..max_records_per_epoch-1")
        self._th = th
        self._session_id = session_id
        self._now = now
        self._update_after_records = update_after_records
        self._update_after_seconds = update_after_seconds
        self._max_records_per_epoch = max_records_per_epoch
        started = now()
        c2s = _DirectionState(
            DIRECTION_C2S,
            secrets.c2s,
            aead_cipher(epoch_key(secrets.c2s, th)),
            AAD_LABEL + session_id + bytes([DIRECTION_C2S]),
        )
        s2c = _DirectionState(
            DIRECTION_S2C,
            secrets.s2c,
            aead_cipher(epoch_key(secrets.s2c, th)),
            AAD_LABEL + session_id + bytes([DIRECTION_S2C]),
        )
        c2s.epoch_started = s2c.epoch_started = started
        self._send, self._recv = (c2s, s2c) if role == "client" else (s2c, c2s)
        self._closed = False

    @property
    def session_id(self) -> bytes:
        """The 16-byte session id of this session."""
        return self._session_id

    @property
    def th(self) -> bytes:
        """The transcript hash (public: it is the salt of every derivation)."""
        return self._th

    @property
    def send_epoch(self) -> int:
        """The epoch the next sealed record uses."""
        return self._send.epoch

    @property
    def recv_epoch(self) -> int:
        """The epoch the next opened record must use."""
        return self._recv.epoch

    def seal(self, message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Seal one application message; return the frames to send, in order.

        Usually one frame. When the sending epoch is due for a key update
        (its next index would be 2^20 - 1, or it is an hour old), the first
        frame is the ``{"t": "update"}`` record and the message follows under
        the next epoch. Raises ValueError if the UTF-8 JSON exceeds 32,768
        bytes (the caller must split, e.g. history pages).
        """
        self._check_open()
        frames: list[dict[str, Any]] = []
        state = self._send
        elapsed = self._now() - state.epoch_started
        if state.index >= self._update_after_records - 1 or elapsed >= self._update_after_seconds:
            frames.append(self.update_keys())
        frames.append(self._seal_plaintext(encode_json_bytes(message)))
        return frames

    def update_keys(self) -> dict[str, Any]:
        """Seal a ``{"t": "update"}`` record now and move sending to the next epoch."""
        self._check_open()
        frame = self._seal_plaintext(encode_json_bytes(UPDATE_MESSAGE))
        self._send.advance_epoch(self._th, self._now())
        return frame

    def _seal_plaintext(self, plaintext: bytes) -> dict[str, Any]:
        if len(plaintext) > MAX_PLAINTEXT_SIZE:
            raise ValueError(f"record plaintext exceeds {MAX_PLAINTEXT_SIZE} bytes")
        state = self._send
        seq = state.seq
        if seq > MAX_SEQ:
            raise SequenceError("send sequence exhausted")
        nonce, aad = state.nonce_and_aad(seq)
        frame = {
            "type": "rec",
            "seq": seq,
            "ct": b64u_encode(aead_seal(state.key, nonce, plaintext, aad)),
        }
        state.seq = seq + 1
        state.index += 1
        return frame

    def open(self, frame: Frame) -> dict[str, Any] | None:
        """Open one received record and return its application message.

        Returns None for a key update record, which this method handles
        itself. Raises MalformedMessageError/UnexpectedMessageError (4400),
        SequenceError (4409) or AuthenticationFailedError (4410); any of them
        closes the session.
        """
        if self._closed:
            raise UnexpectedMessageError("session is closed after an error")
        try:
            return self._open(frame)
        except ProtocolError:
            self._closed = True
            raise

    def _open(self, frame: Frame) -> dict[str, Any] | None:
        seq, ct = _parse_record(frame)
        state = self._recv
        if seq != state.seq:
            raise SequenceError("unexpected record sequence number")
        if state.index >= self._max_records_per_epoch:
            raise SequenceError("too many records in one epoch")
        nonce = _NONCE.pack(state.direction, seq)
        aad = state.aad_prefix + _SEQ_EPOCH.pack(seq, state.epoch)
        plaintext = aead_open(state.key, nonce, ct, aad)
        message = parse_json_object(plaintext, limit=MAX_PLAINTEXT_SIZE, what="record plaintext")
        state.seq += 1
        state.index += 1
        if message.get("t") == "update":
            state.advance_epoch(self._th, self._now())
            return None
        return message

    def _check_open(self) -> None:
        if self._closed:
            raise UnexpectedMessageError("session is closed after an error")


def _parse_record(frame: Frame) -> tuple[int, bytes]:
    """Return (seq, ct) of a record frame, or raise as decode_frame and require_* do."""
    fast = split_record_frame(frame)
    if fast is not None:
        try:
            return fast[0], b64u_decode(fast[1], field="ct")
        except MalformedMessageError:
            pass  # the full parse below raises the error it always did
    obj = decode_frame(frame)
    if require_str(obj, "type") != "rec":
        # A handshake message (e.g. a second client_hello) after the
        # handshake is a state violation, not a record.
        raise UnexpectedMessageError("only records are allowed after the handshake")
    return require_int(obj, "seq"), require_bytes(obj, "ct")
