// Negative tests of the client modules: malformed encodings and frames,
// replayed and reordered records, tampered records, state violations, and
// the pin decision (unendorsed signing-key change refused).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { clientModule, crypto, hex, loadVectors, replayRandom, vectorClientKey, vectorKeysDocument } from "./helpers.mjs";

const sm = await clientModule();
const V = loadVectors("securemsg1.json");
const TH = hex(V.transcript.th_hex);
const I = V.inputs;
const OLD_PIN = V.keys.server_sig.fingerprint;
const NEW_PIN = V.keys.server_sig_next.fingerprint;

async function clientSession(options = {}) {
  const secrets = await sm.deriveHandshakeSecrets(hex(I.client_secret_hex), hex(I.server_secret_hex), TH, crypto);
  return sm.Session.create({ role: "client", th: TH, sessionId: hex(I.session_id_hex), secrets, crypto, ...options });
}

async function serverSession(options = {}) {
  const secrets = await sm.deriveHandshakeSecrets(hex(I.client_secret_hex), hex(I.server_secret_hex), TH, crypto);
  return sm.Session.create({ role: "server", th: TH, sessionId: hex(I.session_id_hex), secrets, crypto, ...options });
}

const s2c = V.records.filter((r) => r.direction === "s2c");

describe("strict base64url", () => {
  test("round trip of every length 0..70", () => {
    for (let n = 0; n < 70; n += 1) {
      const bytes = crypto.getRandomValues(new Uint8Array(n));
      const text = sm.b64uEncode(bytes);
      assert.equal(text, Buffer.from(bytes).toString("base64url"));
      assert.deepEqual(sm.b64uDecode(text), bytes);
    }
  });
  for (const [label, text] of [
    ["padded", "YQ=="],
    ["padded, full block", "YWI="],
    ["standard alphabet +", "a+b/"],
    ["standard alphabet /", "ab/c"],
    ["whitespace", "YW Jj"],
    ["newline", "YWJj\n"],
    ["length 1 mod 4", "YWJjZ"],
    ["non-zero trailing bits (2 chars)", "YR"],
    ["non-zero trailing bits (3 chars)", "YWJ"],
    ["non-ASCII", "YWJé"],
    ["astral", "YW😀"],
  ]) {
    test(`rejects ${label}`, () => {
      assert.throws(() => sm.b64uDecode(text), (err) => err instanceof sm.MalformedMessageError && err.closeCode === 4400);
    });
  }
  test("rejects non-strings", () => {
    for (const value of [null, 3, ["YQ"], undefined]) assert.throws(() => sm.b64uDecode(value), sm.MalformedMessageError);
  });
});

describe("frames and JSON", () => {
  test("duplicate keys, non-objects, oversize frames and bad UTF-8 are malformed", () => {
    for (const text of ['{"type":"rec","type":"rec"}', '{"a":{"b":1,"b":2}}', "[1]", "3", "nope", '{"a":1', "\ud800"]) {
      assert.throws(() => sm.decodeFrame(text), sm.MalformedMessageError, text);
    }
    assert.throws(() => sm.decodeFrame(`{"x":"${"a".repeat(65536)}"}`), sm.MalformedMessageError);
    assert.throws(() => sm.parseJsonObject(new Uint8Array([0x7b, 0xff, 0x7d]), { limit: 10 }), sm.MalformedMessageError);
    assert.deepEqual(sm.decodeFrame('{"a":[{"b":1},{"b":2}],"c":{"b":3}}'), { a: [{ b: 1 }, { b: 2 }], c: { b: 3 } });
    assert.deepEqual(sm.decodeFrame('{"a\\"b":1,"a\\\\":2}'), { 'a"b': 1, "a\\": 2 });
  });
});

