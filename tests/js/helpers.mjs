// Shared helpers of the JavaScript tests: paths, vector loading, test keys.
import { readFileSync } from "node:fs";
import { webcrypto } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const crypto = webcrypto;
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const VECTORS_DIR = join(REPO, "tests", "vectors");

/** Load a JSON vector file under tests/vectors/. */
export function loadVectors(name) {
  return JSON.parse(readFileSync(join(VECTORS_DIR, name), "utf8"));
}

/** Import the client module by its path under static/js/securemsg/. */
export function clientModule(name = "index.mjs") {
  return import(join(REPO, "static", "js", "securemsg", name));
}

export function hex(text) {
  return new Uint8Array(Buffer.from(text, "hex"));
}

export function toHex(bytes) {
  return Buffer.from(bytes).toString("hex");
}

/** DER bytes of a PEM block. */
export function pemToDer(pem) {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return new Uint8Array(Buffer.from(body, "base64"));
}

/** Import a PKCS#8 PEM private key for the test (non-extractable). */
export function importPrivate(pem, algorithm, usages) {
  return crypto.subtle.importKey("pkcs8", pemToDer(pem), algorithm, false, usages);
}

/** The test client key of securemsg1.json as an RSA-OAEP key pair. */
export async function vectorClientKey(V) {
  const alg = { name: "RSA-OAEP", hash: "SHA-256" };
  return {
    privateKey: await importPrivate(V.keys.client.pkcs8_pem, alg, ["decrypt"]),
    publicKey: await crypto.subtle.importKey("spki", hex(V.keys.client.spki_hex), alg, true, ["encrypt"]),
  };
}

/** A keys.json document built from the vectors' keys (optionally with the rotation). */
export function vectorKeysDocument(V, { rotated = false, endorsed = true } = {}) {
  const b64u = (h) => Buffer.from(h, "hex").toString("base64url");
  const key = (name, use, state) => ({
    kid: V.keys[name].kid,
    use,
    alg: use === "sig" ? "RSA-PSS-SHA256" : "RSA-OAEP-SHA256",
    spki: b64u(V.keys[name].spki_hex),
    fingerprint: V.keys[name].fingerprint,
    state,
  });
  const keys = rotated
    ? [key("server_sig_next", "sig", "active"), key("server_sig", "sig", "retiring"), key("server_enc", "enc", "active")]
    : [key("server_sig", "sig", "active"), key("server_enc", "enc", "active")];
  return {
    version: 1,
    keys,
    endorsements: rotated && endorsed ? [V.endorsement.entry] : [],
  };
}

/** A deterministic random(n) that replays the given byte strings in order. */
export function replayRandom(...values) {
  const queue = values.map((v) => (v instanceof Uint8Array ? v : hex(v)));
  return (size) => {
    const next = queue.shift();
    if (!next || next.length !== size) throw new Error(`unexpected random(${size})`);
    return next;
  };
}
