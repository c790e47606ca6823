// Interop with the Python core: the browser client's handshake and record
// layer against ServerHandshake + Session of securemsg/protocol, spawned as
// tests/js/py_server_peer.py.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import { clientModule, crypto, loadVectors, vectorKeysDocument } from "./helpers.mjs";
import { PYTHON_MISSING, PythonPeer } from "./peer.mjs";

const sm = await clientModule();
const V = loadVectors("securemsg1.json");
const OLD_PIN = V.keys.server_sig.fingerprint;
const ephemeral = await sm.generateEphemeralKey(crypto);
const peers = [];

after(() => Promise.all(peers.map((p) => p.close())));

function peer(flags) {
  const p = new PythonPeer(flags);
  peers.push(p);
  return p;
}

async function handshake(p, { document = vectorKeysDocument(V), pins = [OLD_PIN], user = "alice" } = {}) {
  const keySet = await sm.parseKeySet(document, crypto);
  const hs = new sm.ClientHandshake({ keySet, pins, clientKey: ephemeral, user, crypto });
  p.write(await hs.clientHello());
  const serverHello = await p.nextFrame();
  p.write(await hs.receiveServerHello(serverHello));
  const session = await hs.receiveReady(await p.nextFrame());
  return { hs, session };
}

async function roundTrip(p, session, message) {
  for (const frame of await session.seal(message)) p.write(frame);
  const got = await p.next();
  assert.equal(got.ctl, "got");
  return { got: got.message, reply: await session.open(await p.nextFrame()) };
}

