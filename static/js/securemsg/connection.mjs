/**
 * Connection manager of the chat page: keeps one securemsg/1 session to
 * `/ws/securemsg/` up, re-handshaking with exponential backoff and jitter,
 * and tracks outgoing messages sent -> stored (ack) -> delivered (receipt),
 * resending unacknowledged ones (same id) after a reconnect.
 *
 * It touches no DOM: the page passes in WebSocket, fetch and storage (the
 * tests pass fakes). Nothing here logs key material or message bodies.
 *
 * Events (CustomEvent, payload in `detail`):
 * - `status`   {state: "connecting"|"secure"|"reconnecting"|"failed", reason: string|null}
 * - `keys`     {fingerprint, kid, verified}: the signing key (verified after a handshake)
 * - `keywarning` {reason, fingerprint}: the key set was refused (unendorsed change)
 * - `message`  {mid, from, to, body, ts}: a chat message, once per mid
 * - `outgoing` {id, to, body, state: "sent"|"stored"|"delivered"|"failed", mid, ts, code}
 *   (`body` only with the first, "sent", event; null afterwards)
 * - `receipt`  {mid}: a message of ours (possibly sent by another session) was delivered
 * @module securemsg/connection
 */

import { MAX_BODY_BYTES, CloseCode } from "./constants.mjs";
import { AuthenticationFailedError, ProtocolError, UntrustedSigningKeyError } from "./errors.mjs";
import { ClientHandshake } from "./handshake.mjs";
import { parseKeySet } from "./keyset.mjs";
import { deliveredNotice, historyRequest, parseServerMessage, pingRequest, sendRequest } from "./messages.mjs";
import { decideTrust, loadPins, savePins } from "./pins.mjs";
import { generateEphemeralKey } from "./primitives.mjs";

export const DEFAULT_KEYS_URL = "/.well-known/securemsg/keys.json";
// Reconnect delays: exponential from INITIAL to MAX, each scaled by a random
// factor in [0.5, 1) so that clients of a restarted server spread out.
export const BACKOFF_INITIAL_MS = 500;
export const BACKOFF_MAX_MS = 30000;
// Idle clients send a ping this often (protocol.md: the server's idle
// timeout defaults to 300 s).
export const PING_INTERVAL_MS = 60000;
// The server closes an unfinished handshake at 10-12 s; give up a bit later.
export const HANDSHAKE_TIMEOUT_MS = 15000;

// Close codes after which reconnecting cannot help.
const FATAL_CLOSES = new Map([
  [CloseCode.NOT_LOGGED_IN, "signed out"],
  [CloseCode.ORIGIN_NOT_ALLOWED, "origin not allowed"],
  [CloseCode.UNSUPPORTED_VERSION, "unsupported protocol version"],
]);

/** A request the server answered with an `error`. */
export class RequestError extends Error {
  /**
   * @param {string} code the protocol error code (unknown_user, rate_limited, ...)
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** One chat connection with reconnects; see the module documentation. */
export class SecureConnection extends EventTarget {
  /**
   * @param {object} options
   * @param {string} options.url the WebSocket URL (ws(s)://<same host>/ws/securemsg/)
   * @param {object} options.keysDocument the keys.json embedded in the page
   * @param {string} options.origin the page origin (pins are stored per origin)
   * @param {string} [options.user] the signed-in username the server must authenticate
   * @param {string} [options.keysUrl] where to re-fetch keys.json
   * @param {Storage|null} [options.storage] localStorage (pins)
   * @param {Crypto} [options.crypto]
   * @param {typeof WebSocket} [options.WebSocket]
   * @param {typeof fetch} [options.fetch]
   * @param {() => number} [options.random] uniform [0, 1) for jitter
   * @param {{initialMs?: number, maxMs?: number, pingIntervalMs?: number, handshakeTimeoutMs?: number}} [options.timing]
   */
  constructor({
    url,
    keysDocument,
    origin,
    user,
    keysUrl = DEFAULT_KEYS_URL,
    storage = null,
    crypto = globalThis.crypto,
    WebSocket = globalThis.WebSocket,
    fetch = globalThis.fetch?.bind(globalThis),
    random = Math.random,
    timing = {},
  }) {
    super();
    this.url = url;
    this.user = user;
    this.origin = origin;
    this._keysDocument = keysDocument;
    this._keysUrl = keysUrl;
    this._storage = storage;
    this._crypto = crypto;
    this._WebSocket = WebSocket;
    this._fetch = fetch;
    this._random = random;
    this._timing = {
      initialMs: BACKOFF_INITIAL_MS,
      maxMs: BACKOFF_MAX_MS,
      pingIntervalMs: PING_INTERVAL_MS,
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      ...timing,
    };
    // Generate the first ephemeral key at once, while the page loads.
    this._nextKey = generateEphemeralKey(crypto);
    this._nextKey.catch(() => undefined);
    this._keySet = null;
    this._pins = [];
    this._attempt = null;
    this._attempts = 0;
    this._refetched = false;
    this._stopped = false;
    this._retryTimer = null;
    this._status = { state: "idle", reason: null };
    /** @type {Map<string, {id: string, to: string, body: string|null, state: string, mid: string|null, ts: string|null}>} */
    this._outbox = new Map();
    this._midToId = new Map();
    this._seen = new Set();
    this._requests = new Map();
  }

