/**
 * Handshake messages (protocol.md, "Handshake") and application messages
 * ("Application messages") as the client builds and reads them
 * (mirrors protocol/_messages.py and protocol/_appmsg.py).
 * @module securemsg/messages
 */

import { b64uEncode } from "./b64.mjs";
import {
  FINISHED_MAC_SIZE,
  HISTORY_LIMIT_DEFAULT,
  MAX_FRAME_SIZE,
  MAX_KID_LENGTH,
  MAX_USER_LENGTH,
  NONCE_SIZE,
  SESSION_ID_SIZE,
  SUITE,
  VERSION,
} from "./constants.mjs";
import { MalformedMessageError, UnexpectedMessageError, UnsupportedVersionError } from "./errors.mjs";
import { parseJsonObject, requireBool, requireBytes, requireInt, requireName, requireStr } from "./json.mjs";

/**
 * Turn a received text frame (or an already decoded object) into an object.
 * Pass the raw text so that the 65,536-byte frame limit is enforced here.
 * @param {string|Uint8Array|object} frame
 * @returns {Record<string, any>}
 */
export function decodeFrame(frame) {
  if (typeof frame === "string" || frame instanceof Uint8Array) {
    return parseJsonObject(frame, { limit: MAX_FRAME_SIZE });
  }
  if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
    throw new MalformedMessageError("frame is not a JSON object");
  }
  return frame;
}

/**
 * Check `type`: missing or mistyped is 4400, another type is out of order (4400).
 * @param {Record<string, any>} obj
 * @param {string} expected
 */
export function expectType(obj, expected) {
  const kind = requireStr(obj, "type");
  if (kind !== expected) throw new UnexpectedMessageError(`expected ${expected}, got ${kind.slice(0, 32)}`);
}

/**
 * Check `v` and `suite` before any other field (mistyped 4400, unsupported 4426).
 * @param {Record<string, any>} obj
 */
export function checkVersionAndSuite(obj) {
  if (requireInt(obj, "v") !== VERSION) throw new UnsupportedVersionError("unsupported protocol version");
  if (requireStr(obj, "suite") !== SUITE) throw new UnsupportedVersionError("unsupported suite");
}

/**
 * Build the client_hello frame.
 * @param {{clientKey: Uint8Array, clientNonce: Uint8Array, encKid: string, wrappedClientSecret: Uint8Array}} hello
 * @returns {object}
 */
export function clientHelloFrame({ clientKey, clientNonce, encKid, wrappedClientSecret }) {
  return {
    type: "client_hello",
    v: VERSION,
    suite: SUITE,
    client_key: b64uEncode(clientKey),
    client_nonce: b64uEncode(clientNonce),
    enc_kid: encKid,
    wrapped_client_secret: b64uEncode(wrappedClientSecret),
  };
}

/**
 * @typedef {object} ServerHello a server_hello whose shape is valid (signature not yet verified)
 * @property {Uint8Array} serverNonce
 * @property {Uint8Array} sessionId
 * @property {string} sigKid
 * @property {string} user
 * @property {Uint8Array} wrappedServerSecret
 * @property {Uint8Array} signature
 */

/**
 * Validate a server_hello's shape; throws the 4400/4426 errors.
 * @param {Record<string, any>} obj
 * @returns {ServerHello}
 */
export function parseServerHello(obj) {
  expectType(obj, "server_hello");
  checkVersionAndSuite(obj);
  return {
    serverNonce: requireBytes(obj, "server_nonce", NONCE_SIZE),
    sessionId: requireBytes(obj, "session_id", SESSION_ID_SIZE),
    sigKid: requireName(obj, "sig_kid", MAX_KID_LENGTH),
    user: requireName(obj, "user", MAX_USER_LENGTH),
    wrappedServerSecret: requireBytes(obj, "wrapped_server_secret"),
    signature: requireBytes(obj, "signature"),
  };
}

/**
 * Build the client_finished frame.
 * @param {Uint8Array} mac 32 bytes
 * @returns {object}
 */
export function clientFinishedFrame(mac) {
  if (mac.length !== FINISHED_MAC_SIZE) throw new RangeError(`mac must be ${FINISHED_MAC_SIZE} bytes`);
  return { type: "client_finished", mac: b64uEncode(mac) };
}

// Application requests the client sends.

/**
 * A `send` request.
 * @param {string} id client-chosen id (a UUID)
 * @param {string} to recipient username
 * @param {string} body message text
 * @returns {object}
 */
export function sendRequest(id, to, body) {
  return { t: "send", id, to, body };
}

/**
 * A `history` request.
 * @param {string} withUser
 * @param {{before?: string|null, limit?: number, id?: string}} [options]
 * @returns {object}
 */
export function historyRequest(withUser, { before = null, limit = HISTORY_LIMIT_DEFAULT, id } = {}) {
  const message = { t: "history", with: withUser, before, limit };
  if (id !== undefined) message.id = id;
  return message;
}

/**
 * A `ping` request.
 * @param {string} [id]
 * @returns {object}
 */
export function pingRequest(id) {
  return id === undefined ? { t: "ping" } : { t: "ping", id };
}

/**
 * A `delivered` notice for a message addressed to us.
 * @param {string} mid
 * @returns {object}
 */
export function deliveredNotice(mid) {
  return { t: "delivered", mid };
}

const MSG_FIELDS = ["mid", "from", "to", "body", "ts"];
const SERVER_STR_FIELDS = {
  ready: ["session"],
  ack: ["id", "mid", "ts"],
  msg: MSG_FIELDS,
  receipt: ["mid", "state"],
  history: ["with"],
  pong: [],
  error: ["code", "message"],
};

/**
 * Validate a server's record plaintext. Returns null for an unknown `t`
 * (ignored, so a newer server can add types); throws MalformedMessageError
 * for a missing or mistyped field of a known type.
 * @param {Record<string, any>} obj
 * @returns {Record<string, any>|null}
 */
export function parseServerMessage(obj) {
  const kind = requireStr(obj, "t");
  if (!Object.hasOwn(SERVER_STR_FIELDS, kind)) return null;
  for (const name of SERVER_STR_FIELDS[kind]) requireStr(obj, name);
  if (["pong", "error", "history"].includes(kind) && obj.id !== undefined && obj.id !== null) {
    requireStr(obj, "id");
  }
  if (kind === "history") {
    requireBool(obj, "more");
    if (!Array.isArray(obj.messages)) throw new MalformedMessageError("messages must be a list");
    for (const item of obj.messages) {
      if (item === null || typeof item !== "object" || Array.isArray(item)) {
        throw new MalformedMessageError("history messages must be objects");
      }
      for (const name of MSG_FIELDS) requireStr(item, name);
      requireBool(item, "delivered");
    }
  }
  return obj;
}
