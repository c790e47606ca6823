// Bench only. The seed article's server as it behaves on the wire (see
// docs/performance.md, "Seed peer"): Express + socket.io 1.7; the client's
// RSA-2048 key pair is static (the page ships it); on connect the server sends
// a test message RSA-encrypted to the client's public key (node-rsa, OAEP with
// SHA-1), then a fresh random 32-byte AES key, base64, RSA-encrypted the same
// way; every client message is AES-256-CBC with a random 16-byte IV, sent as
// "<ciphertext base64>:<iv base64>", no MAC; the server answers each with a
// fixed AES-encrypted reply in the same format.
// Usage: node server.js PORT CLIENT_PUBLIC_KEY_PEM_FILE
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const http = require("http");
const express = require("express");
const NodeRSA = require("node-rsa");

const port = Number(process.argv[2]);
const clientKey = new NodeRSA(fs.readFileSync(process.argv[3], "utf8"), "pkcs8-public-pem", {
  encryptionScheme: "pkcs1_oaep",
});
const app = express();
app.get("/", (req, res) => res.send("seed peer"));
const server = http.createServer(app);
const io = require("socket.io")(server);

function aesEncrypt(key, text) {
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv("aes-256-cbc", key, iv);
  const ct = Buffer.concat([cipher.update(text, "utf8"), cipher.final()]);
  return ct.toString("base64") + ":" + iv.toString("base64");
}

function aesDecrypt(key, payload) {
  const [ct, iv] = String(payload).split(":");
  const decipher = crypto.createDecipheriv("aes-256-cbc", key, Buffer.from(iv, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(ct, "base64")), decipher.final()]).toString("utf8");
}

io.on("connection", (socket) => {
  socket.emit("test", clientKey.encrypt("test message from the server", "base64"));
  const aesKey = crypto.randomBytes(32);
  socket.emit("key", clientKey.encrypt(aesKey.toString("base64"), "base64"));
  socket.on("msg", (payload) => {
    try {
      aesDecrypt(aesKey, payload);
      socket.emit("reply", aesEncrypt(aesKey, "message received"));
    } catch (err) {
      socket.emit("reply", "error");
    }
  });
});
server.listen(port, "127.0.0.1", () => console.log("listening " + port));
