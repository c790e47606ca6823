// Recompute or verify every value of tests/vectors/securemsg1.json with the
// browser client's modules (the Python core checks the same file).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  clientModule,
  crypto,
  hex,
  importPrivate,
  loadVectors,
  replayRandom,
  toHex,
  vectorClientKey,
  vectorKeysDocument,
} from "./helpers.mjs";

const sm = await clientModule();
const V = loadVectors("securemsg1.json");
const TH = hex(V.transcript.th_hex);
const I = V.inputs;

function transcriptInputs() {
  return {
    clientKey: hex(V.keys.client.spki_hex),
    clientNonce: hex(I.client_nonce_hex),
    encKid: I.enc_kid,
    wrappedClientSecret: hex(V.wrapped_client_secret_hex),
    serverNonce: hex(I.server_nonce_hex),
    sessionId: hex(I.session_id_hex),
    sigKid: I.sig_kid,
    wrappedServerSecret: hex(V.wrapped_server_secret_hex),
    user: I.user,
  };
}

describe("securemsg1.json", () => {
  test("format and suite", () => {
    assert.equal(V.version, 1);
    assert.equal(V.suite, sm.SUITE);
    assert.match(V.description, /_hex/);
  });

  for (const name of ["server_sig", "server_sig_next", "server_enc", "client"]) {
    test(`key ${name}: SPKI imports under the suite rules and the fingerprint matches`, async () => {
      const entry = V.keys[name];
      const spki = hex(entry.spki_hex);
      const key = await sm.importRsaSpki(spki, name === "server_sig" || name === "server_sig_next" ? "sig" : "enc", { crypto });
      assert.equal(key.algorithm.modulusLength, entry.bits);
      assert.equal(await sm.fingerprint(spki, crypto), entry.fingerprint);
      // The test PKCS#8 key belongs to the published SPKI.
      const priv = await crypto.subtle.importKey(
        "pkcs8",
        Buffer.from(entry.pkcs8_pem.replace(/-----[^-]+-----|\s/g, ""), "base64"),
        { name: "RSA-PSS", hash: "SHA-256" },
        true,
        ["sign"],
      );
      const jwk = await crypto.subtle.exportKey("jwk", priv);
      const pubJwk = await crypto.subtle.exportKey("jwk", key);
      assert.equal(jwk.n, pubJwk.n);
    });
  }

  test("transcript fields, encoding and TH", async () => {
    const fields = sm.transcriptFields(transcriptInputs());
    assert.deepEqual(
      fields.map(([name]) => name),
      V.transcript.fields.map((f) => f.name),
    );
    assert.deepEqual(
      fields.map(([, value]) => toHex(value)),
      V.transcript.fields.map((f) => f.hex),
    );
    assert.equal(toHex(sm.transcriptBytes(transcriptInputs())), V.transcript.input_hex);
    assert.equal(toHex(await sm.transcriptHash(transcriptInputs(), crypto)), V.transcript.th_hex);
  });

  test("wrapped secrets decrypt to the inputs (RSA-OAEP-SHA256, test PKCS#8 keys)", async () => {
    const alg = { name: "RSA-OAEP", hash: "SHA-256" };
    const enc = await importPrivate(V.keys.server_enc.pkcs8_pem, alg, ["decrypt"]);
    const client = await importPrivate(V.keys.client.pkcs8_pem, alg, ["decrypt"]);
    assert.equal(toHex(await sm.oaepDecrypt(enc, hex(V.wrapped_client_secret_hex), crypto)), I.client_secret_hex);
    assert.equal(toHex(await sm.oaepDecrypt(client, hex(V.wrapped_server_secret_hex), crypto)), I.server_secret_hex);
  });

  test("key schedule: epoch-0 secrets, finished key, epoch keys, update", async () => {
    const s = V.schedule;
    assert.equal(I.client_secret_hex + I.server_secret_hex, s.ikm_hex);
    const secrets = await sm.deriveHandshakeSecrets(hex(I.client_secret_hex), hex(I.server_secret_hex), TH, crypto);
    assert.equal(toHex(secrets.c2s), s.c2s_secret_0_hex);
    assert.equal(toHex(secrets.s2c), s.s2c_secret_0_hex);
    assert.equal(toHex(secrets.finishedKey), s.finished_key_hex);
    assert.equal(toHex(await sm.epochKey(secrets.c2s, TH, crypto)), s.c2s_key_0_hex);
    assert.equal(toHex(await sm.epochKey(secrets.s2c, TH, crypto)), s.s2c_key_0_hex);
    const c2s1 = await sm.nextEpochSecret(secrets.c2s, TH, crypto);
    assert.equal(toHex(c2s1), s.c2s_secret_1_hex);
    assert.equal(toHex(await sm.epochKey(c2s1, TH, crypto)), s.c2s_key_1_hex);
  });

  test("finished MAC and the client_finished frame", async () => {
    const mac = await sm.finishedMac(hex(V.schedule.finished_key_hex), TH, crypto);
    assert.equal(toHex(mac), V.finished_mac_hex);
    await sm.hmacSha256Verify(hex(V.schedule.finished_key_hex), TH, mac, crypto);
    const frame = V.frames.client_finished;
    assert.deepEqual(frame.frame, { type: "client_finished", mac: sm.b64uEncode(mac) });
    assert.equal(sm.encodeJson(frame.frame), frame.frame_text);
  });

  test("server signature verifies over TH (RSA-PSS-SHA256, salt 32)", async () => {
    const key = await sm.importRsaSpki(hex(V.keys.server_sig.spki_hex), "sig", { crypto });
    await sm.pssVerify(key, hex(V.signature_hex), TH, crypto);
    const flipped = hex(V.signature_hex);
    flipped[10] ^= 1;
    await assert.rejects(sm.pssVerify(key, flipped, TH, crypto), sm.AuthenticationFailedError);
  });

  test("handshake frames carry the vector values and encode byte for byte", () => {
    for (const name of ["client_hello", "server_hello", "client_finished"]) {
      const { frame, frame_text: text } = V.frames[name];
      assert.equal(sm.encodeJson(frame), text, name);
      assert.deepEqual(sm.decodeFrame(text), frame);
    }
    const hello = V.frames.client_hello.frame;
    assert.equal(toHex(sm.b64uDecode(hello.client_key)), V.keys.client.spki_hex);
    assert.equal(toHex(sm.b64uDecode(hello.client_nonce)), I.client_nonce_hex);
    assert.equal(toHex(sm.b64uDecode(hello.wrapped_client_secret)), V.wrapped_client_secret_hex);
    const server = V.frames.server_hello.frame;
    assert.equal(toHex(sm.b64uDecode(server.server_nonce)), I.server_nonce_hex);
    assert.equal(toHex(sm.b64uDecode(server.session_id)), I.session_id_hex);
    assert.equal(toHex(sm.b64uDecode(server.wrapped_server_secret)), V.wrapped_server_secret_hex);
    assert.equal(toHex(sm.b64uDecode(server.signature)), V.signature_hex);
    assert.equal(server.user, I.user);
    assert.equal(server.sig_kid, I.sig_kid);
  });

  for (const record of V.records) {
    test(`record ${record.direction} seq ${record.seq} epoch ${record.epoch}: nonce, AAD, AES-GCM`, async () => {
      const direction = record.direction === "c2s" ? sm.DIRECTION_C2S : sm.DIRECTION_S2C;
      const sessionId = hex(I.session_id_hex);
      assert.equal(toHex(sm.recordNonce(direction, record.seq)), record.nonce_hex);
      assert.equal(toHex(sm.recordAad(sessionId, direction, record.seq, record.epoch)), record.aad_hex);
      assert.equal(toHex(new TextEncoder().encode(record.plaintext)), record.plaintext_hex);
      assert.equal(toHex(sm.encodeJsonBytes(JSON.parse(record.plaintext))), record.plaintext_hex);
      const ct = await sm.aeadSeal(hex(record.key_hex), hex(record.nonce_hex), hex(record.plaintext_hex), hex(record.aad_hex), crypto);
      assert.equal(toHex(ct), record.ct_hex);
      const pt = await sm.aeadOpen(hex(record.key_hex), hex(record.nonce_hex), ct, hex(record.aad_hex), crypto);
      assert.equal(toHex(pt), record.plaintext_hex);
      assert.deepEqual(record.frame, { type: "rec", seq: record.seq, ct: sm.b64uEncode(ct) });
      assert.equal(sm.encodeJson(record.frame), record.frame_text);
    });
  }

  test("endorsement: message bytes and signature by the older key", async () => {
    const e = V.endorsement;
    assert.equal(toHex(await sm.endorsementMessage(hex(e.endorsed_spki_hex), crypto)), e.message_hex);
    assert.equal(toHex(sm.b64uDecode(e.entry.sig)), e.sig_hex);
    assert.equal(toHex(sm.b64uDecode(e.entry.by_spki)), V.keys.server_sig.spki_hex);
    const endorsement = { kid: e.entry.kid, by: e.entry.by, bySpki: sm.b64uDecode(e.entry.by_spki), sig: hex(e.sig_hex) };
    assert.equal(await sm.verifyEndorsement(endorsement, hex(e.endorsed_spki_hex), crypto), true);
    assert.equal(await sm.verifyEndorsement(endorsement, hex(V.keys.server_enc.spki_hex), crypto), false);
  });

  test("key set: the rotated signing key chains from the old pin through the endorsement", async () => {
    const keySet = await sm.parseKeySet(vectorKeysDocument(V, { rotated: true }), crypto);
    const trusted = await keySet.trustedFingerprints([V.keys.server_sig.fingerprint]);
    assert.ok(trusted.has(V.keys.server_sig_next.fingerprint));
    const unendorsed = await sm.parseKeySet(vectorKeysDocument(V, { rotated: true, endorsed: false }), crypto);
    assert.equal(await unendorsed.trustedSigningKey("sig-2026-01", [V.keys.server_sig.fingerprint]), null);
  });

  test("client handshake replays the vector transcript and its records", async () => {
    const keySet = await sm.parseKeySet(vectorKeysDocument(V), crypto);
    const hs = new sm.ClientHandshake({
      keySet,
      pins: [V.keys.server_sig.fingerprint],
      clientKey: await vectorClientKey(V),
      user: I.user,
      crypto,
      random: replayRandom(I.client_nonce_hex, I.client_secret_hex),
    });
    const hello = await hs.clientHello();
    const expected = V.frames.client_hello.frame;
    for (const name of ["type", "v", "suite", "client_key", "client_nonce", "enc_kid"]) {
      assert.equal(hello[name], expected[name], name);
    }
    // OAEP is randomised: our wrap must decrypt to client_secret; the
    // transcript then replays with the vector's wrapped value.
    const enc = await importPrivate(V.keys.server_enc.pkcs8_pem, { name: "RSA-OAEP", hash: "SHA-256" }, ["decrypt"]);
    assert.equal(toHex(await sm.oaepDecrypt(enc, sm.b64uDecode(hello.wrapped_client_secret), crypto)), I.client_secret_hex);
    hs._hello.wrappedClientSecret = hex(V.wrapped_client_secret_hex);

    const finished = await hs.receiveServerHello(V.frames.server_hello.frame_text);
    assert.equal(sm.encodeJson(finished), V.frames.client_finished.frame_text);
    const [ready, send, ack, update, ping] = V.records;
    const session = await hs.receiveReady(ready.frame_text);
    assert.equal(hs.state, "done");

    assert.deepEqual(await session.seal(JSON.parse(send.plaintext)), [send.frame]);
    assert.deepEqual(await session.open(ack.frame_text), JSON.parse(ack.plaintext));
    assert.deepEqual(await session.updateKeys(), update.frame);
    assert.equal(session.sendEpoch, 1);
    assert.deepEqual(await session.seal(JSON.parse(ping.plaintext)), [ping.frame]);
  });

  test("a server-role session opens the client's records, including the key update", async () => {
    const secrets = await sm.deriveHandshakeSecrets(hex(I.client_secret_hex), hex(I.server_secret_hex), TH, crypto);
    const server = await sm.Session.create({ role: "server", th: TH, sessionId: hex(I.session_id_hex), secrets, crypto });
    const c2s = V.records.filter((r) => r.direction === "c2s");
    assert.deepEqual(await server.open(c2s[0].frame_text), JSON.parse(c2s[0].plaintext));
    assert.equal(await server.open(c2s[1].frame_text), null); // update
    assert.equal(server.recvEpoch, 1);
    assert.deepEqual(await server.open(c2s[2].frame_text), JSON.parse(c2s[2].plaintext));
    const s2c = V.records.filter((r) => r.direction === "s2c");
    for (const r of s2c) assert.deepEqual(await server.seal(JSON.parse(r.plaintext)), [r.frame]);
  });
});
