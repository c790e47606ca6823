/**
 * The suite's primitives as thin wrappers over WebCrypto (mirrors
 * protocol/_crypto.py). Nothing here implements a primitive: each function
 * fixes the suite's parameters and turns WebCrypto failures into the typed
 * errors. Every authentication failure becomes one AuthenticationFailedError.
 *
 * Each function takes an optional `crypto` (a WebCrypto `Crypto`: the
 * browser's `globalThis.crypto`, or Node's `webcrypto` from `node:crypto`).
 * @module securemsg/primitives
 */

import { asBytes, bytesEqual, toHex, utf8 } from "./bytes.mjs";
import {
  MAX_RSA_BITS,
  MIN_RSA_BITS,
  PSS_SALT_LENGTH,
  SECRET_SIZE,
  TAG_SIZE,
  CLIENT_KEY_BITS,
} from "./constants.mjs";
import { AuthenticationFailedError, MalformedMessageError } from "./errors.mjs";

export const AES_KEY_SIZE = 32;
export const GCM_NONCE_SIZE = 12;
const OAEP = { name: "RSA-OAEP", hash: "SHA-256" };
const PSS = { name: "RSA-PSS", hash: "SHA-256" };
const EXPONENT_65537 = new Uint8Array([1, 0, 1]);
// DER of AlgorithmIdentifier { rsaEncryption, NULL }: the only SPKI
// algorithm identifier of the suite (browsers cannot import id-RSASSA-PSS).
const RSA_ENCRYPTION_ALG_ID = new Uint8Array([
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
]);

/**
 * @param {Crypto} [crypto]
 * @returns {SubtleCrypto}
 */
function subtleOf(crypto) {
  const c = crypto ?? globalThis.crypto;
  if (!c || !c.subtle) throw new TypeError("a WebCrypto implementation is required");
  return c.subtle;
}

/**
 * Draw `size` random bytes from the platform CSPRNG.
 * @param {number} size
 * @param {Crypto} [crypto]
 * @returns {Uint8Array}
 */
export function randomBytes(size, crypto) {
  const c = crypto ?? globalThis.crypto;
  return c.getRandomValues(new Uint8Array(size));
}

/**
 * SHA-256 digest.
 * @param {Uint8Array} data
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export async function sha256(data, crypto) {
  return asBytes(await subtleOf(crypto).digest("SHA-256", data));
}

/**
 * Key fingerprint: lowercase hex SHA-256 of the SPKI DER.
 * @param {Uint8Array} spki
 * @param {Crypto} [crypto]
 * @returns {Promise<string>}
 */
export async function fingerprint(spki, crypto) {
  return toHex(await sha256(spki, crypto));
}

/**
 * HKDF-SHA-256 (RFC 5869) with the suite's fixed output length of 32 bytes.
 * @param {Uint8Array} ikm
 * @param {Uint8Array} salt
 * @param {string|Uint8Array} info
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export async function hkdfSha256(ikm, salt, info, crypto) {
  const subtle = subtleOf(crypto);
  const key = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const infoBytes = typeof info === "string" ? utf8(info) : info;
  const bits = await subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt, info: infoBytes },
    key,
    SECRET_SIZE * 8,
  );
  return asBytes(bits);
}

/**
 * @param {Uint8Array} key
 * @param {Crypto} [crypto]
 */
