import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * Encryption of quality documents at rest. Each document has its own random 256-bit key (the data key); its
 * content is sealed with AES-256-GCM under that key, with the document's hash as associated data, so a ciphertext
 * cannot be moved to another document's address. The data key is stored only wrapped, once per reader: AES-256-GCM
 * under a key derived with HKDF-SHA256 from the deployment's document master key, salted with the document's hash
 * and bound to the reader's organization id (info and associated data). A reader without a wrapped key cannot be
 * served: granting access wraps the data key for one more organization, revoking deletes that wrapping.
 */

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;

/** A sealed blob that does not open: altered, truncated, or sealed under another key or for another address. */
export class SealBrokenError extends Error {
  override name = "SealBrokenError";
}

/** nonce ‖ GCM tag ‖ ciphertext. */
function seal(key: Buffer, plaintext: Buffer, associated: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce).setAAD(associated);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), sealed]);
}

function open(key: Buffer, blob: Buffer, associated: Buffer): Buffer {
  if (blob.length < NONCE_BYTES + TAG_BYTES) throw new SealBrokenError("the sealed blob is too short to be one");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, blob.subarray(0, NONCE_BYTES))
      .setAAD(associated)
      .setAuthTag(blob.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(blob.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SealBrokenError("the GCM tag does not match: the sealed blob was altered or belongs elsewhere");
  }
}

const addressOf = (documentHash: string) => Buffer.from(documentHash.slice(2), "hex");

/** Seals a document's content under a new data key; returns both (the data key is then wrapped for each reader). */
export function sealContent(documentHash: string, content: Buffer): { dataKey: Buffer; sealed: Buffer } {
  const dataKey = randomBytes(DATA_KEY_BYTES);
  return { dataKey, sealed: seal(dataKey, content, addressOf(documentHash)) };
}

export function openContent(documentHash: string, dataKey: Buffer, sealed: Buffer): Buffer {
  return open(dataKey, sealed, addressOf(documentHash));
}

/** The key that wraps one document's data key for one reader organization. */
function readerKey(masterKey: Buffer, documentHash: string, organizationId: number): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, addressOf(documentHash), `trace-ledger document reader ${organizationId} v1`, 32));
}

const readerBinding = (documentHash: string, organizationId: number) => Buffer.from(`${documentHash}:${organizationId}`, "utf8");

export function wrapDataKey(masterKey: Buffer, documentHash: string, organizationId: number, dataKey: Buffer): string {
  return seal(readerKey(masterKey, documentHash, organizationId), dataKey, readerBinding(documentHash, organizationId)).toString("base64");
}

export function unwrapDataKey(masterKey: Buffer, documentHash: string, organizationId: number, wrapped: string): Buffer {
  return open(readerKey(masterKey, documentHash, organizationId), Buffer.from(wrapped, "base64"), readerBinding(documentHash, organizationId));
}

/** The key that seals one organization's custody signing key (EPCIS capture signing in the server). */
function custodyKey(masterKey: Buffer, organizationId: number): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), `trace-ledger custody key ${organizationId} v1`, 32));
}

const custodyBinding = (organizationId: number) => Buffer.from(`custody:${organizationId}`, "utf8");

/** Seals an organization's custody private key at rest (AES-256-GCM, bound to the organization). */
export function sealCustodyKey(masterKey: Buffer, organizationId: number, privateKey: Buffer): string {
  return seal(custodyKey(masterKey, organizationId), privateKey, custodyBinding(organizationId)).toString("base64");
}

export function openCustodyKey(masterKey: Buffer, organizationId: number, sealed: string): Buffer {
  return open(custodyKey(masterKey, organizationId), Buffer.from(sealed, "base64"), custodyBinding(organizationId));
}