  /** @returns {{state: string, reason: string|null}} the current status ("idle" before start) */
  get status() {
    return { ...this._status };
  }

  /**
   * Check the embedded key set against the pins and connect. Resolves once
   * the first attempt has started (or the key set was refused).
   * @returns {Promise<void>}
   */
  async start() {
    this._setStatus("connecting", null);
    if (!(await this._adoptKeys(this._keysDocument, false))) return;
    this._connect();
  }

  /** Stop for good: close the socket and cancel reconnects. */
  stop() {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    this._dropAttempt(1000, "closing");
  }

  /** Reconnect now if waiting for a backoff timer (e.g. the browser went online). */
  reconnectNow() {
    if (this._stopped || this._status.state !== "reconnecting" || this._attempt) return;
    clearTimeout(this._retryTimer);
    this._connect();
  }

  /**
   * Queue a chat message for `to`. Returns the client-generated id; the
   * `outgoing` event reports its progress. Throws RangeError for a body over
   * 4,096 UTF-8 bytes.
   * @param {string} to
   * @param {string} body
   * @returns {string} the message id
   */
  send(to, body) {
    if (new TextEncoder().encode(body).length > MAX_BODY_BYTES) {
      throw new RangeError(`body exceeds ${MAX_BODY_BYTES} bytes`);
    }
    const id = this._crypto.randomUUID();
    const entry = { id, to, body, state: "sent", mid: null, ts: null };
    this._outbox.set(id, entry);
    this._emitOutgoing(entry);
    if (this._status.state === "secure") this._transmit(entry);
    return id;
  }

  /**
   * Request a page of history with `withUser` (oldest first). Rejects with
   * RequestError for an error answer, or Error if the connection is not
   * secure or drops before the answer.
   * @param {string} withUser
   * @param {{before?: string|null, limit?: number}} [options]
   * @returns {Promise<{messages: object[], more: boolean, with: string}>}
   */
  history(withUser, { before = null, limit = 50 } = {}) {
    if (this._status.state !== "secure") return Promise.reject(new Error("not connected"));
    const id = this._crypto.randomUUID();
    return new Promise((resolve, reject) => {
      this._requests.set(id, { resolve, reject });
      this._sendMessage(historyRequest(withUser, { before, limit, id })).catch(reject);
    });
  }

  // --- keys and trust ------------------------------------------------------