describe("records", () => {
  test("a replayed record is a sequencing fault (4409) and ends the session", async () => {
    const session = await clientSession();
    await session.open(s2c[0].frame_text);
    await assert.rejects(session.open(s2c[0].frame_text), (err) => err instanceof sm.SequenceError && err.closeCode === 4409);
    await assert.rejects(session.open(s2c[1].frame_text), sm.UnexpectedMessageError);
  });

  test("a reordered record is a sequencing fault (4409)", async () => {
    const session = await clientSession();
    await assert.rejects(session.open(s2c[1].frame_text), sm.SequenceError);
  });

  test("a record with a right seq but tampered ct, a short ct, or a moved seq fails authentication (4410)", async () => {
    const ct = sm.b64uDecode(s2c[0].frame.ct);
    ct[ct.length - 1] ^= 1;
    for (const frame of [
      { type: "rec", seq: 0, ct: sm.b64uEncode(ct) },
      { type: "rec", seq: 0, ct: sm.b64uEncode(new Uint8Array(15)) },
      { type: "rec", seq: 0, ct: "" },
    ]) {
      const session = await clientSession();
      await assert.rejects(session.open(JSON.stringify(frame)), (err) => err instanceof sm.AuthenticationFailedError && err.closeCode === 4410);
    }
  });

  test("reflection: a record we sent does not open in our own receive direction", async () => {
    const session = await clientSession();
    const [frame] = await session.seal({ t: "ping" });
    await assert.rejects(session.open(frame), sm.AuthenticationFailedError);
  });

  test("malformed record frames are 4400", async () => {
    for (const frame of [
      { type: "rec", seq: "0", ct: s2c[0].frame.ct },
      { type: "rec", seq: 0.5, ct: s2c[0].frame.ct },
      { type: "rec", seq: 0, ct: `${s2c[0].frame.ct}=` },
      { type: "rec", seq: 0 },
      { type: "server_hello", seq: 0, ct: s2c[0].frame.ct },
    ]) {
      const session = await clientSession();
      await assert.rejects(session.open(JSON.stringify(frame)), (err) => err.closeCode === 4400, JSON.stringify(frame));
    }
  });

  test("the receiver rejects a record whose index in its epoch reaches the limit", async () => {
    const server = await serverSession({ updateAfterRecords: 2 });
    const client = await clientSession({ maxRecordsPerEpoch: 3, updateAfterRecords: 2 });
    // The sender updates in time: no error.
    for (let i = 0; i < 6; i += 1) {
      for (const frame of await server.seal({ t: "pong", id: `${i}` })) {
        await client.open(JSON.stringify(frame));
      }
    }
    const strict = await clientSession({ maxRecordsPerEpoch: 2, updateAfterRecords: 1 });
    const sender = await serverSession({ updateAfterRecords: 1000 });
    const frames = [];
    for (let i = 0; i < 3; i += 1) frames.push(...(await sender.seal({ t: "pong" })));
    await strict.open(frames[0]);
    await strict.open(frames[1]);
    await assert.rejects(strict.open(frames[2]), sm.SequenceError);
  });

  test("the sender updates at index updateAfterRecords - 1 and after the epoch's age", async () => {
    let now = 0;
    const client = await clientSession({ updateAfterRecords: 3, now: () => now });
    const counts = [];
    for (let i = 0; i < 4; i += 1) counts.push((await client.seal({ t: "ping" })).length);
    assert.deepEqual(counts, [1, 1, 2, 1]);
    assert.equal(client.sendEpoch, 1);
    now = 3600;
    assert.equal((await client.seal({ t: "ping" })).length, 2);
    assert.equal(client.sendEpoch, 2);
  });

  test("concurrent seals produce frames in seq order", async () => {
    const client = await clientSession();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => client.seal({ t: "ping", id: `${i}` })));
    assert.deepEqual(results.flat().map((f) => f.seq), Array.from({ length: 20 }, (_, i) => i));
    const server = await serverSession();
    for (const frame of results.flat()) assert.equal((await server.open(frame)).t, "ping");
  });

  test("plaintext above 32,768 bytes is refused before sealing", async () => {
    const client = await clientSession();
    await assert.rejects(client.seal({ t: "send", id: "x", to: "bob", body: "a".repeat(33000) }), RangeError);
  });
});

describe("handshake", () => {
  async function clientHandshake(options = {}) {
    const keySet = await sm.parseKeySet(vectorKeysDocument(V), crypto);
    const hs = new sm.ClientHandshake({
      keySet,
      pins: [OLD_PIN],
      clientKey: await vectorClientKey(V),
      user: I.user,
      crypto,
      random: replayRandom(I.client_nonce_hex, I.client_secret_hex),
      ...options,
    });
    await hs.clientHello();
    hs._hello.wrappedClientSecret = hex(V.wrapped_client_secret_hex);
    return hs;
  }
  const hello = () => structuredClone(V.frames.server_hello.frame);

  test("tampered signature, nonce or wrapped secret: 4410", async () => {
    for (const field of ["signature", "server_nonce", "wrapped_server_secret", "session_id"]) {
      const frame = hello();
      const bytes = sm.b64uDecode(frame[field]);
      bytes[bytes.length - 1] ^= 1;
      frame[field] = sm.b64uEncode(bytes);
      const hs = await clientHandshake();
      await assert.rejects(hs.receiveServerHello(frame), (err) => err instanceof sm.AuthenticationFailedError, field);
      assert.equal(hs.state, "failed");
    }
  });

  test("another user than expected: 4410", async () => {
    const hs = await clientHandshake({ user: "bob" });
    await assert.rejects(hs.receiveServerHello(V.frames.server_hello.frame_text), sm.AuthenticationFailedError);
  });

  test("unpinned signing key: UntrustedSigningKeyError", async () => {
    const hs = await clientHandshake({ pins: [NEW_PIN] });
    await assert.rejects(hs.receiveServerHello(V.frames.server_hello.frame_text), (err) => err instanceof sm.UntrustedSigningKeyError && !err.unknown);
  });

  test('mistyped v ("1") is 4400, unsupported v or suite is 4426, padded fields 4400', async () => {
    const cases = [
      [{ v: "1" }, 4400],
      [{ v: 2 }, 4426],
      [{ suite: "SM2" }, 4426],
      [{ server_nonce: `${hello().server_nonce}=` }, 4400],
      [{ session_id: sm.b64uEncode(new Uint8Array(15)) }, 4400],
      [{ type: "client_hello" }, 4400],
      [{ user: "" }, 4400],
    ];
    for (const [change, code] of cases) {
      const hs = await clientHandshake();
      await assert.rejects(hs.receiveServerHello({ ...hello(), ...change }), (err) => err.closeCode === code, JSON.stringify(change));
    }
  });

  test("messages out of order are 4400 and the handshake stays dead", async () => {
    const hs = await clientHandshake();
    await assert.rejects(hs.receiveReady(V.records[0].frame_text), sm.UnexpectedMessageError);
    await assert.rejects(hs.receiveServerHello(V.frames.server_hello.frame_text), sm.UnexpectedMessageError);
  });

  test("a ready record naming another session is malformed", async () => {
    const hs = await clientHandshake();
    await hs.receiveServerHello(V.frames.server_hello.frame_text);
    // Re-seal a ready with a wrong session under the real s2c key.
    const server = await serverSession();
    const [frame] = await server.seal({ t: "ready", session: "AAAAAAAAAAAAAAAAAAAAAA" });
    await assert.rejects(hs.receiveReady(frame), sm.MalformedMessageError);
  });
});

