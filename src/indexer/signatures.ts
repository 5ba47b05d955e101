import { createKeccak } from "hash-wasm";
import type { IHasher } from "hash-wasm";
import { keccak256, TypedDataEncoder } from "ethers";
import { attestationTypes, recoverAttester, typedDataDomain } from "../ledger";
import type { AttestationType, LedgerContract } from "../ledger";

/**
 * Signature re-verification at indexing speed, giving exactly what the reference gives (ethers' verifyTypedData,
 * through `recoverAttester`): the EIP-712 digest is built from precomputed domain separators and type hashes, and
 * the signer is recovered by libsecp256k1 in C (`libsecp256k1Builds`) instead of ethers' pure-JavaScript curve
 * arithmetic. A range's signatures are laid out as bytes (SignatureJobs) that native/ hashes and recovers in one
 * call; one signature at a time (recoverSigner, and every signature when native/ is not built) is hashed with a
 * WebAssembly keccak. Anything outside the shapes decoded events have (a value ethers would
 * coerce or refuse, a signature that is not 65 bytes with v = 27 or 28) takes the reference path, so the two agree
 * on every input; test/indexer/fast-verify.test.ts checks it on random and tampered attestations.
 */

/**
 * A libsecp256k1 build's recovery: the uncompressed public key (65 bytes) whose key made the 64-byte compact
 * signature over the digest, or null when none is recovered.
 */
type Recovery = (signature: Uint8Array, recid: number, digest: Uint8Array) => Uint8Array | null;

/** native/'s functions (native/libsecp256k1.c says what they do). */
type NativeAddon = {
  recover(signature: Uint8Array, recid: number, digest: Uint8Array, publicKey: Uint8Array): boolean;
  recoverSigners(jobs: Uint8Array, out: Uint8Array, digests?: Uint8Array): number;
};

/** native/, when it was built at install and loads. */
let nativeAddon: NativeAddon | undefined;

/** A libsecp256k1 build the fast path can recover with, or why it could not be loaded. */
export type Libsecp256k1 = { name: string; recover?: Recovery; unavailable?: string };

/** Loads `load`'s recovery, or records why it failed: a build missing must fall back, not fail the import. */
function loaded(name: string, load: () => Recovery): Libsecp256k1 {
  try {
    return { name, recover: load() };
  } catch (error) {
    return { name, unavailable: (error as Error).message };
  }
}

/**
 * The builds the fast path can use, the preferred first: the system's current libsecp256k1 through native/ (built
 * at install when Debian's libsecp256k1-dev is there: scripts/build-native.sh), then the 2019 one the `secp256k1`
 * package bundles, about 1.5 times its CPU per signature (`npm run bench:signatures`). Only that package's binding
 * itself: its entry point would quietly fall back to a JavaScript curve library whose edge cases this module does
 * not vouch for. Without either every signature takes the reference path (ethers, pure JavaScript, 27-42 times
 * the CPU per signature).
 */
export const libsecp256k1Builds: readonly Libsecp256k1[] = [
  loaded("libsecp256k1 of the system (native/)", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = (nativeAddon = require("../../native/build/Release/recovery.node") as NativeAddon);
    return (signature, recid, digest) => {
      const publicKey = new Uint8Array(65);
      return addon.recover(signature, recid, digest, publicKey) ? publicKey : null;
    };
  }),
  loaded("libsecp256k1 of the `secp256k1` package (2019)", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const binding = require("secp256k1/bindings") as typeof import("secp256k1").default;
    return (signature, recid, digest) => {
      try {
        return binding.ecdsaRecover(signature, recid, digest, false);
      } catch {
        return null;
      }
    };
  }),
];

/** The build the fast path recovers with: the first that loaded. */
const libsecp256k1 = libsecp256k1Builds.find((build) => build.recover);

/** Why no libsecp256k1 build could be loaded (signers then recovered by ethers), or undefined when one is. */
export function nativeRecoveryUnavailable(): string | undefined {
  return libsecp256k1 ? undefined : libsecp256k1Builds.map((build) => `${build.name}: ${build.unavailable}`).join("; ");
}

let hasher: IHasher | undefined;
let loading: Promise<void> | undefined;

/** Loads the WebAssembly keccak once; until it is loaded, hashing falls back to ethers' keccak256. */
export function signaturesReady(): Promise<void> {
  loading ??= createKeccak(256).then((h) => {
    hasher = h;
  });
  return loading;
}

/** keccak256 of `data`, written into `out` at `offset` (32 bytes). */
function keccakInto(data: Uint8Array, out: Buffer, offset: number) {
  if (hasher) {
    hasher.init();
    hasher.update(data);
    out.set(hasher.digest("binary"), offset);
  } else {
    out.write(keccak256(data).slice(2), offset, "hex");
  }
}

