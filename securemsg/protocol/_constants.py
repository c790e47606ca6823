"""Names, labels and limits of securemsg/1 (protocol.md)."""

from __future__ import annotations

from typing import Final

VERSION: Final = 1
SUITE: Final = "SM1-RSAOAEP256-RSAPSS256-HKDF256-AESGCM256"
PROTOCOL_LABEL: Final = b"securemsg/1"

# HKDF info strings of the key schedule ("Key schedule").
INFO_C2S: Final = b"securemsg/1 c2s"
INFO_S2C: Final = b"securemsg/1 s2c"
INFO_FINISHED: Final = b"securemsg/1 finished"
INFO_UPDATE: Final = b"securemsg/1 update"
INFO_KEY: Final = b"securemsg/1 key"
# Prefix of every record's AAD ("Records").
AAD_LABEL: Final = b"securemsg/1 rec"
# Domain separation of endorsements from handshake signatures.
ENDORSE_LABEL: Final = b"securemsg/1 endorse"

# Direction tags: the first 4 bytes of the nonce, and 1 byte of the AAD.
DIRECTION_C2S: Final = 1
DIRECTION_S2C: Final = 2

SECRET_SIZE: Final = 32  # client_secret, server_secret, traffic secrets
NONCE_SIZE: Final = 32  # client_nonce, server_nonce
SESSION_ID_SIZE: Final = 16
TAG_SIZE: Final = 16  # AES-GCM tag; a shorter ct cannot authenticate

# Frames larger than this (UTF-8 bytes of the text frame) are malformed; it
# bounds the work an unauthenticated peer can make the parser do.
MAX_FRAME_SIZE: Final = 65_536
# Record plaintext bound, counted on the decrypted UTF-8 JSON.
MAX_PLAINTEXT_SIZE: Final = 32_768
# A sender updates its keys at the latest when a record would get this index
# in its epoch, keeping AES-GCM far below its per-key usage limits.
UPDATE_AFTER_RECORDS: Final = 2**20 - 1
# ...or when the epoch is this old (seconds, on the injected monotonic clock).
UPDATE_AFTER_SECONDS: Final = 3600.0
# The receiver refuses (4409) a record with this index or more in its epoch:
# 16 times the sender's limit, so only a broken or hostile sender hits it.
MAX_RECORDS_PER_EPOCH: Final = 2**24
# seq is written as 8 bytes; it never wraps.
MAX_SEQ: Final = 2**64 - 1

# RSA sizes accepted for every key (client ephemeral and server keys).
MIN_RSA_BITS: Final = 2048
MAX_RSA_BITS: Final = 4096
RSA_PUBLIC_EXPONENT: Final = 65537
# PSS salt length in bytes (the suite fixes it to the hash length).
PSS_SALT_LENGTH: Final = 32

# Kids and usernames are short identifiers; the bounds stop a peer from
# making us hash or log megabytes. Django's username max_length is 150.
MAX_KID_LENGTH: Final = 128
MAX_USER_LENGTH: Final = 150
# Application messages ("Application messages").
MAX_ID_LENGTH: Final = 64
MAX_BODY_BYTES: Final = 4096
HISTORY_LIMIT_DEFAULT: Final = 50
HISTORY_LIMIT_MIN: Final = 1
HISTORY_LIMIT_MAX: Final = 100

# The server closes with 4408 if client_finished has not verified by then.
HANDSHAKE_TIMEOUT_SECONDS: Final = 10.0
