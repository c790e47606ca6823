/**
 * Server key publication: keys.json, fingerprints, endorsements and the
 * chain logic (protocol.md, "Server key publication"; mirrors
 * protocol/_keyset.py). The endorser of each endorsement is identified by
 * SHA-256(by_spki) only, so a chain can be checked from a pinned
 * fingerprint alone.
 * @module securemsg/keyset
 */

import { concat, utf8 } from "./bytes.mjs";
import { ENDORSE_LABEL, MAX_KEYS_JSON_SIZE, MAX_KID_LENGTH } from "./constants.mjs";
import { AuthenticationFailedError, MalformedMessageError, UnsupportedVersionError } from "./errors.mjs";
import { parseJsonObject, requireBytes, requireInt, requireName, requireStr } from "./json.mjs";
import { fingerprint, importRsaSpki, pssVerify, sha256 } from "./primitives.mjs";

export const KEYS_JSON_VERSION = 1;
const ALGS = { sig: "RSA-PSS-SHA256", enc: "RSA-OAEP-SHA256" };
const STATES = ["active", "retiring"];
const FINGERPRINT = /^[0-9a-f]{64}$/;

/**
 * @typedef {object} PublishedKey one key of keys.json
 * @property {string} kid
 * @property {"sig"|"enc"} use
 * @property {string} alg
 * @property {Uint8Array} spki
 * @property {string} fingerprint
 * @property {"active"|"retiring"} state
 * @property {CryptoKey} publicKey RSA-PSS verify key (sig) or RSA-OAEP encrypt key (enc)
 */

/**
 * @typedef {object} Endorsement the key `by` (`bySpki`) vouches for `kid`
 * @property {string} kid
 * @property {string} by
 * @property {Uint8Array} bySpki
 * @property {Uint8Array} sig
 */

/**
 * Return `value` if it is 64 lowercase hex digits, else throw TypeError.
 * @param {string} value
 * @returns {string}
 */
export function checkFingerprint(value) {
  if (typeof value !== "string" || !FINGERPRINT.test(value)) {
    throw new TypeError("fingerprint must be 64 lowercase hex digits (SHA-256 of the SPKI)");
  }
  return value;
}

/**
 * The signed bytes of an endorsement: "securemsg/1 endorse" || 0x00 || SHA-256(endorsed SPKI).
 * @param {Uint8Array} endorsedSpki
 * @param {Crypto} [crypto]
 * @returns {Promise<Uint8Array>}
 */
export async function endorsementMessage(endorsedSpki, crypto) {
  return concat(utf8(ENDORSE_LABEL), new Uint8Array([0]), await sha256(endorsedSpki, crypto));
}

/**
 * Whether `endorsement.sig` by `bySpki` covers `endorsedSpki`.
 * @param {Endorsement} endorsement
 * @param {Uint8Array} endorsedSpki
 * @param {Crypto} [crypto]
 * @returns {Promise<boolean>}
 */
export async function verifyEndorsement(endorsement, endorsedSpki, crypto) {
  try {
    const byKey = await importRsaSpki(endorsement.bySpki, "sig", { field: "by_spki", crypto });
    await pssVerify(byKey, endorsement.sig, await endorsementMessage(endorsedSpki, crypto), crypto);
  } catch (err) {
    if (err instanceof MalformedMessageError || err instanceof AuthenticationFailedError) return false;
    throw err;
  }
  return true;
}

/** A validated keys.json document. */
export class KeySet {
  /**
   * @param {PublishedKey[]} keys
   * @param {Endorsement[]} endorsements
   * @param {Crypto} [crypto]
   */
  constructor(keys, endorsements, crypto) {
    this.keys = Object.freeze([...keys]);
    this.endorsements = Object.freeze([...endorsements]);
    this._crypto = crypto;
  }

  /**
   * The published key `kid` of the given use, or null.
   * @param {string} kid
   * @param {"sig"|"enc"} use
   * @returns {PublishedKey|null}
   */
  find(kid, use) {
    return this.keys.find((k) => k.kid === kid && k.use === use) ?? null;
  }

  /**
   * The active key of `use` (clients wrap to the active enc key and pin
   * the active sig key on first use). Throws MalformedMessageError if none.
   * @param {"sig"|"enc"} use
   * @returns {PublishedKey}
   */
  activeKey(use) {
    const key = this.keys.find((k) => k.use === use && k.state === "active");
    if (!key) throw new MalformedMessageError(`keys.json has no active ${use} key`);
    return key;
  }

