import { createCipheriv, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CodeError } from "./errors";
import { parseGs1Date, sgtinKey, validateField } from "./gs1";
import { isNmpaProductCode } from "./nmpa";
import type { Gs1Pack, NmpaPack } from "./types";

export type SerialScheme = "nmpa" | "gs1";

/**
 * Serials are a keyed pseudorandom permutation of a counter: serial = PRP_key(index), index = 0, 1, 2, … per
 * product. A permutation never repeats, so serials are unique within the product by construction, with no set of
 * issued serials to keep in memory; without the key the sequence is unpredictable. The PRP is an 8-round Feistel
 * network with AES-128 as round function (hardware AES, thousands of blocks per call), over the exact serial space
 * by cycle walking.
 *
 *   nmpa: the 13 digits after the 7-digit drug identification code, 10^13 serials (44-bit Feistel, cycle walking)
 *   gs1:  12 characters of Crockford base 32 (no I, L, O, U), 2^60 serials (60-bit Feistel)
 */
const SPACES: Record<SerialScheme, { halfBits: number; size: number }> = {
  nmpa: { halfBits: 22, size: 1e13 },
  gs1: { halfBits: 30, size: 2 ** 60 },
};

/** A random guess must hit an issued serial with probability below 1/10,000, so at most 1/10,000 of a space is issued. */
export const GUESS_ODDS = 10_000;
const ROUNDS = 8;
const CHUNK = 1 << 14;
const BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const GS1_SERIAL_LENGTH = 12;

export function serialCapacity(scheme: SerialScheme): number {
  return Math.floor(SPACES[scheme].size / GUESS_ODDS);
}

type Halves = { high: Uint32Array; low: Uint32Array };

/** Runs the Feistel rounds over every pair in place; one AES call per round for the whole chunk. */
function feistel(encrypt: (blocks: Buffer) => Buffer, scheme: SerialScheme, halves: Halves, count: number): void {
  const { halfBits } = SPACES[scheme];
  const blocks = Buffer.alloc(count * 16);
  for (let i = 0; i < count; i++) blocks[i * 16 + 5] = scheme === "nmpa" ? 1 : 2;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < count; i++) {
      blocks.writeUInt32BE(halves.low[i] as number, i * 16);
      blocks[i * 16 + 4] = round;
    }
    const mixed = encrypt(blocks);
    for (let i = 0; i < count; i++) {
      const f = mixed.readUInt32BE(i * 16) >>> (32 - halfBits);
      const high = halves.high[i] as number;
      halves.high[i] = halves.low[i] as number;
      halves.low[i] = (high ^ f) >>> 0;
    }
  }
}

function permute(encrypt: (blocks: Buffer) => Buffer, scheme: SerialScheme, firstIndex: number, count: number): Halves {
  const { halfBits, size } = SPACES[scheme];
  const half = 2 ** halfBits;
  const halves = { high: new Uint32Array(count), low: new Uint32Array(count) };
  for (let i = 0; i < count; i++) {
    halves.high[i] = Math.floor((firstIndex + i) / half);
    halves.low[i] = (firstIndex + i) % half;
  }
  let walking = Array.from({ length: count }, (_, i) => i);
  // Cycle walking: re-encrypt values that fall outside the space until they land inside it.
  while (walking.length > 0) {
    const subset = {
      high: Uint32Array.from(walking, (i) => halves.high[i] as number),
      low: Uint32Array.from(walking, (i) => halves.low[i] as number),
    };
    feistel(encrypt, scheme, subset, walking.length);
    walking.forEach((i, k) => {
      halves.high[i] = subset.high[k] as number;
      halves.low[i] = subset.low[k] as number;
    });
    walking = walking.filter((i) => (halves.high[i] as number) * half + (halves.low[i] as number) >= size);
  }
  return halves;
}

function base32(value: number, length: number): string {
  let text = "";
  for (let i = length - 1; i >= 0; i--) text += BASE32[Math.floor(value / 32 ** i) % 32];
  return text;
}

export type SerialBatchOptions = {
  scheme: SerialScheme;
  /** 7-digit NMPA drug identification code (nmpa) or GTIN-14 (gs1). */
  productCode: string;
  /** 16-byte AES key of the product's serial sequence. */
  key: Buffer;
  firstIndex: number;
  count: number;
  /** GS1 only: printed attributes, not part of the pack's identity. */
  batch?: string;
  expiry?: string;
};

