/**
 * Names, labels and limits of securemsg/1 (protocol.md). Mirrors
 * securemsg/protocol/_constants.py; the two must never differ.
 * @module securemsg/constants
 */

export const VERSION = 1;
export const SUITE = "SM1-RSAOAEP256-RSAPSS256-HKDF256-AESGCM256";
export const PROTOCOL_LABEL = "securemsg/1";

// HKDF info strings of the key schedule ("Key schedule").
export const INFO_C2S = "securemsg/1 c2s";
export const INFO_S2C = "securemsg/1 s2c";
export const INFO_FINISHED = "securemsg/1 finished";
export const INFO_UPDATE = "securemsg/1 update";
export const INFO_KEY = "securemsg/1 key";
// Prefix of every record's AAD ("Records").
export const AAD_LABEL = "securemsg/1 rec";
// Domain separation of endorsements from handshake signatures.
export const ENDORSE_LABEL = "securemsg/1 endorse";

// Direction tags: the first 4 bytes of the nonce, and 1 byte of the AAD.
export const DIRECTION_C2S = 1;
export const DIRECTION_S2C = 2;

export const SECRET_SIZE = 32; // client_secret, server_secret, traffic secrets
export const NONCE_SIZE = 32; // client_nonce, server_nonce
export const SESSION_ID_SIZE = 16;
export const TAG_SIZE = 16; // AES-GCM tag; a shorter ct cannot authenticate
export const FINISHED_MAC_SIZE = 32;

// Frames larger than this (UTF-8 bytes) are malformed (4400).
export const MAX_FRAME_SIZE = 65536;
// Record plaintext bound, counted on the decrypted UTF-8 JSON.
export const MAX_PLAINTEXT_SIZE = 32768;
// A sender updates its keys at the latest when a record would get this
// index in its epoch...
export const UPDATE_AFTER_RECORDS = 2 ** 20 - 1;
// ...or when the epoch is this old (seconds, on the injected clock).
export const UPDATE_AFTER_SECONDS = 3600;
// The receiver refuses (4409) a record with this index or more in its epoch.
export const MAX_RECORDS_PER_EPOCH = 2 ** 24;
// The epoch is written as 4 bytes in the AAD; it must never wrap.
export const MAX_EPOCH = 2 ** 32 - 1;
// seq is written as 8 bytes; JavaScript numbers are exact up to 2^53 - 1,
// far beyond any session's record count.
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

// RSA sizes accepted for server keys; the client's ephemeral key size.
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 4096;
export const CLIENT_KEY_BITS = 2048;
export const PSS_SALT_LENGTH = 32;

// Kids and usernames are short identifiers (Django's username is <= 150).
export const MAX_KID_LENGTH = 128;
export const MAX_USER_LENGTH = 150;
// Application messages.
export const MAX_ID_LENGTH = 64;
export const MAX_BODY_BYTES = 4096;
export const HISTORY_LIMIT_DEFAULT = 50;
// keys.json bound: keeps a broken server from making us parse megabytes.
export const MAX_KEYS_JSON_SIZE = 1048576;

/** WebSocket close codes of securemsg/1 (protocol.md, "Close codes"). */
export const CloseCode = Object.freeze({
  MALFORMED: 4400,
  NOT_LOGGED_IN: 4401,
  ORIGIN_NOT_ALLOWED: 4403,
  TIMEOUT: 4408,
  SEQUENCE: 4409,
  AUTHENTICATION_FAILED: 4410,
  STALE_KEY: 4412,
  UNSUPPORTED_VERSION: 4426,
  RATE_LIMITED: 4429,
  SERVER_UNAVAILABLE: 4500,
});