describe("interop with the Python server core", { skip: PYTHON_MISSING }, () => {
  test("ephemeral key: RSA-OAEP-2048, private key non-extractable", async () => {
    assert.equal(ephemeral.privateKey.extractable, false);
    assert.equal(ephemeral.privateKey.algorithm.modulusLength, 2048);
    await assert.rejects(crypto.subtle.exportKey("pkcs8", ephemeral.privateKey));
    const spki = await sm.exportSpki(ephemeral.publicKey, crypto);
    await sm.importRsaSpki(spki, "enc", { crypto }); // the server's rules accept it
  });

  test("full handshake, records both ways, key update in each direction", async () => {
    const p = peer();
    const { hs, session } = await handshake(p);
    assert.equal(hs.serverHello.user, "alice");
    assert.equal(hs.signingKey.kid, "sig-2025-01");

    let { got, reply } = await roundTrip(p, session, { t: "ping", id: "p-1" });
    assert.deepEqual(got, { t: "ping", id: "p-1" });
    assert.deepEqual(reply, { t: "pong", id: "p-1" });

    const body = "Grüße, Bob! 👋 \u2028 \"quoted\" \\ \n";
    ({ got, reply } = await roundTrip(p, session, sm.sendRequest("id-1", "bob", body)));
    assert.equal(got.body, body);
    assert.equal(reply.t, "ack");
    assert.equal(reply.id, "id-1");

    // Client -> server key update: the Python side moves to epoch 1 too.
    p.write(await session.updateKeys());
    assert.equal(session.sendEpoch, 1);
    ({ got, reply } = await roundTrip(p, session, { t: "ping", id: "p-2" }));
    assert.deepEqual(reply, { t: "pong", id: "p-2" });

    // Server -> client key update.
    p.write({ ctl: "update" });
    assert.equal(await session.open(await p.nextFrame()), null);
    assert.equal(session.recvEpoch, 1);
    p.write({ ctl: "push", message: { t: "msg", mid: "m-9", from: "bob", to: "alice", body: "hi ✓", ts: "2025-01-01T00:00:00Z" } });
    assert.equal((await session.open(await p.nextFrame())).body, "hi ✓");

    // A second update each way, then traffic still flows.
    p.write(await session.updateKeys());
    p.write({ ctl: "update" });
    assert.equal(await session.open(await p.nextFrame()), null);
    ({ reply } = await roundTrip(p, session, { t: "ping", id: "p-3" }));
    assert.deepEqual(reply, { t: "pong", id: "p-3" });
    assert.equal(session.sendEpoch, 2);
    assert.equal(session.recvEpoch, 2);
  });

  test("automatic key update at the record limit is understood by the Python side", async () => {
    const p = peer();
    const keySet = await sm.parseKeySet(vectorKeysDocument(V), crypto);
    const hs = new sm.ClientHandshake({
      keySet,
      pins: [OLD_PIN],
      clientKey: ephemeral,
      crypto,
      sessionOptions: { updateAfterRecords: 3 },
    });
    p.write(await hs.clientHello());
    p.write(await hs.receiveServerHello(await p.nextFrame()));
    const session = await hs.receiveReady(await p.nextFrame());
    for (let i = 0; i < 5; i += 1) {
      const { reply } = await roundTrip(p, session, { t: "ping", id: `a-${i}` });
      assert.deepEqual(reply, { t: "pong", id: `a-${i}` });
    }
    assert.ok(session.sendEpoch >= 1);
  });

  test("a rotated signing key is accepted through the endorsement chain from the old pin", async () => {
    const p = peer(["--sig", "server_sig_next"]);
    const { hs } = await handshake(p, { document: vectorKeysDocument(V, { rotated: true }) });
    assert.equal(hs.signingKey.kid, "sig-2026-01");
  });

  test("unpinned signing key (no endorsement) is refused", async () => {
    const p = peer(["--sig", "server_sig_next"]);
    await assert.rejects(handshake(p, { document: vectorKeysDocument(V, { rotated: true, endorsed: false }) }), (err) => {
      assert.ok(err instanceof sm.UntrustedSigningKeyError);
      assert.equal(err.unknown, false);
      assert.equal(err.closeCode, 4410);
      return true;
    });
  });

  test("unknown sig_kid is reported as unknown (re-fetch keys.json once)", async () => {
    const p = peer(["--sig", "server_sig_next"]);
    await assert.rejects(handshake(p), (err) => err instanceof sm.UntrustedSigningKeyError && err.unknown === true);
  });

  test("tampered server signature fails with 4410", async () => {
    const p = peer(["--tamper-signature"]);
    await assert.rejects(handshake(p), (err) => err instanceof sm.AuthenticationFailedError && err.closeCode === 4410);
  });

  test("a server that authenticated another user is refused", async () => {
    const p = peer(["--user", "mallory"]);
    await assert.rejects(handshake(p, { user: "alice" }), sm.AuthenticationFailedError);
  });

  test("a wrong finished MAC makes the Python server close with 4410", async () => {
    const p = peer();
    const keySet = await sm.parseKeySet(vectorKeysDocument(V), crypto);
    const hs = new sm.ClientHandshake({ keySet, pins: [OLD_PIN], clientKey: ephemeral, crypto });
    p.write(await hs.clientHello());
    const finished = await hs.receiveServerHello(await p.nextFrame());
    const mac = sm.b64uDecode(finished.mac);
    mac[0] ^= 1;
    p.write({ ...finished, mac: sm.b64uEncode(mac) });
    assert.deepEqual(await p.nextFrame(), { ctl: "close", code: 4410, reason: "authentication_failed" });
  });

  test("a ready record that fails authentication ends the handshake with 4410", async () => {
    const p = peer(["--tamper-ready"]);
    await assert.rejects(handshake(p), (err) => err instanceof sm.AuthenticationFailedError);
  });

  test("a replayed server record is a sequencing fault (4409) and ends the session", async () => {
    const p = peer(["--replay-record"]);
    const { session } = await handshake(p);
    for (const frame of await session.seal({ t: "ping" })) p.write(frame);
    assert.deepEqual(await session.open(await p.nextFrame()), { t: "pong" });
    const replay = await p.nextFrame();
    await assert.rejects(session.open(replay), (err) => err instanceof sm.SequenceError && err.closeCode === 4409);
    await assert.rejects(session.open(replay), sm.UnexpectedMessageError);
  });

  test("an enc_kid the server does not know is answered 4412", async () => {
    const p = peer();
    const document = vectorKeysDocument(V);
    document.keys[1].kid = "enc-unknown";
    const keySet = await sm.parseKeySet(document, crypto);
    const hs = new sm.ClientHandshake({ keySet, pins: [OLD_PIN], clientKey: ephemeral, crypto });
    p.write(await hs.clientHello());
    assert.deepEqual(await p.nextFrame(), { ctl: "close", code: 4412, reason: "stale_key" });
  });
});
