/**
 * Strict base64url without padding (RFC 4648 section 5), as protocol.md
 * requires: padded, non-alphabet and non-canonical encodings are rejected,
 * so every byte string has exactly one accepted encoding.
 * @module securemsg/b64
 */

import { MalformedMessageError } from "./errors.mjs";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const VALUES = new Map(Array.from(ALPHABET, (ch, i) => [ch, i]));

/**
 * Encode bytes as base64url without padding.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function b64uEncode(bytes) {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63];
  }
  return out;
}

/**
 * Decode canonical unpadded base64url, or throw MalformedMessageError.
 * @param {string} text
 * @param {string} [field] the field name for the error message
 * @returns {Uint8Array}
 */
export function b64uDecode(text, field = "value") {
  if (typeof text !== "string") {
    throw new MalformedMessageError(`${field} must be a base64url string`);
  }
  if (text.length % 4 === 1) {
    throw new MalformedMessageError(`${field} has an impossible base64url length`);
  }
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const ch of text) {
    const v = VALUES.get(ch);
    if (v === undefined) {
      throw new MalformedMessageError(`${field} is not unpadded base64url`);
    }
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o] = (acc >> bits) & 0xff;
      o += 1;
    }
  }
  // Non-zero unused trailing bits would give a second encoding of the same bytes.
  if ((acc & ((1 << bits) - 1)) !== 0) {
    throw new MalformedMessageError(`${field} is not canonical base64url`);
  }
  return out;
}
