/**
 * Pinning of the server's signing key: trust on first use from the page's
 * embedded key set, stored per origin (protocol.md, "Server key
 * publication"). A new signing key is accepted only through endorsements
 * from a pinned key; an unendorsed change is refused until a person re-pins
 * out of band. No DOM: the storage object (localStorage in the page) is
 * passed in.
 * @module securemsg/pins
 */

import { checkFingerprint } from "./keyset.mjs";

export const PIN_STORAGE_PREFIX = "securemsg:pins:";

/**
 * The storage key holding the pins of `origin` (e.g. "https://chat.example").
 * @param {string} origin
 * @returns {string}
 */
export function pinStorageKey(origin) {
  return PIN_STORAGE_PREFIX + origin;
}

/**
 * Read the pinned fingerprints of `origin`; a missing or unreadable entry
 * gives [] (first use). Invalid entries are dropped.
 * @param {Storage|null|undefined} storage
 * @param {string} origin
 * @returns {string[]}
 */
export function loadPins(storage, origin) {
  let raw = null;
  try {
    raw = storage ? storage.getItem(pinStorageKey(origin)) : null;
  } catch {
    raw = null; // storage disabled by the browser: behave as first use
  }
  if (raw === null) return [];
  let value;
  try {
    value = JSON.parse(raw);
  } catch {
    return [];
  }
  const list = Array.isArray(value?.fingerprints) ? value.fingerprints : [];
  return list.filter((fp) => {
    try {
      checkFingerprint(fp);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Store the pinned fingerprints of `origin`. Returns false if storage failed.
 * @param {Storage|null|undefined} storage
 * @param {string} origin
 * @param {string[]} pins
 * @returns {boolean}
 */
export function savePins(storage, origin, pins) {
  try {
    if (!storage) return false;
    storage.setItem(pinStorageKey(origin), JSON.stringify({ fingerprints: [...pins].map(checkFingerprint) }));
    return true;
  } catch {
    return false;
  }
}

/**
 * @typedef {object} TrustDecision
 * @property {boolean} trusted whether the key set's active signing key chains to the pins
 * @property {boolean} firstUse true when there was no pin and the active key was pinned now
 * @property {string[]} pins the pins to store (unchanged when not trusted)
 * @property {import("./keyset.mjs").PublishedKey} signingKey the active signing key
 */

/**
 * Decide whether to trust `keySet` given the stored pins: with no pin, trust
 * on first use (pin the active signing key); otherwise the active signing key
 * must be pinned or chain to a pin through endorsements. When it chains, its
 * fingerprint is added to the pins.
 * @param {import("./keyset.mjs").KeySet} keySet
 * @param {string[]} storedPins
 * @returns {Promise<TrustDecision>}
 */
export async function decideTrust(keySet, storedPins) {
  const signingKey = keySet.activeKey("sig");
  if (storedPins.length === 0) {
    return { trusted: true, firstUse: true, pins: [signingKey.fingerprint], signingKey };
  }
  const trusted = await keySet.trustedFingerprints(storedPins);
  if (!trusted.has(signingKey.fingerprint)) {
    return { trusted: false, firstUse: false, pins: [...storedPins], signingKey };
  }
  const pins = storedPins.includes(signingKey.fingerprint)
    ? [...storedPins]
    : [...storedPins, signingKey.fingerprint];
  return { trusted: true, firstUse: false, pins, signingKey };
}

/**
 * Format a hex fingerprint in groups of 4 hex digits for people to compare.
 * @param {string} fp 64 lowercase hex digits
 * @returns {string} e.g. "edc4 9125 0025 …"
 */
export function groupFingerprint(fp) {
  return checkFingerprint(fp).match(/.{4}/g).join(" ");
}