function importHmacKey(key, crypto) {
  return subtleOf(crypto).importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

/**
 * HMAC-SHA-256(key, data).
 * @param {Uint8Array} key
 * @param {Uint8Array} data
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export async function hmacSha256(key, data, crypto) {
  const hmacKey = await importHmacKey(key, crypto);
  return asBytes(await subtleOf(crypto).sign("HMAC", hmacKey, data));
}

/**
 * Check an HMAC-SHA-256 tag (WebCrypto's verify), else AuthenticationFailedError.
 * @param {Uint8Array} key
 * @param {Uint8Array} data
 * @param {Uint8Array} tag
 * @param {Crypto} [crypto]
 * @returns {Promise<void>}
 */
export async function hmacSha256Verify(key, data, tag, crypto) {
  const hmacKey = await importHmacKey(key, crypto);
  if (!(await subtleOf(crypto).verify("HMAC", hmacKey, tag, data))) {
    throw new AuthenticationFailedError("MAC verification failed");
  }
}

/** @param {Uint8Array} nonce */
function checkNonce(nonce) {
  if (!(nonce instanceof Uint8Array) || nonce.length !== GCM_NONCE_SIZE) {
    throw new RangeError(`nonce must be ${GCM_NONCE_SIZE} bytes`);
  }
}

/**
 * Import a 32-byte AES-256-GCM key (non-extractable).
 * @param {Uint8Array} key
 * @param {Crypto} [crypto]
 * @returns {Promise<CryptoKey>}
 */
export function importAeadKey(key, crypto) {
  if (!(key instanceof Uint8Array) || key.length !== AES_KEY_SIZE) {
    throw new RangeError(`key must be ${AES_KEY_SIZE} bytes`);
  }
  return subtleOf(crypto).importKey("raw", key, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/**
 * AES-256-GCM encrypt; returns ciphertext || 16-byte tag.
 * @param {Uint8Array|CryptoKey} key raw 32 bytes, or a key from importAeadKey
 * @param {Uint8Array} nonce 12 bytes
 * @param {Uint8Array} plaintext
 * @param {Uint8Array} aad
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export async function aeadSeal(key, nonce, plaintext, aad, crypto) {
  const cryptoKey = key instanceof Uint8Array ? await importAeadKey(key, crypto) : key;
  checkNonce(nonce);
  const ct = await subtleOf(crypto).encrypt(
    { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: TAG_SIZE * 8 },
    cryptoKey,
    plaintext,
  );
  return asBytes(ct);
}

/**
 * AES-256-GCM decrypt, throwing AuthenticationFailedError on any failure.
 * @param {Uint8Array|CryptoKey} key raw 32 bytes, or a key from importAeadKey
 * @param {Uint8Array} nonce 12 bytes
 * @param {Uint8Array} ciphertext ciphertext || tag
 * @param {Uint8Array} aad
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export async function aeadOpen(key, nonce, ciphertext, aad, crypto) {
  const cryptoKey = key instanceof Uint8Array ? await importAeadKey(key, crypto) : key;
  checkNonce(nonce);
  if (ciphertext.length < TAG_SIZE) throw new AuthenticationFailedError("record authentication failed");
  try {
    const pt = await subtleOf(crypto).decrypt(
      { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: TAG_SIZE * 8 },
      cryptoKey,
      ciphertext,
    );
    return asBytes(pt);
  } catch {
    throw new AuthenticationFailedError("record authentication failed");
  }
}

/**
 * Import an RSA public key from SPKI DER, enforcing the suite's key rules:
 * rsaEncryption identifier, 2048 to 4096 bits, exponent 65537, and canonical
 * DER (re-export must give the same bytes). Throws MalformedMessageError.
 * @param {Uint8Array} spki
 * @param {"sig"|"enc"} use "sig" imports for RSA-PSS verify, "enc" for RSA-OAEP encrypt
 * @param {{field?: string, crypto?: Crypto}} [options]
 * @returns {Promise<CryptoKey>}
 */
export async function importRsaSpki(spki, use, { field = "spki", crypto } = {}) {
  const subtle = subtleOf(crypto);
  if (!hasRsaEncryptionAlgorithm(spki)) {
    throw new MalformedMessageError(`${field} is not an rsaEncryption SubjectPublicKeyInfo`);
  }
  let key;
  try {
    key = await subtle.importKey(
      "spki",
      spki,
      use === "sig" ? PSS : OAEP,
      true,
      use === "sig" ? ["verify"] : ["encrypt"],
    );
  } catch {
    throw new MalformedMessageError(`${field} is not a DER SubjectPublicKeyInfo`);
  }
  const bits = key.algorithm.modulusLength;
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw new MalformedMessageError(`${field} must be ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`);
  }
  if (!bytesEqual(asBytes(key.algorithm.publicExponent), EXPONENT_65537)) {
    throw new MalformedMessageError(`${field} must have public exponent 65537`);
  }
  if (!bytesEqual(asBytes(await subtle.exportKey("spki", key)), spki)) {
    throw new MalformedMessageError(`${field} is not a canonical rsaEncryption SPKI`);
  }
  return key;
}

/**
 * Whether `spki` starts SEQUENCE { AlgorithmIdentifier rsaEncryption, NULL ... }.
 * @param {Uint8Array} spki
 * @returns {boolean}
 */
function hasRsaEncryptionAlgorithm(spki) {
  if (!(spki instanceof Uint8Array) || spki.length < 2 || spki[0] !== 0x30) return false;
  // Outer length: short form, or long form with 1..2 length bytes.
  const lengthBytes = spki[1] & 0x80 ? spki[1] & 0x7f : 0;
  const start = 2 + lengthBytes;
  const alg = spki.subarray(start, start + RSA_ENCRYPTION_ALG_ID.length);
  return bytesEqual(alg, RSA_ENCRYPTION_ALG_ID);
}

/**
 * RSA-OAEP-SHA-256 encrypt (MGF1-SHA-256, empty label).
 * @param {CryptoKey} publicKey an RSA-OAEP public key
 * @param {Uint8Array} plaintext
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export async function oaepEncrypt(publicKey, plaintext, crypto) {
  return asBytes(await subtleOf(crypto).encrypt({ name: "RSA-OAEP" }, publicKey, plaintext));
}

/**
 * RSA-OAEP-SHA-256 decrypt (empty label), throwing AuthenticationFailedError
 * on any failure: a bad wrapped_server_secret means the server failed
 * authentication.
 * @param {CryptoKey} privateKey an RSA-OAEP private key
 * @param {Uint8Array} ciphertext
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export async function oaepDecrypt(privateKey, ciphertext, crypto) {
  try {
    return asBytes(await subtleOf(crypto).decrypt({ name: "RSA-OAEP" }, privateKey, ciphertext));
  } catch {
    throw new AuthenticationFailedError("decryption failed");
  }
}

/**
 * Verify an RSA-PSS-SHA-256 signature (MGF1-SHA-256, salt 32) over the
 * message bytes, throwing AuthenticationFailedError.
 * @param {CryptoKey} publicKey an RSA-PSS public key
 * @param {Uint8Array} signature
 * @param {Uint8Array} message
 * @param {Crypto} [crypto]
 * @returns {Promise<void>}
 */
export async function pssVerify(publicKey, signature, message, crypto) {
  let ok = false;
  try {
    ok = await subtleOf(crypto).verify(
      { name: "RSA-PSS", saltLength: PSS_SALT_LENGTH },
      publicKey,
      signature,
      message,
    );
  } catch {
    ok = false;
  }
  if (!ok) throw new AuthenticationFailedError("signature verification failed");
}

/**
 * Generate the client's ephemeral RSA-OAEP-2048 key pair. The private key
 * is NON-EXTRACTABLE: it can decrypt, and nothing can read it out.
 * @param {Crypto} [crypto]
 * @returns {Promise<CryptoKeyPair>}
 */
export function generateEphemeralKey(crypto) {
  return subtleOf(crypto).generateKey(
    { ...OAEP, modulusLength: CLIENT_KEY_BITS, publicExponent: EXPONENT_65537 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * Export a public key as SPKI DER.
 * @param {CryptoKey} publicKey
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export async function exportSpki(publicKey, crypto) {
  return asBytes(await subtleOf(crypto).exportKey("spki", publicKey));
}