/** Recovers from a message the reference would handle differently: never reaches the caller. */
class NotFastPath extends Error {}

type WordEncoder = (value: unknown, out: Buffer, offset: number) => void;
/** A dynamic field's bytes, whose keccak256 is its word: how many, and writing them. */
type HashedEncoder = { size(value: unknown): number; write(value: unknown, out: Buffer, offset: number): void };
/** How a field becomes its 32-byte word of the struct's encoding: written as it is, or hashed from bytes. */
type FieldEncoder = { word: WordEncoder; hashed?: undefined } | { word?: undefined; hashed: HashedEncoder };
type StructPlan = { typeHash: Buffer; fields: ({ name: string } & FieldEncoder)[] };

const LOWER_ADDRESS = /^0x[0-9a-f]{40}$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;
// With the u flag a well-formed pair is one code point, so this matches only a surrogate standing alone.
const LONE_SURROGATE = /\p{Cs}/u;

function uintEncoder(bits: number): WordEncoder {
  const limit = 1n << BigInt(bits);
  return (value, out, offset) => {
    out.fill(0, offset, offset + 32);
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value) || value < 0 || (bits < 53 && value >= 2 ** bits)) throw new NotFastPath();
      out.writeUInt32BE(Math.floor(value / 2 ** 32), offset + 24);
      out.writeUInt32BE(value >>> 0, offset + 28);
      return;
    }
    // Integers beyond 2^53 travel as decimal strings (decode.ts).
    const big = typeof value === "bigint" ? value : typeof value === "string" && DECIMAL.test(value) ? BigInt(value) : undefined;
    if (big === undefined || big < 0n || big >= limit) throw new NotFastPath();
    out.write(big.toString(16).padStart(64, "0"), offset, "hex");
  };
}

/**
 * Whether every character is one byte. Node's hex decoding reads a character above U+00FF by its low byte ("İ",
 * U+0130, as "0"), so text written as hex must be checked for them first; below it, decoding stops at the first
 * pair that is not hex.
 */