describe("keys.json and pins", () => {
  test("a fingerprint that does not match its SPKI, a bad alg, a duplicate kid: malformed", async () => {
    const mutations = [
      (d) => (d.keys[0].fingerprint = NEW_PIN),
      (d) => (d.keys[0].alg = "RSA-OAEP-SHA256"),
      (d) => d.keys.push({ ...d.keys[0] }),
      (d) => (d.keys[0].spki = `${d.keys[0].spki}=`),
      (d) => (d.keys[0].state = "disabled"),
      (d) => (d.endorsements = null),
    ];
    for (const mutate of mutations) {
      const document = vectorKeysDocument(V);
      mutate(document);
      await assert.rejects(sm.parseKeySet(document, crypto), sm.MalformedMessageError, mutate.toString());
    }
    await assert.rejects(sm.parseKeySet({ ...vectorKeysDocument(V), version: 2 }, crypto), sm.UnsupportedVersionError);
  });

  test("first use pins the active signing key", async () => {
    const keySet = await sm.parseKeySet(vectorKeysDocument(V), crypto);
    const decision = await sm.decideTrust(keySet, []);
    assert.deepEqual(decision.pins, [OLD_PIN]);
    assert.equal(decision.firstUse, true);
    assert.equal(decision.trusted, true);
  });

  test("an endorsed rotation is accepted and the new key is added to the pins", async () => {
    const keySet = await sm.parseKeySet(vectorKeysDocument(V, { rotated: true }), crypto);
    const decision = await sm.decideTrust(keySet, [OLD_PIN]);
    assert.equal(decision.trusted, true);
    assert.deepEqual(decision.pins, [OLD_PIN, NEW_PIN]);
  });

  test("an unendorsed signing-key change is refused", async () => {
    const keySet = await sm.parseKeySet(vectorKeysDocument(V, { rotated: true, endorsed: false }), crypto);
    const decision = await sm.decideTrust(keySet, [OLD_PIN]);
    assert.equal(decision.trusted, false);
    assert.deepEqual(decision.pins, [OLD_PIN]);
  });

  test("an endorsement whose by_spki is not trusted does not count, even if by names a trusted kid", async () => {
    const document = vectorKeysDocument(V, { rotated: true });
    // Endorsement signed by the right key but claiming another by_spki fails;
    // one with an untrusted by_spki is ignored.
    document.endorsements = [{ ...document.endorsements[0], by_spki: document.keys[2].spki }];
    const keySet = await sm.parseKeySet(document, crypto);
    assert.equal((await sm.decideTrust(keySet, [OLD_PIN])).trusted, false);
  });

  test("pins are stored per origin and invalid entries are ignored", () => {
    const store = new Map();
    const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
    assert.deepEqual(sm.loadPins(storage, "https://a.example"), []);
    assert.equal(sm.savePins(storage, "https://a.example", [OLD_PIN]), true);
    assert.deepEqual(sm.loadPins(storage, "https://a.example"), [OLD_PIN]);
    assert.deepEqual(sm.loadPins(storage, "https://b.example"), []);
    store.set(sm.pinStorageKey("https://c.example"), JSON.stringify({ fingerprints: ["XYZ", OLD_PIN] }));
    assert.deepEqual(sm.loadPins(storage, "https://c.example"), [OLD_PIN]);
    store.set(sm.pinStorageKey("https://d.example"), "{not json");
    assert.deepEqual(sm.loadPins(storage, "https://d.example"), []);
    const broken = { getItem: () => { throw new Error("denied"); }, setItem: () => { throw new Error("denied"); } };
    assert.deepEqual(sm.loadPins(broken, "https://a.example"), []);
    assert.equal(sm.savePins(broken, "https://a.example", [OLD_PIN]), false);
  });

  test("fingerprint grouping for people", () => {
    assert.equal(sm.groupFingerprint(OLD_PIN).split(" ").length, 16);
    assert.equal(sm.groupFingerprint(OLD_PIN).replaceAll(" ", ""), OLD_PIN);
  });
});
