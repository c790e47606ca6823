/**
 * Record layer (protocol.md, "Records"): seq, nonce, AAD, epochs, key update.
 * @module securemsg/records
 */

import { b64uEncode } from "./b64.mjs";
import { concat, uintBE, utf8 } from "./bytes.mjs";
import {
  AAD_LABEL,
  DIRECTION_C2S,
  DIRECTION_S2C,
  MAX_EPOCH,
  MAX_PLAINTEXT_SIZE,
  MAX_RECORDS_PER_EPOCH,
  MAX_SEQ,
  UPDATE_AFTER_RECORDS,
  UPDATE_AFTER_SECONDS,
} from "./constants.mjs";
import { ProtocolError, SequenceError, UnexpectedMessageError } from "./errors.mjs";
import { decodeFrame } from "./messages.mjs";
import { encodeJsonBytes, parseJsonObject, requireBytes, requireInt, requireStr } from "./json.mjs";
import { aeadOpen, aeadSeal, importAeadKey } from "./primitives.mjs";
import { epochKey, nextEpochSecret } from "./schedule.mjs";

export const UPDATE_MESSAGE = Object.freeze({ t: "update" });

/**
 * The 12-byte nonce: 4-byte direction tag || 8-byte big-endian seq.
 * @param {number} direction 1 (c2s) or 2 (s2c)
 * @param {number} seq
 * @returns {Uint8Array}
 */
export function recordNonce(direction, seq) {
  return concat(uintBE(direction, 4), uintBE(seq, 8));
}

/**
 * The AAD: "securemsg/1 rec" || session_id || direction (1 byte) || seq (8) || epoch (4).
 * @param {Uint8Array} sessionId
 * @param {number} direction
 * @param {number} seq
 * @param {number} epoch
 * @returns {Uint8Array}
 */
export function recordAad(sessionId, direction, seq, epoch) {
  return concat(utf8(AAD_LABEL), sessionId, uintBE(direction, 1), uintBE(seq, 8), uintBE(epoch, 4));
}

/** Keys and counters of one direction; old secrets are zeroed on update. */
class DirectionState {
  /**
   * @param {number} direction
   * @param {Uint8Array} secret
   * @param {number} started
   */
  constructor(direction, secret, started) {
    this.direction = direction;
    this.secret = secret;
    /** @type {CryptoKey|null} */
    this.key = null;
    this.epoch = 0;
    this.seq = 0;
    this.index = 0; // records in the current epoch
    this.epochStarted = started;
  }

  /**
   * Import this epoch's AES key from the secret.
   * @param {Uint8Array} th
   * @param {Crypto} [crypto]
   */
  async deriveKey(th, crypto) {
    const raw = await epochKey(this.secret, th, crypto);
    this.key = await importAeadKey(raw, crypto);
    raw.fill(0);
  }

  /**
   * Move to the next epoch: secret[n+1], its key, index 0.
   * @param {Uint8Array} th
   * @param {number} now
   * @param {Crypto} [crypto]
   */
  async advanceEpoch(th, now, crypto) {
    if (this.epoch >= MAX_EPOCH) throw new SequenceError("epoch counter exhausted");
    const next = await nextEpochSecret(this.secret, th, crypto);
    this.secret.fill(0);
    this.secret = next;
    await this.deriveKey(th, crypto);
    this.epoch += 1;
    this.index = 0;
    this.epochStarted = now;
  }
}

/** Monotonic seconds. */
function monotonicSeconds() {
  return globalThis.performance.now() / 1000;
}

/**
 * An established securemsg/1 session: seals and opens records.
 *
 * Both roles use this class (the client sends c2s; tests also run the
 * server role). Seals are serialized among themselves, and so are opens,
 * so concurrent callers get frames in seq order. Any error of `open` ends
 * the session: later calls throw UnexpectedMessageError.
 */
export class Session {
  /**
   * Build a session from the epoch-0 secrets (takes ownership of them).
   * @param {object} options
   * @param {"client"|"server"} options.role
   * @param {Uint8Array} options.th
   * @param {Uint8Array} options.sessionId
   * @param {{c2s: Uint8Array, s2c: Uint8Array}} options.secrets
   * @param {Crypto} [options.crypto]
   * @param {() => number} [options.now] monotonic clock in seconds
   * @param {number} [options.updateAfterRecords]
   * @param {number} [options.updateAfterSeconds]
   * @param {number} [options.maxRecordsPerEpoch]
   * @returns {Promise<Session>}
   */
  static async create(options) {
    const session = new Session(options);
    await Promise.all([session._send.deriveKey(session._th, session._crypto), session._recv.deriveKey(session._th, session._crypto)]);
    return session;
  }

  /** @param {Parameters<typeof Session.create>[0]} options use Session.create */
  constructor({
    role,
    th,
    sessionId,
    secrets,
    crypto,
    now = monotonicSeconds,
    updateAfterRecords = UPDATE_AFTER_RECORDS,
    updateAfterSeconds = UPDATE_AFTER_SECONDS,
    maxRecordsPerEpoch = MAX_RECORDS_PER_EPOCH,
  }) {
    if (role !== "client" && role !== "server") throw new TypeError("role must be 'client' or 'server'");
    if (updateAfterRecords < 1 || updateAfterRecords >= maxRecordsPerEpoch) {
      throw new RangeError("updateAfterRecords must be in 1..maxRecordsPerEpoch-1");
    }
    this._th = th;
    this._sessionId = sessionId;
    this._crypto = crypto;
    this._now = now;
    this._updateAfterRecords = updateAfterRecords;
    this._updateAfterSeconds = updateAfterSeconds;
    this._maxRecordsPerEpoch = maxRecordsPerEpoch;
    const started = now();
    const c2s = new DirectionState(DIRECTION_C2S, secrets.c2s, started);
    const s2c = new DirectionState(DIRECTION_S2C, secrets.s2c, started);
    [this._send, this._recv] = role === "client" ? [c2s, s2c] : [s2c, c2s];
    this._closed = false;
    /** @type {Promise<unknown>} */
    this._sendQueue = Promise.resolve();
    /** @type {Promise<unknown>} */
    this._recvQueue = Promise.resolve();
  }