function oneByteText(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

const bytes32Encoder: WordEncoder = (value, out, offset) => {
  // One-byte text all of whose 32 bytes were written is the test HEX32 would be.
  if (
    typeof value !== "string" ||
    value.length !== 66 ||
    !value.startsWith("0x") ||
    !oneByteText(value) ||
    out.write(value.slice(2), offset, 32, "hex") !== 32
  ) {
    throw new NotFastPath();
  }
};

const addressEncoder: WordEncoder = (value, out, offset) => {
  // Mixed case would be checked as a checksum by ethers: leave that to the reference.
  if (typeof value !== "string" || !LOWER_ADDRESS.test(value)) throw new NotFastPath();
  out.fill(0, offset, offset + 12);
  out.write(value.slice(2), offset + 12, "hex");
};

const boolEncoder: WordEncoder = (value, out, offset) => {
  if (typeof value !== "boolean") throw new NotFastPath();
  out.fill(0, offset, offset + 32);
  out[offset + 31] = value ? 1 : 0;
};

const stringEncoder: HashedEncoder = {
  size(value) {
    // A lone surrogate has no UTF-8 form: ethers refuses it where Buffer would substitute U+FFFD.
    if (typeof value !== "string" || LONE_SURROGATE.test(value)) throw new NotFastPath();
    return Buffer.byteLength(value, "utf8");
  },
  write: (value, out, offset) => void out.write(value as string, offset, "utf8"),
};

const bytes32ArrayEncoder: HashedEncoder = {
  size(value) {
    if (!Array.isArray(value)) throw new NotFastPath();
    return 32 * value.length;
  },
  write: (value, out, offset) => (value as unknown[]).forEach((item, i) => bytes32Encoder(item, out, offset + 32 * i)),
};

function fieldEncoder(type: string): FieldEncoder | undefined {
  const uint = /^uint(\d+)$/.exec(type);
  if (uint) return { word: uintEncoder(Number(uint[1])) };
  if (type === "bytes32") return { word: bytes32Encoder };
  if (type === "address") return { word: addressEncoder };
  if (type === "string") return { hashed: stringEncoder };
  if (type === "bytes32[]") return { hashed: bytes32ArrayEncoder };
  if (type === "bool") return { word: boolEncoder };
  return undefined;
}

/** Per contract and attestation type: its type hash and field encoders (undefined if a field type is not handled). */
const PLANS = new Map<string, StructPlan | undefined>();

function planOf(contract: LedgerContract, type: string): StructPlan | undefined {
  const key = `${contract}.${type}`;
  if (PLANS.has(key)) return PLANS.get(key);
  const fields = (attestationTypes[contract] as Record<string, readonly { name: string; type: string }[]>)[type];
  let plan: StructPlan | undefined;
  if (fields) {
    const encoders = fields.map((f) => ({ name: f.name, encoder: fieldEncoder(f.type) }));
    if (encoders.every((f) => f.encoder)) {
      const encodeType = TypedDataEncoder.from({ [type]: fields.map((f) => ({ ...f })) }).encodeType(type);
      plan = {
        typeHash: Buffer.from(keccak256(Buffer.from(encodeType, "utf8")).slice(2), "hex"),
        fields: encoders.map((f) => ({ name: f.name, ...f.encoder! })),
      };
    }
  }
  PLANS.set(key, plan);
  return plan;
}

/** By verifying contract, contract and chain: looked up once a signature, so without building a key. */
const DOMAINS = new Map<string, Map<LedgerContract, Map<bigint, Buffer>>>();

function domainSeparator(contract: LedgerContract, chainId: bigint, verifyingContract: string): Buffer {
  let byContract = DOMAINS.get(verifyingContract);
  if (!byContract) DOMAINS.set(verifyingContract, (byContract = new Map()));
  let byChain = byContract.get(contract);
  if (!byChain) byContract.set(contract, (byChain = new Map()));
  let separator = byChain.get(chainId);
  if (!separator) {
    const hash = TypedDataEncoder.hashDomain(typedDataDomain({ contract, chainId, verifyingContract }));
    separator = Buffer.from(hash.slice(2), "hex");
    byChain.set(chainId, separator);
  }
  return separator;
}

export type AttestationToVerify = {
  contract: LedgerContract;
  chainId: bigint;
  verifyingContract: string;
  type: string;
  message: Record<string, unknown>;
};

/**
 * The EIP-712 digest of an attestation (32 bytes), or undefined when the reference must judge it. Throws when
 * the reference would (an unknown type): the caller treats that as a signature that recovers to no one.
 */
export function fastDigest(attestation: AttestationToVerify): Buffer | undefined {
  const plan = planOf(attestation.contract, attestation.type);
  if (!plan) return undefined;
  const struct = Buffer.allocUnsafe(32 * (plan.fields.length + 1));
  struct.set(plan.typeHash, 0);
  try {
    plan.fields.forEach((field, i) => {
      const value = attestation.message[field.name];
      if (field.word) return field.word(value, struct, 32 * (i + 1));
      const bytes = Buffer.allocUnsafe(field.hashed.size(value));
      field.hashed.write(value, bytes, 0);
      keccakInto(bytes, struct, 32 * (i + 1));
    });
  } catch (error) {
    if (error instanceof NotFastPath) return undefined;
    throw error;
  }
  const envelope = Buffer.allocUnsafe(66);
  envelope[0] = 0x19;
  envelope[1] = 0x01;
  envelope.set(domainSeparator(attestation.contract, attestation.chainId, attestation.verifyingContract), 2);
  keccakInto(struct, envelope, 34);
  const digest = Buffer.allocUnsafe(32);
  keccakInto(envelope, digest, 0);
  return digest;
}

const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;

/**
 * The 65 bytes of a signature the fast path can recover (r ‖ s ‖ v with v = 27 or 28 and s below 2^255), or
 * undefined for the reference to judge.
 */
export function fastSignature(signature: string): Buffer | undefined {
  if (!libsecp256k1 || !SIGNATURE.test(signature)) return undefined;
  const bytes = Buffer.from(signature.slice(2), "hex");
  if (bytes[32]! >= 0x80 || (bytes[64] !== 27 && bytes[64] !== 28)) return undefined;
  return bytes;
}

/**
 * The lowercase address whose key made `signature` (65 bytes, from fastSignature) over `digest`, or null; by the
 * preferred libsecp256k1 build unless `build` names another.
 */
export function recoverFast(digest: Uint8Array, signature: Uint8Array, build = libsecp256k1): string | null {
  if (!build?.recover) throw new Error("recoverFast needs a libsecp256k1 build; fastSignature refuses signatures without one");
  const publicKey = build.recover(signature.subarray(0, 64), signature[64]! - 27, digest);
  if (!publicKey) return null;
  const hash = Buffer.allocUnsafe(32);
  keccakInto(publicKey.subarray(1), hash, 0);
  return `0x${hash.toString("hex", 12)}`;
}

/** The reference: ethers' verifyTypedData. Null when it throws. */
export function recoverReference(attestation: AttestationToVerify, signature: string): string | null {
  try {
    return recoverAttester(
      {
        domain: { contract: attestation.contract, chainId: attestation.chainId, verifyingContract: attestation.verifyingContract },
        type: attestation.type as AttestationType<LedgerContract>,
        message: attestation.message,
      },
      signature,
    ).toLowerCase();
  } catch {
    return null;
  }
}

/** Recovers the signer as the reference would, by the fast path whenever it applies. */
export function recoverSigner(attestation: AttestationToVerify, signature: string): string | null {
  const bytes = fastSignature(signature);
  let digest: Buffer | undefined;
  try {
    digest = bytes && fastDigest(attestation);
  } catch {
    return null;
  }
  return bytes && digest ? recoverFast(digest, bytes) : recoverReference(attestation, signature);
}

/** Bytes before a job's items: its domain separator, its signature and its count of items. */
const JOB_HEAD = 32 + 65 + 1;
/** Bytes of a job's result: 1 and the signer's address, or 0 when no key is recovered. */
const JOB_RESULT = 21;

/**
 * Signatures to recover together by native/'s recoverSigners, in a worker or on this thread: each one's domain
 * separator, signature and EIP-712 struct encoding (its words, or the bytes a string's or an array's word hashes)
 * laid out as native/libsecp256k1.c describes, so that they travel to a worker as bytes and are hashed and recovered
 * there without an allocation per signature. It takes exactly the messages and signatures the fast path takes
 * (fastDigest, fastSignature): the caller sends the others to the reference.
 */
export class SignatureJobs {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  /** Where each job ends, so that the jobs can be shared out whole. */
  private readonly ends: number[] = [];

  get count(): number {
    return this.ends.length;
  }

  /**
   * Adds the attestation's signature as the next job; false when the fast path does not take it. Throws when the
   * reference would (an unknown type): the caller treats that as a signature that recovers to no one.
   */
  add(attestation: AttestationToVerify, signature: string): boolean {
    const plan = planOf(attestation.contract, attestation.type);
    if (!plan || !nativeAddon || signature.length !== 132 || !signature.startsWith("0x") || !oneByteText(signature)) return false;
    const start = this.ends.at(-1) ?? 0;
    let out = this.room(start, JOB_HEAD + 33);
    // As fastSignature: 65 bytes of hex (one-byte text, all written: see oneByteText), s below
    // 2^255 and v = 27 or 28, or the reference judges it.
    if (out.write(signature.slice(2), start + 32, 65, "hex") !== 65) return false;
    if (out[start + 64]! >= 0x80 || (out[start + 96] !== 27 && out[start + 96] !== 28)) return false;
    domainSeparator(attestation.contract, attestation.chainId, attestation.verifyingContract).copy(out, start);
    out[start + 97] = plan.fields.length + 1;
    out[start + JOB_HEAD] = 0;
    plan.typeHash.copy(out, start + JOB_HEAD + 1);
    let at = start + JOB_HEAD + 33;
    try {
      for (const field of plan.fields) {
        const value = attestation.message[field.name];
        if (field.word) {
          out = this.room(at, 33);
          out[at] = 0;
          field.word(value, out, at + 1);
          at += 33;
        } else {
          const size = field.hashed.size(value);
          out = this.room(at, 5 + size);
          out[at] = 1;
          out.writeUInt32LE(size, at + 1);
          field.hashed.write(value, out, at + 5);
          at += 5 + size;
        }
      }
    } catch (error) {
      if (error instanceof NotFastPath) return false;
      throw error;
    }
    this.ends.push(at);
    return true;
  }

  /** Jobs `from` to `to` (not included), as bytes of their own (a worker can be given them). */
  bytes(from = 0, to = this.count): Uint8Array {
    return this.buffer.subarray(from === 0 ? 0 : this.ends[from - 1], to === 0 ? 0 : this.ends[to - 1]);
  }

  /** The buffer, grown if need be so that `size` bytes fit at `at`. */
  private room(at: number, size: number): Buffer {
    if (at + size > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, at + size));
      this.buffer.copy(grown, 0, 0, at);
      this.buffer = grown;
    }
    return this.buffer;
  }
}

/** Whether SignatureJobs can be recovered here (native/ loaded); without it signers are recovered one at a time. */
export function jobsRecoverable(): boolean {
  return nativeAddon !== undefined;
}

/** The results of `count` jobs (SignatureJobs.bytes): read each with signerOf. */
export function recoverJobs(jobs: Uint8Array, count: number): Uint8Array {
  const results = new Uint8Array(JOB_RESULT * count);
  if (nativeAddon!.recoverSigners(jobs, results) !== count) throw new Error(`recoverJobs: the jobs are not ${count}`);
  return results;
}

/** The EIP-712 digests native/ computes for `count` jobs (32 bytes each): what the tests compare with the reference. */
export function jobDigests(jobs: Uint8Array, count: number): Uint8Array {
  const digests = new Uint8Array(32 * count);
  nativeAddon!.recoverSigners(jobs, new Uint8Array(JOB_RESULT * count), digests);
  return digests;
}

/** The lowercase address job `index` recovered to, or null when it recovered to no key. */
export function signerOf(results: Uint8Array, index: number): string | null {
  const at = JOB_RESULT * index;
  return results[at] === 1 ? `0x${Buffer.from(results.buffer, results.byteOffset + at + 1, 20).toString("hex")}` : null;
}
