/**
 * JSON framing: compact UTF-8 encoding, strict parsing of one object,
 * and typed field access (mirrors protocol/_framing.py).
 * @module securemsg/json
 */

import { b64uDecode } from "./b64.mjs";
import { fromUtf8, utf8 } from "./bytes.mjs";
import { MalformedMessageError } from "./errors.mjs";

/**
 * Encode a message as compact JSON text. JSON.stringify keeps non-ASCII
 * text as is (no \u escapes), like Python's ensure_ascii=False, so the
 * UTF-8 bytes are identical to the Python core's encoding.
 * @param {object} obj
 * @returns {string}
 */
export function encodeJson(obj) {
  return JSON.stringify(obj);
}

/**
 * Encode a message as compact UTF-8 JSON bytes (record plaintext).
 * @param {object} obj
 * @returns {Uint8Array}
 */
export function encodeJsonBytes(obj) {
  return utf8(encodeJson(obj));
}

/**
 * Parse UTF-8 JSON (text or bytes) holding one object of at most `limit`
 * bytes. Duplicate keys are rejected, as the Python core does: parsers
 * disagree on which duplicate wins.
 * @param {string|Uint8Array} data
 * @param {{limit: number, what?: string}} options
 * @returns {Record<string, any>}
 */
export function parseJsonObject(data, { limit, what = "frame" }) {
  let raw;
  if (typeof data === "string") {
    if (!data.isWellFormed()) throw new MalformedMessageError(`${what} is not valid UTF-8`);
    raw = utf8(data);
  } else if (data instanceof Uint8Array) {
    raw = data;
  } else {
    throw new MalformedMessageError(`${what} must be text`);
  }
  if (raw.length > limit) throw new MalformedMessageError(`${what} larger than ${limit} bytes`);
  let text;
  let obj;
  try {
    text = typeof data === "string" ? data : fromUtf8(raw);
    obj = JSON.parse(text);
  } catch {
    throw new MalformedMessageError(`${what} is not JSON`);
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new MalformedMessageError(`${what} is not a JSON object`);
  }
  rejectDuplicateKeys(text, what);
  return obj;
}

/**
 * Scan already-valid JSON text and throw if any object repeats a key.
 * @param {string} text
 * @param {string} what
 */
function rejectDuplicateKeys(text, what) {
  /** @type {Array<Set<string>|null>} one entry per open container */
  const stack = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(i, j + 1));
        if (top.has(key)) throw new MalformedMessageError(`${what} repeats a JSON key`);
        top.add(key);
      }
      expectKey = false;
      i = j;
    } else if (ch === "{") {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === "[") {
      stack.push(null);
    } else if (ch === "}" || ch === "]") {
      stack.pop();
    } else if (ch === ",") {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
}

/**
 * Return the required string field `name`.
 * @param {Record<string, any>} obj
 * @param {string} name
 * @returns {string}
 */
export function requireStr(obj, name) {
  const value = obj[name];
  if (typeof value !== "string") throw new MalformedMessageError(`${name} must be a string`);
  return value;
}

/**
 * Return the required integer field `name` (JSON numbers without fraction).
 * @param {Record<string, any>} obj
 * @param {string} name
 * @returns {number}
 */
export function requireInt(obj, name) {
  const value = obj[name];
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new MalformedMessageError(`${name} must be an integer`);
  }
  return value;
}

/**
 * Return the required boolean field `name`.
 * @param {Record<string, any>} obj
 * @param {string} name
 * @returns {boolean}
 */
export function requireBool(obj, name) {
  const value = obj[name];
  if (typeof value !== "boolean") throw new MalformedMessageError(`${name} must be a boolean`);
  return value;
}

/**
 * Return the base64url field `name` decoded, optionally of exact `size`.
 * @param {Record<string, any>} obj
 * @param {string} name
 * @param {number} [size]
 * @returns {Uint8Array}
 */
export function requireBytes(obj, name, size) {
  const data = b64uDecode(requireStr(obj, name), name);
  if (size !== undefined && data.length !== size) {
    throw new MalformedMessageError(`${name} must be ${size} bytes`);
  }
  return data;
}

/**
 * Return a non-empty identifier string (kid, username) of bounded length.
 * Length counts code points, as Python's len() does.
 * @param {Record<string, any>} obj
 * @param {string} name
 * @param {number} maxLength
 * @returns {string}
 */
export function requireName(obj, name, maxLength) {
  const value = requireStr(obj, name);
  const length = [...value].length;
  if (length < 1 || length > maxLength) {
    throw new MalformedMessageError(`${name} must have 1 to ${maxLength} characters`);
  }
  return value;
}
