// Bench only: load client of the seed peer. Handshake = connect until the first
// AES reply decrypts (test message and AES key RSA-decrypted with the static
// client key on the way); then sequential round trips on one connection.
// Usage: node client.js URL CLIENT_PRIVATE_KEY_PEM_FILE TRANSPORT HANDSHAKES CONCURRENCY ROUNDTRIPS SECONDS
// TRANSPORT: "websocket" (websocket only) or "default" (polling, then upgrade).
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const NodeRSA = require("node-rsa");
const ioClient = require("socket.io-client");

const [url, keyFile, transport, handshakesArg, concurrencyArg, roundTripsArg, secondsArg] =
  process.argv.slice(2);
const key = new NodeRSA(fs.readFileSync(keyFile, "utf8"), "pkcs8-private-pem", {
  encryptionScheme: "pkcs1_oaep",
});
const options = { forceNew: true, reconnection: false };
if (transport === "websocket") options.transports = ["websocket"];
const deadline = Date.now() + 1000 * Number(secondsArg);

function aesEncrypt(aesKey, text) {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-cbc", aesKey, iv);
  return Buffer.concat([cipher.update(text, "utf8"), cipher.final()]).toString("base64") + ":" + iv.toString("base64");
}

function aesDecrypt(aesKey, payload) {
  const [ct, iv] = String(payload).split(":");
  const d = crypto.createDecipheriv("aes-256-cbc", aesKey, Buffer.from(iv, "base64"));
  return Buffer.concat([d.update(Buffer.from(ct, "base64")), d.final()]).toString("utf8");
}

function connect() {
  return new Promise((resolve, reject) => {
    const socket = ioClient(url, options);
    let aesKey = null;
    const timer = setTimeout(() => reject(new Error("handshake timeout")), 20000);
    socket.on("test", (data) => key.decrypt(data, "utf8"));
    socket.on("key", (data) => {
      aesKey = Buffer.from(key.decrypt(data, "utf8"), "base64");
      socket.emit("msg", aesEncrypt(aesKey, "hello"));
    });
    socket.once("reply", (data) => {
      clearTimeout(timer);
      if (aesDecrypt(aesKey, data) !== "message received") reject(new Error("bad reply"));
      resolve({ socket, aesKey });
    });
    socket.on("connect_error", (err) => { clearTimeout(timer); reject(err); });
  });
}

async function handshakes(total, concurrency) {
  let issued = 0, done = 0, failed = 0;
  const start = process.hrtime.bigint();
  async function worker() {
    while (issued < total && Date.now() < deadline) {
      issued++;
      try {
        const { socket } = await connect();
        socket.close();
        done++;
      } catch (err) { failed++; }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { completed: done, failed, seconds, per_second: done / seconds };
}

async function roundTrips(n) {
  const { socket, aesKey } = await connect();
  const times = [];
  for (let i = 0; i < n && Date.now() < deadline; i++) {
    const start = process.hrtime.bigint();
    await new Promise((resolve) => {
      socket.once("reply", (data) => { aesDecrypt(aesKey, data); resolve(); });
      socket.emit("msg", aesEncrypt(aesKey, "ping " + i));
    });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  socket.close();
  return times;
}

(async () => {
  await handshakes(10, 2); // warm-up
  const hs = await handshakes(Number(handshakesArg), Number(concurrencyArg));
  const rt = await roundTrips(Number(roundTripsArg));
  console.log(JSON.stringify({ transport, handshakes: hs, round_trips_ms: rt }));
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });
