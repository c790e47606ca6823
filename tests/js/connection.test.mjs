// The page's connection manager (static/js/securemsg/connection.mjs) against
// the Python server core, through a fake WebSocket whose far end is
// tests/js/py_server_peer.py (one peer process per connection).
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import { clientModule, crypto, loadVectors, vectorKeysDocument } from "./helpers.mjs";
import { PYTHON_MISSING, PythonPeer } from "./peer.mjs";

const { SecureConnection } = await clientModule("connection.mjs");
const sm = await clientModule();
const V = loadVectors("securemsg1.json");
const ORIGIN = "https://chat.test";
const OLD_PIN = V.keys.server_sig.fingerprint;
const peers = [];
const connections = [];
after(() => {
  for (const conn of connections) conn.stop();
  return Promise.all(peers.map((p) => p.close()));
});

/** A WebSocket look-alike; `plan` gives the peer flags of each new connection. */
function fakeWebSocketClass(plan) {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.got = [];
      this.closedWith = null;
      const flags = plan.length > 1 ? plan.shift() : plan[0];
      this.peer = new PythonPeer(flags);
      peers.push(this.peer);
      sockets.push(this);
      setTimeout(() => this.onopen?.({}), 0);
      this.pump();
    }

    async pump() {
      for (;;) {
        let line;
        try {
          line = await this.peer.nextLine(60000);
        } catch {
          return;
        }
        const obj = JSON.parse(line);
        if (this.closedWith !== null) return;
        if (obj.ctl === "got") this.got.push(obj.message);
        else if (obj.ctl === "close") this.serverClose(obj.code);
        else this.onmessage?.({ data: line });
      }
    }

    send(text) {
      if (this.closedWith !== null) throw new Error("socket closed");
      this.peer.write(text);
    }

    /** The client closes. */
    close(code) {
      if (this.closedWith !== null) return;
      this.closedWith = code ?? 1000;
      this.peer.close();
      setTimeout(() => this.onclose?.({ code: this.closedWith }), 0);
    }

    /** The server (or the network) closes. */
    serverClose(code) {
      if (this.closedWith !== null) return;
      this.closedWith = code;
      this.peer.close();
      this.onclose?.({ code });
    }
  }
  return { FakeWebSocket, sockets };
}

function memoryStorage(initial = {}) {
  const store = new Map(Object.entries(initial));
  return { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), store };
}

function makeConnection({ plan = [[]], document = vectorKeysDocument(V), storage = memoryStorage(), fetchDocument } = {}) {
  const { FakeWebSocket, sockets } = fakeWebSocketClass(plan);
  const fetches = [];
  const fetch = async (url, init) => {
    fetches.push({ url, init });
    return { ok: true, status: 200, json: async () => structuredClone(fetchDocument) };
  };
  const conn = new SecureConnection({
    url: "wss://chat.test/ws/securemsg/",
    keysDocument: document,
    origin: ORIGIN,
    user: "alice",
    storage,
    crypto,
    WebSocket: FakeWebSocket,
    fetch,
    timing: { initialMs: 20, maxMs: 200, pingIntervalMs: 60000 },
  });
  connections.push(conn);
  const log = { status: [], outgoing: [], message: [], keys: [], keywarning: [], receipt: [] };
  for (const type of Object.keys(log)) conn.addEventListener(type, (e) => log[type].push(e.detail));
  return { conn, sockets, log, fetches, storage };
}

function waitFor(predicate, timeout = 15000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      const value = predicate();
      if (value) resolve(value);
      else if (Date.now() - started > timeout) reject(new Error("timed out waiting"));
      else setTimeout(check, 10);
    };
    check();
  });
}

const pinned = () => memoryStorage({ [sm.pinStorageKey(ORIGIN)]: JSON.stringify({ fingerprints: [OLD_PIN] }) });

