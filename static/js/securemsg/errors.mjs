/**
 * Typed errors of the securemsg/1 client (mirrors protocol/exceptions.py).
 *
 *   ProtocolError                     4400 (base)
 *   ├── MalformedMessageError         4400 malformed frame or message
 *   │   └── UnexpectedMessageError    4400 valid message in the wrong state
 *   ├── SequenceError                 4409 replay, reorder or overflow
 *   ├── AuthenticationFailedError     4410 any decrypt, MAC or signature failure
 *   │   └── UntrustedSigningKeyError  4410 sig_kid unknown or not chained to the pin
 *   └── UnsupportedVersionError       4426 well-typed but unsupported v or suite
 *
 * Messages never contain key material, plaintext, or which check failed
 * inside an authentication step.
 * @module securemsg/errors
 */

import { CloseCode } from "./constants.mjs";

/** Base class of every error that ends a securemsg/1 session. */
export class ProtocolError extends Error {
  /** @returns {number} the WebSocket close code for this error */
  get closeCode() {
    return CloseCode.MALFORMED;
  }

  /** @returns {string} a short, stable reason class */
  get reason() {
    return "protocol_error";
  }

  get name() {
    return this.constructor.name;
  }
}

/** A frame or message is not valid JSON of the expected shape, type or size. */
export class MalformedMessageError extends ProtocolError {
  get reason() {
    return "malformed";
  }
}

/** A well-formed message arrived in a state where it is not allowed. */
export class UnexpectedMessageError extends MalformedMessageError {
  get reason() {
    return "unexpected_message";
  }
}

/** A record's seq is not the expected one, or an epoch ran out of records. */
export class SequenceError extends ProtocolError {
  get closeCode() {
    return CloseCode.SEQUENCE;
  }

  get reason() {
    return "sequence";
  }
}

/** A decryption, GCM tag, finished MAC or signature check failed. */
export class AuthenticationFailedError extends ProtocolError {
  get closeCode() {
    return CloseCode.AUTHENTICATION_FAILED;
  }

  get reason() {
    return "authentication_failed";
  }
}

/** The server's sig_kid is unknown (re-fetch keys.json once) or does not chain to the pin. */
export class UntrustedSigningKeyError extends AuthenticationFailedError {
  /**
   * @param {string} message
   * @param {{kid: string, unknown: boolean}} options
   */
  constructor(message, { kid, unknown }) {
    super(message);
    this.kid = kid;
    this.unknown = unknown;
  }

  get reason() {
    return "untrusted_signing_key";
  }
}

/** A well-typed `v` or `suite` names something this version does not speak. */
export class UnsupportedVersionError extends ProtocolError {
  get closeCode() {
    return CloseCode.UNSUPPORTED_VERSION;
  }

  get reason() {
    return "unsupported_version";
  }
}