function validateBatchOptions(options: SerialBatchOptions): void {
  if (options.key.length !== 16) throw new CodeError("CODE_BAD_SERIAL_STATE", "the serial key must be 16 bytes", { field: "key" });
  const { scheme, productCode } = options;
  if (scheme === "nmpa" && !isNmpaProductCode(productCode)) {
    throw new CodeError("CODE_BAD_LENGTH", `an NMPA drug identification code is 7 digits, got ${JSON.stringify(productCode)}`, {
      field: "nmpa",
      position: 0,
    });
  }
  if (scheme === "gs1") validateField("01", { value: productCode, position: 0 });
  if (options.batch !== undefined) validateField("10", { value: options.batch, position: 0 });
  if (options.expiry !== undefined) parseGs1Date("17", options.expiry);
  if (options.firstIndex < 0 || options.firstIndex + options.count > serialCapacity(scheme)) {
    throw new CodeError(
      "CODE_SERIAL_SPACE_EXHAUSTED",
      `serials ${options.firstIndex}..${options.firstIndex + options.count - 1} exceed the ${serialCapacity(scheme)} a product may issue and stay unguessable`,
      { field: "count" },
    );
  }
}

function packOf(options: SerialBatchOptions, halves: Halves, i: number): NmpaPack | Gs1Pack {
  const high = halves.high[i] as number;
  const low = halves.low[i] as number;
  if (options.scheme === "nmpa") {
    const nmpa = options.productCode + String(high * 2 ** SPACES.nmpa.halfBits + low).padStart(13, "0");
    return { scheme: "nmpa", kind: "pack", key: nmpa, productCode: options.productCode, nmpa };
  }
  const serial = base32(high, GS1_SERIAL_LENGTH / 2) + base32(low, GS1_SERIAL_LENGTH / 2);
  const gtin = options.productCode;
  const pack: Gs1Pack = { scheme: "gs1", kind: "pack", key: sgtinKey(gtin, serial), productCode: gtin, gtin, serial };
  if (options.batch !== undefined) pack.batch = options.batch;
  if (options.expiry !== undefined) pack.expiry = parseGs1Date("17", options.expiry);
  return pack;
}

/** The packs with serial indices firstIndex … firstIndex+count-1 of a product's sequence. */
export function* generatePacks(options: SerialBatchOptions): Generator<NmpaPack | Gs1Pack> {
  validateBatchOptions(options);
  const cipher = createCipheriv("aes-128-ecb", options.key, null).setAutoPadding(false);
  const encrypt = (blocks: Buffer): Buffer => cipher.update(blocks);
  for (let done = 0; done < options.count; done += CHUNK) {
    const size = Math.min(CHUNK, options.count - done);
    const halves = permute(encrypt, options.scheme, options.firstIndex + done, size);
    for (let i = 0; i < size; i++) yield packOf(options, halves, i);
  }
}

// ---- the product's serial state: its key and the next unused index ----

export type SerialState = { version: 1; scheme: SerialScheme; productCode: string; key: string; nextIndex: number };

function readState(file: string): SerialState | null {
  if (!fs.existsSync(file)) return null;
  const state = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<SerialState>;
  const valid =
    state.version === 1 &&
    typeof state.key === "string" &&
    /^[0-9a-f]{32}$/.test(state.key) &&
    Number.isSafeInteger(state.nextIndex) &&
    (state.nextIndex as number) >= 0;
  if (!valid) throw new CodeError("CODE_BAD_SERIAL_STATE", `${file} is not a serial state file`, { field: "state" });
  return state as SerialState;
}

function writeState(file: string, state: SerialState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 }); // it holds the secret key
  fs.renameSync(temporary, file);
}

/**
 * Reserves `count` indices of the product's sequence in its state file (created with a fresh random key on first
 * use) and returns them. The reservation is written before any code is generated: a crash wastes indices but
 * never hands out the same serial twice.
 */
export function reserveSerials(file: string, scheme: SerialScheme, productCode: string, count: number): SerialBatchOptions {
  const state = readState(file) ?? { version: 1, scheme, productCode, key: randomBytes(16).toString("hex"), nextIndex: 0 };
  if (state.scheme !== scheme || state.productCode !== productCode) {
    throw new CodeError(
      "CODE_BAD_SERIAL_STATE",
      `${file} holds the serials of ${state.scheme} product ${state.productCode}, not ${scheme} product ${productCode}`,
      { field: "state" },
    );
  }
  const reservation = { scheme, productCode, key: Buffer.from(state.key, "hex"), firstIndex: state.nextIndex, count };
  validateBatchOptions(reservation);
  writeState(file, { ...state, nextIndex: state.nextIndex + count });
  return reservation;
}