  /** @returns {Uint8Array} the 16-byte session id */
  get sessionId() {
    return this._sessionId;
  }

  /** @returns {Uint8Array} the transcript hash */
  get th() {
    return this._th;
  }

  /** @returns {number} the epoch the next sealed record uses */
  get sendEpoch() {
    return this._send.epoch;
  }

  /** @returns {number} the epoch the next opened record must use */
  get recvEpoch() {
    return this._recv.epoch;
  }

  /** @returns {boolean} whether an error ended this session */
  get closed() {
    return this._closed;
  }

  /**
   * Seal one application message; resolve to the frames to send, in order.
   * Usually one frame; when the sending epoch is due for a key update (its
   * next index would be 2^20 - 1, or it is an hour old) the first frame is
   * the `{"t":"update"}` record and the message follows under the next epoch.
   * Rejects with RangeError if the UTF-8 JSON exceeds 32,768 bytes.
   * @param {object} message
   * @returns {Promise<object[]>}
   */
  seal(message) {
    const run = async () => {
      this._checkOpen();
      const plaintext = encodeJsonBytes(message);
      if (plaintext.length > MAX_PLAINTEXT_SIZE) {
        throw new RangeError(`record plaintext exceeds ${MAX_PLAINTEXT_SIZE} bytes`);
      }
      const frames = [];
      const state = this._send;
      const elapsed = this._now() - state.epochStarted;
      if (state.index >= this._updateAfterRecords - 1 || elapsed >= this._updateAfterSeconds) {
        frames.push(await this._updateKeys());
      }
      frames.push(await this._sealPlaintext(plaintext));
      return frames;
    };
    return this._queueSend(run);
  }

  /**
   * Seal a `{"t":"update"}` record now and move sending to the next epoch.
   * @returns {Promise<object>} the update frame
   */
  updateKeys() {
    return this._queueSend(() => {
      this._checkOpen();
      return this._updateKeys();
    });
  }

  /**
   * @template T
   * @param {() => Promise<T>} run
   * @returns {Promise<T>}
   */
  _queueSend(run) {
    const result = this._sendQueue.then(run);
    this._sendQueue = result.catch(() => undefined);
    return result;
  }

  async _updateKeys() {
    const frame = await this._sealPlaintext(encodeJsonBytes(UPDATE_MESSAGE));
    await this._send.advanceEpoch(this._th, this._now(), this._crypto);
    return frame;
  }

  /** @param {Uint8Array} plaintext */
  async _sealPlaintext(plaintext) {
    const state = this._send;
    if (state.seq > MAX_SEQ) throw new SequenceError("send sequence exhausted");
    const seq = state.seq;
    const nonce = recordNonce(state.direction, seq);
    const aad = recordAad(this._sessionId, state.direction, seq, state.epoch);
    // Count the record before the await, so no other path can reuse the nonce.
    state.seq += 1;
    state.index += 1;
    const ct = await aeadSeal(state.key, nonce, plaintext, aad, this._crypto);
    return { type: "rec", seq, ct: b64uEncode(ct) };
  }

  /**
   * Open one received record and resolve to its application message, or
   * null for a key update record (handled here). Rejects with
   * MalformedMessageError/UnexpectedMessageError (4400), SequenceError (4409)
   * or AuthenticationFailedError (4410); any of them closes the session.
   * @param {string|object} frame the raw frame text (preferred) or a decoded object
   * @returns {Promise<object|null>}
   */
  open(frame) {
    const result = this._recvQueue.then(async () => {
      this._checkOpen();
      try {
        return await this._open(frame);
      } catch (err) {
        if (err instanceof ProtocolError) this._closed = true;
        throw err;
      }
    });
    this._recvQueue = result.catch(() => undefined);
    return result;
  }

  /** @param {string|object} frame */
  async _open(frame) {
    const obj = decodeFrame(frame);
    if (requireStr(obj, "type") !== "rec") {
      throw new UnexpectedMessageError("only records are allowed after the handshake");
    }
    const seq = requireInt(obj, "seq");
    const ct = requireBytes(obj, "ct");
    const state = this._recv;
    if (seq !== state.seq) throw new SequenceError("unexpected record sequence number");
    if (state.index >= this._maxRecordsPerEpoch) throw new SequenceError("too many records in one epoch");
    const nonce = recordNonce(state.direction, seq);
    const aad = recordAad(this._sessionId, state.direction, seq, state.epoch);
    const plaintext = await aeadOpen(state.key, nonce, ct, aad, this._crypto);
    const message = parseJsonObject(plaintext, { limit: MAX_PLAINTEXT_SIZE, what: "record plaintext" });
    state.seq += 1;
    state.index += 1;
    if (message.t === "update") {
      await state.advanceEpoch(this._th, this._now(), this._crypto);
      return null;
    }
    return message;
  }

  _checkOpen() {
    if (this._closed) throw new UnexpectedMessageError("session is closed after an error");
  }

  /** Zero the traffic secrets and refuse further use (after the socket closed). */
  destroy() {
    this._closed = true;
    this._send.secret.fill(0);
    this._recv.secret.fill(0);
  }
}
