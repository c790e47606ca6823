// Wycheproof AES-GCM, RSA-OAEP, RSA-PSS and HKDF vectors. Cases whose
// parameters match the suite (AES-256-GCM, 96-bit nonce, 128-bit tag; OAEP
// SHA-256 with an empty label; PSS SHA-256 salt 32; 32-byte HKDF output)
// run through the client's own wrappers and every invalid one must raise our
// typed error. Other cases run through WebCrypto directly, or are skipped
// with the reason (node --test counts skips): none is silently dropped.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { clientModule, crypto, hex, loadVectors, toHex } from "./helpers.mjs";

const sm = await clientModule();

function* cases(file) {
  const data = loadVectors(`wycheproof/${file}`);
  for (const group of data.testGroups) {
    for (const t of group.tests) yield { group, t, id: `${group.keySize ?? ""}-${t.tcId}` };
  }
}

function caseName(id, t) {
  return `tcId ${id} ${t.result}${t.comment ? ` (${t.comment})` : ""}`;
}

describe("Wycheproof AES-GCM", () => {
  for (const { group, t, id } of cases("aes_gcm_test.json")) {
    const [key, iv, aad, msg, ct, tag] = [t.key, t.iv, t.aad, t.msg, t.ct, t.tag].map(hex);
    const suite = group.keySize === 256 && group.ivSize === 96 && group.tagSize === 128;
    const name = `${group.keySize}/${group.ivSize}/${group.tagSize} ${caseName(t.tcId, t)}`;
    if (suite) {
      test(`suite wrapper: ${name}`, async () => {
        const sealedInput = new Uint8Array([...ct, ...tag]);
        if (t.result === "valid") {
          assert.equal(toHex(await sm.aeadSeal(key, iv, msg, aad, crypto)), t.ct + t.tag);
          assert.equal(toHex(await sm.aeadOpen(key, iv, sealedInput, aad, crypto)), t.msg);
        } else {
          await assert.rejects(sm.aeadOpen(key, iv, sealedInput, aad, crypto), sm.AuthenticationFailedError);
        }
      });
    } else if (group.ivSize === 0) {
      test(`WebCrypto: ${name}`, { skip: "a zero-length nonce cannot be expressed: WebCrypto requires a non-empty iv" }, () => {});
    } else if (group.ivSize < 96 || group.ivSize > 1024) {
      // Browsers accept these nonce lengths; Node's WebCrypto answers OperationError.
      test(`WebCrypto: ${name}`, { skip: `Node's WebCrypto refuses ${group.ivSize}-bit AES-GCM nonces (not the suite's 96 bits)` }, () => {});
    } else {
      test(`WebCrypto directly (not the suite's parameters): ${name}`, async () => {
        const k = await crypto.subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]);
        const params = { name: "AES-GCM", iv, additionalData: aad, tagLength: group.tagSize };
        const run = crypto.subtle.decrypt(params, k, new Uint8Array([...ct, ...tag]));
        if (t.result === "valid") assert.equal(toHex(new Uint8Array(await run)), t.msg);
        else await assert.rejects(run);
      });
    }
  }
});

describe("Wycheproof RSA-OAEP SHA-256 MGF1-SHA-256", () => {
  for (const bits of [2048, 3072, 4096]) {
    const file = `rsa_oaep_${bits}_sha256_mgf1sha256_test.json`;
    const keys = new Map();
    const privateKey = (group) => {
      if (!keys.has(group)) {
        keys.set(
          group,
          crypto.subtle.importKey("pkcs8", hex(group.privateKeyPkcs8), { name: "RSA-OAEP", hash: "SHA-256" }, false, ["decrypt"]),
        );
      }
      return keys.get(group);
    };
    for (const { group, t } of cases(file)) {
      const name = `${bits} ${caseName(t.tcId, t)}`;
      if (t.label === "") {
        test(`suite wrapper (empty label): ${name}`, async () => {
          const run = sm.oaepDecrypt(await privateKey(group), hex(t.ct), crypto);
          if (t.result === "valid") assert.equal(toHex(await run), t.msg);
          else await assert.rejects(run, sm.AuthenticationFailedError);
        });
      } else {
        test(`WebCrypto directly (label, not the suite's parameters): ${name}`, async () => {
          const run = crypto.subtle.decrypt({ name: "RSA-OAEP", label: hex(t.label) }, await privateKey(group), hex(t.ct));
          if (t.result === "valid") assert.equal(toHex(new Uint8Array(await run)), t.msg);
          else await assert.rejects(run);
        });
      }
    }
  }
});

describe("Wycheproof RSA-PSS SHA-256 MGF1-SHA-256 salt 32", () => {
  for (const bits of [2048, 3072, 4096]) {
    const file = `rsa_pss_${bits}_sha256_mgf1_32_test.json`;
    const keys = new Map();
    const publicKey = (group) => {
      if (!keys.has(group)) keys.set(group, sm.importRsaSpki(hex(group.publicKeyDer), "sig", { crypto }));
      return keys.get(group);
    };
    for (const { group, t } of cases(file)) {
      assert.equal(group.sLen, 32);
      test(`suite wrapper: ${bits} ${caseName(t.tcId, t)}`, async () => {
        const run = sm.pssVerify(await publicKey(group), hex(t.sig), hex(t.msg), crypto);
        if (t.result === "valid") await run;
        else await assert.rejects(run, sm.AuthenticationFailedError);
      });
    }
  }
});

describe("Wycheproof HKDF-SHA-256", () => {
  for (const { t } of cases("hkdf_sha256_test.json")) {
    const [ikm, salt, info] = [t.ikm, t.salt, t.info].map(hex);
    if (t.size === 32) {
      test(`suite wrapper (32-byte output): ${caseName(t.tcId, t)}`, async () => {
        assert.equal(t.result, "valid");
        assert.equal(toHex(await sm.hkdfSha256(ikm, salt, info, crypto)), t.okm);
      });
    } else {
      test(`WebCrypto directly (${t.size}-byte output): ${caseName(t.tcId, t)}`, async () => {
        const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
        const run = crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, t.size * 8);
        if (t.result === "valid") assert.equal(toHex(new Uint8Array(await run)), t.okm);
        else await assert.rejects(run);
      });
    }
  }
});
