/**
 * Key schedule (protocol.md, "Key schedule"): HKDF-SHA-256 with salt = TH.
 * @module securemsg/schedule
 */

import { concat } from "./bytes.mjs";
import {
  INFO_C2S,
  INFO_FINISHED,
  INFO_KEY,
  INFO_S2C,
  INFO_UPDATE,
  SECRET_SIZE,
} from "./constants.mjs";
import { hkdfSha256, hmacSha256 } from "./primitives.mjs";

/**
 * @typedef {object} HandshakeSecrets the epoch-0 traffic secrets and the finished key
 * @property {Uint8Array} c2s
 * @property {Uint8Array} s2c
 * @property {Uint8Array} finishedKey
 */

/**
 * Derive the epoch-0 secrets from IKM = client_secret || server_secret.
 * @param {Uint8Array} clientSecret 32 bytes
 * @param {Uint8Array} serverSecret 32 bytes
 * @param {Uint8Array} th
 * @param {Crypto} [crypto]
 * @returns {Promise<HandshakeSecrets>}
 */
export async function deriveHandshakeSecrets(clientSecret, serverSecret, th, crypto) {
  if (clientSecret.length !== SECRET_SIZE || serverSecret.length !== SECRET_SIZE) {
    throw new RangeError(`clientSecret and serverSecret must be ${SECRET_SIZE} bytes`);
  }
  const ikm = concat(clientSecret, serverSecret);
  const [c2s, s2c, finishedKey] = await Promise.all([
    hkdfSha256(ikm, th, INFO_C2S, crypto),
    hkdfSha256(ikm, th, INFO_S2C, crypto),
    hkdfSha256(ikm, th, INFO_FINISHED, crypto),
  ]);
  ikm.fill(0);
  return { c2s, s2c, finishedKey };
}

/**
 * Return secret[n+1] from secret[n] (the caller discards secret[n]).
 * @param {Uint8Array} secret
 * @param {Uint8Array} th
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export function nextEpochSecret(secret, th, crypto) {
  return hkdfSha256(secret, th, INFO_UPDATE, crypto);
}

/**
 * Return the AES-256-GCM key bytes of the epoch whose traffic secret is `secret`.
 * @param {Uint8Array} secret
 * @param {Uint8Array} th
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export function epochKey(secret, th, crypto) {
  return hkdfSha256(secret, th, INFO_KEY, crypto);
}

/**
 * Return the client_finished MAC: HMAC-SHA-256(finished_key, TH).
 * @param {Uint8Array} finishedKey
 * @param {Uint8Array} th
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export function finishedMac(finishedKey, th, crypto) {
  return hmacSha256(finishedKey, th, crypto);
}