  /**
   * Parse a keys.json document and decide trust; on refusal, fail loudly.
   * @param {object} document
   * @param {boolean} fetched whether it came from the network
   * @returns {Promise<boolean>} whether the key set is usable
   */
  async _adoptKeys(document, fetched) {
    let keySet;
    try {
      keySet = await parseKeySet(document, this._crypto);
    } catch {
      this._fail(fetched ? "the server's key set is invalid" : "the page's key set is invalid");
      return false;
    }
    const decision = await decideTrust(keySet, loadPins(this._storage, this.origin));
    if (!decision.trusted) {
      this._emit("keywarning", {
        reason: "the server's signing key changed without an endorsement from the key you trusted",
        fingerprint: decision.signingKey.fingerprint,
      });
      this._fail("server signing key not trusted");
      return false;
    }
    savePins(this._storage, this.origin, decision.pins);
    this._keySet = keySet;
    this._pins = decision.pins;
    this._emit("keys", { fingerprint: decision.signingKey.fingerprint, kid: decision.signingKey.kid, verified: false });
    return true;
  }

  /** @returns {Promise<boolean>} whether a fresh key set was fetched and trusted */
  async _refetchKeys() {
    this._refetched = true;
    let document;
    try {
      const response = await this._fetch(this._keysUrl, { cache: "no-store", credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      document = await response.json();
    } catch {
      this._fail("could not fetch the server's key set");
      return false;
    }
    return this._adoptKeys(document, true);
  }

  // --- connection attempts -------------------------------------------------

  async _connect() {
    if (this._stopped) return;
    const attempt = { ws: null, hs: null, session: null, phase: "hello", chain: Promise.resolve(), timers: [] };
    this._attempt = attempt;
    let clientKey;
    try {
      clientKey = await this._nextKey;
    } catch {
      this._fail("this browser cannot generate keys");
      return;
    }
    // One ephemeral key per handshake; make the next one in the background.
    this._nextKey = generateEphemeralKey(this._crypto);
    this._nextKey.catch(() => undefined);
    if (this._attempt !== attempt) return;
    attempt.hs = new ClientHandshake({
      keySet: this._keySet,
      pins: this._pins,
      clientKey,
      user: this.user,
      crypto: this._crypto,
    });
    let ws;
    try {
      ws = new this._WebSocket(this.url);
    } catch {
      this._scheduleReconnect(attempt);
      return;
    }
    attempt.ws = ws;
    attempt.timers.push(
      setTimeout(() => this._abort(attempt, CloseCode.TIMEOUT, null), this._timing.handshakeTimeoutMs),
    );
    ws.onopen = () => this._queue(attempt, async () => ws.send(JSON.stringify(await attempt.hs.clientHello())));
    ws.onmessage = (event) => this._queue(attempt, () => this._onFrame(attempt, event.data));
    ws.onclose = (event) => this._onClose(attempt, event.code);
    ws.onerror = () => undefined; // a close event follows
  }

  /**
   * Run `step` after the previous frames of this attempt (WebCrypto is async).
   * @param {object} attempt
   * @param {() => Promise<void>} step
   */
  _queue(attempt, step) {
    attempt.chain = attempt.chain.then(async () => {
      if (this._attempt !== attempt) return;
      try {
        await step();
      } catch (err) {
        this._onProtocolError(attempt, err);
      }
    });
  }

  /**
   * @param {object} attempt
   * @param {string} text
   */
  async _onFrame(attempt, text) {
    if (typeof text !== "string") throw new ProtocolError("binary frames are not allowed");
    if (attempt.phase === "hello") {
      const finished = await attempt.hs.receiveServerHello(text);
      attempt.phase = "ready";
      attempt.ws.send(JSON.stringify(finished));
    } else if (attempt.phase === "ready") {
      attempt.session = await attempt.hs.receiveReady(text);
      attempt.phase = "session";
      this._onSecure(attempt);
    } else {
      const message = await attempt.session.open(text);
      if (message !== null) this._onMessage(attempt, message);
    }
  }

  /** @param {object} attempt */
  _onSecure(attempt) {
    for (const timer of attempt.timers) clearTimeout(timer);
    attempt.timers = [];
    this._attempts = 0;
    this._refetched = false;
    const key = attempt.hs.signingKey;
    this._emit("keys", { fingerprint: key.fingerprint, kid: key.kid, verified: true });
    this._setStatus("secure", null);
    attempt.lastSent = Date.now();
    this._armPing(attempt);
    // Resend everything not yet acknowledged, oldest first, with the same id.
    for (const entry of this._outbox.values()) {
      if (entry.state === "sent") this._transmit(entry);
    }
  }

  /** @param {object} attempt */
  _armPing(attempt) {
    clearTimeout(attempt.pingTimer);
    attempt.pingTimer = setTimeout(() => {
      if (this._attempt !== attempt) return;
      const idle = Date.now() - attempt.lastSent;
      if (idle >= this._timing.pingIntervalMs - 5) this._sendMessage(pingRequest()).catch(() => undefined);
      this._armPing(attempt);
    }, this._timing.pingIntervalMs);
  }

  /**
   * Seal and send one application message on the current session.
   * @param {object} message
   */
  _sendMessage(message) {
    const attempt = this._attempt;
    if (!attempt || !attempt.session) return Promise.reject(new Error("not connected"));
    const run = attempt.chain.then(async () => {
      if (this._attempt !== attempt) throw new Error("connection lost");
      const frames = await attempt.session.seal(message);
      for (const frame of frames) attempt.ws.send(JSON.stringify(frame));
      attempt.lastSent = Date.now();
    });
    attempt.chain = run.catch(() => undefined);
    return run;
  }

  /** @param {object} entry an outbox entry */
  _transmit(entry) {
    this._sendMessage(sendRequest(entry.id, entry.to, entry.body)).catch(() => undefined);
  }

  /**
   * @param {object} attempt
   * @param {object} raw a record plaintext
   */
  _onMessage(attempt, raw) {
    const message = parseServerMessage(raw);
    if (message === null) return; // unknown type: ignored (newer server)
    switch (message.t) {
      case "msg":
        return this._onChatMessage(message);
      case "ack":
        return this._onAck(message);
      case "receipt":
        return this._onReceipt(message);
      case "history":
        return this._settle(message.id, (request) => {
          for (const item of message.messages) this._seen.add(item.mid);
          request.resolve(message);
        });
      case "error":
        return this._onError(message);
      default:
        return undefined; // pong, or a second ready (ignored)
    }
  }

  /** @param {object} message */
  _onChatMessage(message) {
    if (message.to === this.user) {
      // Answer even a duplicate: our earlier `delivered` may have been lost.
      this._sendMessage(deliveredNotice(message.mid)).catch(() => undefined);
    }
    if (this._seen.has(message.mid)) return;
    this._seen.add(message.mid);
    const { mid, from, to, body, ts } = message;
    this._emit("message", { mid, from, to, body, ts });
  }

  /** @param {object} message */
  _onAck(message) {
    const entry = this._outbox.get(message.id);
    if (!entry) return;
    this._seen.add(message.mid);
    this._midToId.set(message.mid, entry.id);
    if (entry.state === "sent") {
      entry.state = "stored";
      entry.mid = message.mid;
      entry.ts = message.ts;
      entry.body = null; // not needed any more: nothing resends it
      this._emitOutgoing(entry);
    }
  }

  /** @param {object} message */
  _onReceipt(message) {
    if (message.state !== "delivered") return;
    this._emit("receipt", { mid: message.mid });
    const entry = this._outbox.get(this._midToId.get(message.mid));
    if (entry && entry.state !== "delivered") {
      entry.state = "delivered";
      this._emitOutgoing(entry);
      this._outbox.delete(entry.id);
      this._midToId.delete(message.mid);
    }
  }

  /** @param {object} message */
  _onError(message) {
    const entry = message.id ? this._outbox.get(message.id) : undefined;
    if (entry) {
      entry.state = "failed";
      entry.body = null;
      this._outbox.delete(entry.id);
      this._emitOutgoing(entry, message.code);
      return;
    }
    this._settle(message.id, (request) => request.reject(new RequestError(message.code, message.message)));
  }

  /**
   * @param {string|undefined|null} id
   * @param {(request: {resolve: Function, reject: Function}) => void} settle
   */
  _settle(id, settle) {
    const request = id ? this._requests.get(id) : undefined;
    if (!request) return;
    this._requests.delete(id);
    settle(request);
  }

  // --- failures and reconnects ---------------------------------------------

  /**
   * A protocol error of ours: close with its code and decide what next.
   * @param {object} attempt
   * @param {unknown} err
   */
  _onProtocolError(attempt, err) {
    const code = err instanceof ProtocolError ? err.closeCode : CloseCode.MALFORMED;
    if (err instanceof UntrustedSigningKeyError && err.unknown && !this._refetched) {
      this._abort(attempt, code, "refetch");
    } else if (err instanceof UntrustedSigningKeyError) {
      if (!err.unknown) {
        this._emit("keywarning", { reason: "the server signed with a key that does not chain to the key you trusted", fingerprint: null });
      }
      this._abort(attempt, code, "server signing key not trusted");
    } else if (err instanceof AuthenticationFailedError && attempt.phase !== "session") {
      this._abort(attempt, code, "server authentication failed");
    } else {
      this._abort(attempt, code, null);
    }
  }

  /**
   * Close this attempt's socket with `code`; then fail (reason), refetch
   * keys ("refetch"), or reconnect with backoff (null).
   * @param {object} attempt
   * @param {number} code
   * @param {string|null} next
   */
  _abort(attempt, code, next) {
    if (this._attempt !== attempt) return;
    this._dropAttempt(code, "securemsg client error");
    if (next === "refetch") this._refetchThenConnect();
    else if (next) this._fail(next);
    else this._scheduleReconnect(attempt);
  }

  /**
   * @param {object} attempt
   * @param {number} code
   */
  _onClose(attempt, code) {
    if (this._attempt !== attempt) return;
    this._dropAttempt(null, null);
    if (this._stopped) return;
    if (FATAL_CLOSES.has(code)) {
      this._fail(FATAL_CLOSES.get(code));
    } else if (code === CloseCode.STALE_KEY) {
      if (this._refetched) this._fail("the server's keys are stale");
      else this._refetchThenConnect();
    } else {
      this._scheduleReconnect(attempt);
    }
  }

  async _refetchThenConnect() {
    this._setStatus("reconnecting", null);
    if (await this._refetchKeys()) this._connect();
  }

  /**
   * Forget the current attempt (closing its socket if `code` is given).
   * @param {number|null} code
   * @param {string|null} reason
   */
  _dropAttempt(code, reason) {
    const attempt = this._attempt;
    if (!attempt) return;
    this._attempt = null;
    for (const timer of attempt.timers) clearTimeout(timer);
    clearTimeout(attempt.pingTimer);
    if (attempt.session) attempt.session.destroy();
    if (attempt.ws && code !== null) {
      try {
        attempt.ws.close(code, reason);
      } catch {
        // already closed
      }
    }
    for (const request of this._requests.values()) request.reject(new Error("connection lost"));
    this._requests.clear();
  }

  /** @param {object} attempt */
  _scheduleReconnect(attempt) {
    if (this._stopped || this._status.state === "failed") return;
    if (this._attempt === attempt) this._dropAttempt(null, null);
    this._setStatus("reconnecting", null);
    const { initialMs, maxMs } = this._timing;
    const base = Math.min(maxMs, initialMs * 2 ** this._attempts);
    this._attempts += 1;
    const delay = base * (0.5 + 0.5 * this._random());
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this._connect(), delay);
  }

  /** @param {string} reason */
  _fail(reason) {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    this._dropAttempt(null, null);
    this._setStatus("failed", reason);
  }

  // --- events --------------------------------------------------------------

  /**
   * @param {string} state
   * @param {string|null} reason
   */
  _setStatus(state, reason) {
    if (this._status.state === state && this._status.reason === reason) return;
    this._status = { state, reason };
    this._emit("status", { state, reason });
  }

  /**
   * @param {object} entry
   * @param {string} [code]
   */
  _emitOutgoing(entry, code) {
    // The body goes to the page only while the message is new (to draw it).
    this._emit("outgoing", {
      id: entry.id,
      to: entry.to,
      body: entry.body,
      state: entry.state,
      mid: entry.mid,
      ts: entry.ts,
      code: code ?? null,
    });
  }

  /**
   * @param {string} type
   * @param {object} detail
   */
  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