describe("SecureConnection", { skip: PYTHON_MISSING }, () => {
  test("connects, pins on first use, and tracks sent -> stored -> delivered; answers delivered", async () => {
    const { conn, sockets, log, storage } = makeConnection({ plan: [["--echo"]] });
    await conn.start();
    await waitFor(() => conn.status.state === "secure");
    assert.deepEqual(log.status.map((s) => s.state), ["connecting", "secure"]);
    assert.ok(storage.store.get(sm.pinStorageKey(ORIGIN)).includes(OLD_PIN));
    assert.deepEqual(log.keys.at(-1), { fingerprint: OLD_PIN, kid: "sig-2025-01", verified: true });

    const id = conn.send("bob", "hello bob ✓");
    assert.match(id, /^[0-9a-f-]{36}$/);
    await waitFor(() => log.outgoing.some((o) => o.state === "delivered"));
    assert.deepEqual(log.outgoing.map((o) => o.state), ["sent", "stored", "delivered"]);
    assert.equal(log.outgoing[1].mid, "m-1");
    await waitFor(() => log.message.length === 1);
    assert.deepEqual(log.message[0].body, "echo: hello bob ✓");
    // The echo is addressed to us: the client answers {"t":"delivered","mid"}.
    await waitFor(() => sockets[0].got.some((m) => m.t === "delivered"));
    assert.deepEqual(sockets[0].got.find((m) => m.t === "delivered"), { t: "delivered", mid: "e-m-1" });

    // A redelivered mid is answered again but shown once.
    const again = { t: "msg", mid: "e-m-1", from: "bob", to: "alice", body: "echo: hello bob ✓", ts: "2025-01-01T00:00:00Z" };
    sockets[0].peer.write({ ctl: "push", message: again });
    await waitFor(() => sockets[0].got.filter((m) => m.t === "delivered").length === 2);
    assert.equal(log.message.length, 1);

    const page = await conn.history("bob", { limit: 10 });
    assert.equal(page.with, "bob");
    assert.equal(page.messages[0].mid, "m-1");
    conn.stop();
  });

  test("unacknowledged messages are resent with the same id after a reconnect", async () => {
    const { conn, sockets, log } = makeConnection({ plan: [["--no-ack"], []] });
    await conn.start();
    await waitFor(() => conn.status.state === "secure");
    const id = conn.send("bob", "survives a reconnect");
    await waitFor(() => sockets[0].got.some((m) => m.t === "send"));
    sockets[0].serverClose(1006); // the server went away
    await waitFor(() => sockets.length === 2 && conn.status.state === "secure");
    await waitFor(() => log.outgoing.some((o) => o.state === "stored"));
    const resent = sockets[1].got.find((m) => m.t === "send");
    assert.equal(resent.id, id);
    assert.equal(resent.body, "survives a reconnect");
    assert.deepEqual(log.status.map((s) => s.state), ["connecting", "secure", "reconnecting", "secure"]);
    conn.stop();
  });

  test("an unendorsed signing-key change is refused before connecting", async () => {
    const { conn, sockets, log } = makeConnection({
      document: vectorKeysDocument(V, { rotated: true, endorsed: false }),
      storage: pinned(),
    });
    await conn.start();
    assert.equal(conn.status.state, "failed");
    assert.match(conn.status.reason, /not trusted/);
    assert.equal(log.keywarning.length, 1);
    assert.equal(sockets.length, 0);
  });

  test("an endorsed rotation is accepted from the embedded key set", async () => {
    const { conn, log, storage } = makeConnection({
      plan: [["--sig", "server_sig_next"]],
      document: vectorKeysDocument(V, { rotated: true }),
      storage: pinned(),
    });
    await conn.start();
    await waitFor(() => conn.status.state === "secure");
    assert.equal(log.keys.at(-1).kid, "sig-2026-01");
    assert.ok(storage.store.get(sm.pinStorageKey(ORIGIN)).includes(V.keys.server_sig_next.fingerprint));
    conn.stop();
  });

  test("an unknown sig_kid re-fetches keys.json once (no-store) and reconnects", async () => {
    const { conn, fetches, sockets } = makeConnection({
      plan: [["--sig", "server_sig_next"]],
      storage: pinned(),
      fetchDocument: vectorKeysDocument(V, { rotated: true }),
    });
    await conn.start();
    await waitFor(() => conn.status.state === "secure");
    assert.equal(fetches.length, 1);
    assert.deepEqual(fetches[0], { url: "/.well-known/securemsg/keys.json", init: { cache: "no-store", credentials: "same-origin" } });
    assert.equal(sockets[0].closedWith, 4410);
    assert.equal(sockets.length, 2);
    conn.stop();
  });

  test("4412 re-fetches keys.json once, then gives up", async () => {
    const stale = vectorKeysDocument(V);
    stale.keys[1].kid = "enc-old";
    const { conn, fetches, log } = makeConnection({ document: stale, fetchDocument: stale });
    await conn.start();
    await waitFor(() => conn.status.state === "failed");
    assert.equal(fetches.length, 1);
    assert.match(log.status.at(-1).reason, /stale/);
  });

  test("a tampered server signature fails with 4410 and no reconnect", async () => {
    const { conn, sockets } = makeConnection({ plan: [["--tamper-signature"]] });
    await conn.start();
    await waitFor(() => conn.status.state === "failed");
    assert.equal(conn.status.reason, "server authentication failed");
    assert.equal(sockets[0].closedWith, 4410);
    assert.equal(sockets.length, 1);
  });

  test("a replayed record closes with 4409 and the client reconnects", async () => {
    const { conn, sockets } = makeConnection({ plan: [["--replay-record"], []] });
    await conn.start();
    await waitFor(() => conn.status.state === "secure");
    await conn.history("bob").catch(() => undefined);
    await waitFor(() => sockets.length === 2 && conn.status.state === "secure");
    assert.equal(sockets[0].closedWith, 4409);
    conn.stop();
  });

  test("4401 (signed out) is final", async () => {
    const { conn, sockets } = makeConnection();
    await conn.start();
    await waitFor(() => conn.status.state === "secure");
    sockets[0].serverClose(4401);
    assert.deepEqual(conn.status, { state: "failed", reason: "signed out" });
  });

  test("an idle client pings", async () => {
    const { conn, sockets } = makeConnection();
    conn._timing.pingIntervalMs = 50;
    await conn.start();
    await waitFor(() => conn.status.state === "secure");
    await waitFor(() => sockets[0].got.some((m) => m.t === "ping"));
    conn.stop();
  });
});
