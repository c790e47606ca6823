/**
 * Client side of the securemsg/1 handshake (protocol.md, "Handshake";
 * mirrors ClientHandshake in protocol/_handshake.py). The object moves
 * through its states once; a message in the wrong state, or any call after
 * an error, throws UnexpectedMessageError (4400).
 * @module securemsg/handshake
 */

import { b64uEncode } from "./b64.mjs";
import { NONCE_SIZE, SECRET_SIZE } from "./constants.mjs";
import {
  AuthenticationFailedError,
  MalformedMessageError,
  UnexpectedMessageError,
  UntrustedSigningKeyError,
} from "./errors.mjs";
import { clientFinishedFrame, clientHelloFrame, decodeFrame, parseServerHello } from "./messages.mjs";
import { exportSpki, oaepDecrypt, oaepEncrypt, pssVerify, randomBytes } from "./primitives.mjs";
import { Session } from "./records.mjs";
import { deriveHandshakeSecrets, finishedMac } from "./schedule.mjs";
import { transcriptHash } from "./transcript.mjs";

const State = Object.freeze({
  START: "start",
  WAIT_SERVER_HELLO: "wait_server_hello",
  WAIT_READY: "wait_ready",
  DONE: "done",
  FAILED: "failed",
});

/**
 * One client handshake.
 *
 * `keySet` is the parsed keys.json; `pins` the trusted signing-key
 * fingerprints; `clientKey` the ephemeral RSA-OAEP key pair (private key
 * non-extractable, see generateEphemeralKey). `user`, when given, must equal
 * the server's authenticated username. `random(n)` defaults to the platform
 * CSPRNG and is drawn in this order: client_nonce (32), client_secret (32).
 */
export class ClientHandshake {
  /**
   * @param {object} options
   * @param {import("./keyset.mjs").KeySet} options.keySet
   * @param {Iterable<string>} options.pins
   * @param {CryptoKeyPair} options.clientKey
   * @param {string} [options.user]
   * @param {Crypto} [options.crypto]
   * @param {(size: number) => Uint8Array} [options.random]
   * @param {() => number} [options.now] monotonic clock in seconds, for the session
   * @param {object} [options.sessionOptions] extra Session options (tests)
   */
  constructor({ keySet, pins, clientKey, user, crypto, random, now, sessionOptions = {} }) {
    if (!clientKey || !clientKey.privateKey || !clientKey.publicKey) {
      throw new TypeError("clientKey must be a CryptoKeyPair");
    }
    this._keySet = keySet;
    this._pins = new Set(pins);
    this._clientKey = clientKey;
    this._user = user;
    this._crypto = crypto;
    this._random = random ?? ((size) => randomBytes(size, crypto));
    this._sessionOptions = { ...sessionOptions, ...(now ? { now } : {}) };
    this._state = State.START;
    this._hello = null;
    this._clientSecret = null;
    this._session = null;
    /** @type {import("./messages.mjs").ServerHello|null} */
    this.serverHello = null;
    /** @type {import("./keyset.mjs").PublishedKey|null} the verified signing key */
    this.signingKey = null;
  }

  /** @returns {string} the current state's name (for logs and tests) */
  get state() {
    return this._state;
  }

  /** @param {string} expected */
  _enter(expected) {
    if (this._state !== expected) {
      const current = this._state;
      this._state = State.FAILED;
      throw new UnexpectedMessageError(`message not allowed in state ${current}`);
    }
  }

  /**
   * @template T
   * @param {() => Promise<T>} step
   * @returns {Promise<T>}
   */
  async _guard(step) {
    try {
      return await step();
    } catch (err) {
      this._state = State.FAILED;
      throw err;
    }
  }

  /**
   * Build the client_hello frame, wrapping a fresh client_secret to the
   * active encryption key.
   * @returns {Promise<object>}
   */
  async clientHello() {
    this._enter(State.START);
    return this._guard(async () => {
      const encKey = this._keySet.activeKey("enc");
      const clientNonce = draw(this._random, NONCE_SIZE);
      this._clientSecret = draw(this._random, SECRET_SIZE);
      this._hello = {
        clientKey: await exportSpki(this._clientKey.publicKey, this._crypto),
        clientNonce,
        encKid: encKey.kid,
        wrappedClientSecret: await oaepEncrypt(encKey.publicKey, this._clientSecret, this._crypto),
      };
      this._state = State.WAIT_SERVER_HELLO;
      return clientHelloFrame(this._hello);
    });
  }

