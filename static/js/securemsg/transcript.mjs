/**
 * The transcript hash TH (protocol.md, "Transcript hash TH").
 * @module securemsg/transcript
 */

import { concat, uintBE, utf8 } from "./bytes.mjs";
import { PROTOCOL_LABEL, SUITE } from "./constants.mjs";
import { sha256 } from "./primitives.mjs";

/**
 * @typedef {object} TranscriptInputs every handshake value that TH binds
 * @property {Uint8Array} clientKey SPKI DER of the client's ephemeral key
 * @property {Uint8Array} clientNonce
 * @property {string} encKid
 * @property {Uint8Array} wrappedClientSecret
 * @property {Uint8Array} serverNonce
 * @property {Uint8Array} sessionId
 * @property {string} sigKid
 * @property {Uint8Array} wrappedServerSecret
 * @property {string} user
 */

/**
 * Return the 11 TH fields in order, as [name, bytes] pairs.
 * @param {TranscriptInputs} t
 * @returns {Array<[string, Uint8Array]>}
 */
export function transcriptFields(t) {
  return [
    ["label", utf8(PROTOCOL_LABEL)],
    ["suite", utf8(SUITE)],
    ["client_key", t.clientKey],
    ["client_nonce", t.clientNonce],
    ["enc_kid", utf8(t.encKid)],
    ["wrapped_client_secret", t.wrappedClientSecret],
    ["server_nonce", t.serverNonce],
    ["session_id", t.sessionId],
    ["sig_kid", utf8(t.sigKid)],
    ["wrapped_server_secret", t.wrappedServerSecret],
    ["user", utf8(t.user)],
  ];
}

/**
 * Return the bytes hashed into TH: each field as 4-byte BE length || bytes.
 * @param {TranscriptInputs} t
 * @returns {Uint8Array}
 */
export function transcriptBytes(t) {
  return concat(...transcriptFields(t).flatMap(([, value]) => [uintBE(value.length, 4), value]));
}

/**
 * Return TH = SHA-256 over the length-prefixed transcript fields.
 * @param {TranscriptInputs} t
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export function transcriptHash(t, crypto) {
  return sha256(transcriptBytes(t), crypto);
}