  /**
   * Every SPKI fingerprint trusted from `pins` through endorsements. An
   * endorsement counts only when SHA-256(by_spki) is already trusted and its
   * signature verifies over the digest of the endorsed SPKI: the published
   * key with that kid, or the by_spki of an endorsement whose `by` is that
   * kid. The signature binds the exact SPKI, so list order does not matter;
   * the loop runs to a fixed point.
   * @param {Iterable<string>} pins
   * @returns {Promise<Set<string>>}
   */
  async trustedFingerprints(pins) {
    const trusted = new Set([...pins].map(checkFingerprint));
    const byFingerprints = await Promise.all(this.endorsements.map((e) => fingerprint(e.bySpki, this._crypto)));
    const pending = new Set(this.endorsements.keys());
    let progress = true;
    while (progress) {
      progress = false;
      for (const i of [...pending]) {
        if (!trusted.has(byFingerprints[i])) continue;
        const endorsement = this.endorsements[i];
        for (const candidate of this._endorsedCandidates(endorsement.kid)) {
          if (await verifyEndorsement(endorsement, candidate, this._crypto)) {
            trusted.add(await fingerprint(candidate, this._crypto));
            pending.delete(i);
            progress = true;
            break;
          }
        }
      }
    }
    return trusted;
  }

  /**
   * @param {string} kid
   * @returns {Uint8Array[]}
   */
  _endorsedCandidates(kid) {
    const candidates = this.endorsements.filter((e) => e.by === kid).map((e) => e.bySpki);
    const published = this.find(kid, "sig");
    if (published) candidates.unshift(published.spki);
    return candidates;
  }

  /**
   * The published signing key `kid` if it chains to `pins`, else null.
   * @param {string} kid
   * @param {Iterable<string>} pins
   * @returns {Promise<PublishedKey|null>}
   */
  async trustedSigningKey(kid, pins) {
    const key = this.find(kid, "sig");
    if (!key) return null;
    return (await this.trustedFingerprints(pins)).has(key.fingerprint) ? key : null;
  }
}

/**
 * @param {any} entry
 * @param {Crypto} [crypto]
 * @returns {Promise<PublishedKey>}
 */
async function parseKey(entry, crypto) {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw new MalformedMessageError("keys.json key entries must be objects");
  }
  const kid = requireName(entry, "kid", MAX_KID_LENGTH);
  const use = requireStr(entry, "use");
  if (!Object.hasOwn(ALGS, use)) throw new MalformedMessageError("key use must be 'sig' or 'enc'");
  const alg = requireStr(entry, "alg");
  if (alg !== ALGS[use]) throw new MalformedMessageError(`a ${use} key must have alg ${ALGS[use]}`);
  const state = requireStr(entry, "state");
  if (!STATES.includes(state)) throw new MalformedMessageError("key state must be 'active' or 'retiring'");
  const spki = requireBytes(entry, "spki");
  const publicKey = await importRsaSpki(spki, use, { field: "spki", crypto });
  const digest = await fingerprint(spki, crypto);
  if (requireStr(entry, "fingerprint") !== digest) {
    throw new MalformedMessageError(`fingerprint of key ${kid} does not match its spki`);
  }
  return Object.freeze({ kid, use, alg, spki, fingerprint: digest, state, publicKey });
}

/**
 * @param {any} entry
 * @returns {Endorsement}
 */
function parseEndorsement(entry) {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw new MalformedMessageError("keys.json endorsements must be objects");
  }
  return Object.freeze({
    kid: requireName(entry, "kid", MAX_KID_LENGTH),
    by: requireName(entry, "by", MAX_KID_LENGTH),
    bySpki: requireBytes(entry, "by_spki"),
    sig: requireBytes(entry, "sig"),
  });
}

/**
 * Parse and validate a keys.json document (MalformedMessageError on any
 * fault, UnsupportedVersionError for a version other than 1). Each key must
 * be an RSA 2048..4096-bit rsaEncryption SPKI whose published fingerprint
 * matches; kids are unique per use; unknown fields are ignored.
 * @param {string|Uint8Array|object} document the JSON text or the parsed object
 * @param {Crypto} [crypto]
 * @returns {Promise<KeySet>}
 */
export async function parseKeySet(document, crypto) {
  const obj =
    typeof document === "string" || document instanceof Uint8Array
      ? parseJsonObject(document, { limit: MAX_KEYS_JSON_SIZE, what: "keys.json" })
      : document;
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new MalformedMessageError("keys.json is not a JSON object");
  }
  if (requireInt(obj, "version") !== KEYS_JSON_VERSION) {
    throw new UnsupportedVersionError("unsupported keys.json version");
  }
  const rawKeys = obj.keys;
  const rawEndorsements = obj.endorsements === undefined ? [] : obj.endorsements;
  if (!Array.isArray(rawKeys) || !Array.isArray(rawEndorsements)) {
    throw new MalformedMessageError("keys and endorsements must be lists");
  }
  const keys = await Promise.all(rawKeys.map((entry) => parseKey(entry, crypto)));
  if (new Set(keys.map((k) => `${k.use}\u0000${k.kid}`)).size !== keys.length) {
    throw new MalformedMessageError("keys.json lists a kid twice");
  }
  return new KeySet(keys, rawEndorsements.map(parseEndorsement), crypto);
}
