/**
 * securemsg/1 client in WebCrypto: the public API of the protocol modules.
 * Pure protocol code: nothing here touches the DOM.
 * @module securemsg
 */

export { b64uDecode, b64uEncode } from "./b64.mjs";
export { fromHex, toHex } from "./bytes.mjs";
export * from "./constants.mjs";
export * from "./errors.mjs";
export { ClientHandshake } from "./handshake.mjs";
export { encodeJson, encodeJsonBytes, parseJsonObject } from "./json.mjs";
export {
  KeySet,
  checkFingerprint,
  endorsementMessage,
  parseKeySet,
  verifyEndorsement,
} from "./keyset.mjs";
export {
  decodeFrame,
  deliveredNotice,
  historyRequest,
  parseServerMessage,
  pingRequest,
  sendRequest,
} from "./messages.mjs";
export { decideTrust, groupFingerprint, loadPins, pinStorageKey, savePins } from "./pins.mjs";
export {
  aeadOpen,
  aeadSeal,
  exportSpki,
  fingerprint,
  generateEphemeralKey,
  hkdfSha256,
  hmacSha256,
  hmacSha256Verify,
  importRsaSpki,
  oaepDecrypt,
  oaepEncrypt,
  pssVerify,
  sha256,
} from "./primitives.mjs";
export { Session, recordAad, recordNonce } from "./records.mjs";
export { deriveHandshakeSecrets, epochKey, finishedMac, nextEpochSecret } from "./schedule.mjs";
export { transcriptBytes, transcriptFields, transcriptHash } from "./transcript.mjs";