  /**
   * Authenticate server_hello and return the client_finished frame.
   * Throws 4400/4426 errors for malformed messages, UntrustedSigningKeyError
   * for a sig_kid that is unknown (`unknown`: re-fetch keys.json once) or
   * does not chain to the pins, and AuthenticationFailedError for a bad
   * signature, a wrong user or an undecryptable wrapped_server_secret.
   * @param {string|object} frame
   * @returns {Promise<object>}
   */
  async receiveServerHello(frame) {
    this._enter(State.WAIT_SERVER_HELLO);
    return this._guard(() => this._receiveServerHello(frame));
  }

  /** @param {string|object} frame */
  async _receiveServerHello(frame) {
    const hello = parseServerHello(decodeFrame(frame));
    if (!this._keySet.find(hello.sigKid, "sig")) {
      throw new UntrustedSigningKeyError("unknown sig_kid", { kid: hello.sigKid, unknown: true });
    }
    const signer = await this._keySet.trustedSigningKey(hello.sigKid, this._pins);
    if (!signer) {
      throw new UntrustedSigningKeyError("signing key does not chain to the pin", {
        kid: hello.sigKid,
        unknown: false,
      });
    }
    const h = this._hello;
    const th = await transcriptHash(
      {
        clientKey: h.clientKey,
        clientNonce: h.clientNonce,
        encKid: h.encKid,
        wrappedClientSecret: h.wrappedClientSecret,
        serverNonce: hello.serverNonce,
        sessionId: hello.sessionId,
        sigKid: hello.sigKid,
        wrappedServerSecret: hello.wrappedServerSecret,
        user: hello.user,
      },
      this._crypto,
    );
    await pssVerify(signer.publicKey, hello.signature, th, this._crypto);
    if (this._user !== undefined && this._user !== null && hello.user !== this._user) {
      throw new AuthenticationFailedError("server authenticated another user");
    }
    const serverSecret = await oaepDecrypt(this._clientKey.privateKey, hello.wrappedServerSecret, this._crypto);
    if (serverSecret.length !== SECRET_SIZE) throw new AuthenticationFailedError("decryption failed");
    const secrets = await deriveHandshakeSecrets(this._clientSecret, serverSecret, th, this._crypto);
    this._clientSecret.fill(0);
    serverSecret.fill(0);
    this._session = await Session.create({
      role: "client",
      th,
      sessionId: hello.sessionId,
      secrets,
      crypto: this._crypto,
      ...this._sessionOptions,
    });
    const mac = await finishedMac(secrets.finishedKey, th, this._crypto);
    secrets.finishedKey.fill(0);
    this.serverHello = hello;
    this.signingKey = signer;
    this._state = State.WAIT_READY;
    return clientFinishedFrame(mac);
  }

  /**
   * Open the server's first record, check it is `ready` for this session,
   * and return the established Session.
   * @param {string|object} frame
   * @returns {Promise<Session>}
   */
  async receiveReady(frame) {
    this._enter(State.WAIT_READY);
    return this._guard(async () => {
      const message = await this._session.open(frame);
      if (message === null || message.t !== "ready") {
        throw new UnexpectedMessageError("the first record must be ready");
      }
      if (message.session !== b64uEncode(this._session.sessionId)) {
        throw new MalformedMessageError("ready names another session");
      }
      this._state = State.DONE;
      return this._session;
    });
  }
}

/**
 * @param {(size: number) => Uint8Array} random
 * @param {number} size
 * @returns {Uint8Array}
 */
function draw(random, size) {
  const value = random(size);
  if (!(value instanceof Uint8Array) || value.length !== size) {
    throw new RangeError(`random(${size}) must return ${size} bytes`);
  }
  return value;
}
