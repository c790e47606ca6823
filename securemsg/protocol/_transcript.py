"""The transcript hash TH (protocol.md, "Transcript hash TH")."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

from ._constants import PROTOCOL_LABEL, SUITE


@dataclass(frozen=True)
class TranscriptInputs:
    """Every handshake value that TH binds, in protocol.md's terms."""

    client_key: bytes  # SPKI DER of the client's ephemeral key
    client_nonce: bytes
    enc_kid: str
    wrapped_client_secret: bytes
    server_nonce: bytes
    session_id: bytes
    sig_kid: str
    wrapped_server_secret: bytes
    user: str

    def fields(self) -> list[tuple[str, bytes]]:
        """Return the 11 TH fields in order, as (name, bytes) pairs."""
        return [
            ("label", PROTOCOL_LABEL),
            ("suite", SUITE.encode("ascii")),
            ("client_key", self.client_key),
            ("client_nonce", self.client_nonce),
            ("enc_kid", self.enc_kid.encode("utf-8")),
            ("wrapped_client_secret", self.wrapped_client_secret),
            ("server_nonce", self.server_nonce),
            ("session_id", self.session_id),
            ("sig_kid", self.sig_kid.encode("utf-8")),
            ("wrapped_server_secret", self.wrapped_server_secret),
            ("user", self.user.encode("utf-8")),
        ]


def transcript_bytes(inputs: TranscriptInputs) -> bytes:
    """Return the bytes hashed into TH: each field as 4-byte BE length || bytes.

    Length prefixes make the encoding injective, so no two different
    transcripts hash the same input (e.g. moving bytes between kids).
    """
    return b"".join(struct.pack(">I", len(value)) + value for _, value in inputs.fields())


def transcript_hash(inputs: TranscriptInputs) -> bytes:
    """Return TH = SHA-256 over the length-prefixed transcript fields."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(transcript_bytes(inputs))
    return digest.finalize()
