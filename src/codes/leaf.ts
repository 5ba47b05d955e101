import { createKeccak } from "hash-wasm";
import { keccak256 } from "ethers";

/** Bytes of one Merkle node: a keccak256 digest. */
export const NODE_BYTES = 32;

const SCRATCH_BYTES = 64 + 1024;

/** abi.encode(string key) into `target`: offset word, length word, UTF-8 bytes padded to a 32-byte word. */
function encodeKeyInto(key: string, target: Buffer): number {
  target.fill(0, 0, 64);
  target[31] = 0x20;
  const length = target.write(key, 64, "utf8");
  target.writeUInt32BE(length, 60);
  const padded = Math.ceil(length / 32) * 32;
  target.fill(0, 64 + length, 64 + padded);
  return 64 + padded;
}

function encodeKey(key: string): Buffer {
  const target = Buffer.alloc(64 + Math.ceil(Buffer.byteLength(key, "utf8") / 32) * 32);
  encodeKeyInto(key, target);
  return target;
}

/**
 * A pack's id on the ledger: keccak256(abi.encode(key)). Contracts take pack ids (dispensing, proofs) and hash them
 * once more into the leaf themselves, so an internal node of the tree can never be passed off as a pack.
 */
export function packId(canonicalKey: string): string {
  return keccak256(encodeKey(canonicalKey));
}

/**
 * The Merkle leaf of a canonical key, exactly as OpenZeppelin's StandardMerkleTree with leaf encoding ["string"]
 * computes it and as a contract recomputes it: keccak256(bytes.concat(keccak256(abi.encode(key)))). Hashing twice
 * keeps a 64-byte internal node from ever passing as a leaf (second-preimage attack).
 */
export function packLeaf(canonicalKey: string): string {
  return keccak256(packId(canonicalKey));
}

/** Commutative node hash (sorted pair), what OpenZeppelin's MerkleProof.verify and multiProofVerify compute. */
export function nodeHash(a: string, b: string): string {
  const [low, high] = a.toLowerCase() < b.toLowerCase() ? [a, b] : [b, a];
  return keccak256(Buffer.concat([Buffer.from(low.slice(2), "hex"), Buffer.from(high.slice(2), "hex")]));
}

/** Compares two 32-byte nodes held in buffers, word by word (hashes differ early: usually in the first word). */
export function compareNodes(a: Buffer, aOffset: number, b: Buffer, bOffset: number): number {
  for (let i = 0; i < NODE_BYTES; i += 4) {
    const x = a.readUInt32BE(aOffset + i);
    const y = b.readUInt32BE(bOffset + i);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Bulk hashing for large trees: keccak256 in WebAssembly, several times faster than the JavaScript one. */
export type TreeHasher = {
  /** Writes packLeaf(key) into target at offset. */
  leafInto(key: string, target: Buffer, offset: number): void;
  /** Writes the leaf of the pack with this id (0x and 64 hex digits: packId's, so one hash of the two) into target at offset. */
  leafOfPackInto(packId: string, target: Buffer, offset: number): void;
  /** Writes the sorted-pair hash of the nodes at aOffset and bOffset into target at offset. */
  nodeInto(a: Buffer, aOffset: number, b: Buffer, bOffset: number, target: Buffer, offset: number): void;
};

export async function createTreeHasher(): Promise<TreeHasher> {
  const keccak = await createKeccak(256);
  const scratch = Buffer.alloc(SCRATCH_BYTES);
  const pair = Buffer.alloc(2 * NODE_BYTES);
  return {
    leafInto(key, target, offset) {
      const fits = Buffer.byteLength(key, "utf8") <= SCRATCH_BYTES - 64;
      const encoded = fits ? scratch.subarray(0, encodeKeyInto(key, scratch)) : encodeKey(key);
      keccak.init();
      keccak.update(encoded);
      const inner = keccak.digest("binary");
      keccak.init();
      keccak.update(inner);
      target.set(keccak.digest("binary"), offset);
    },
    leafOfPackInto(packId, target, offset) {
      if (scratch.write(packId.slice(2), 0, NODE_BYTES, "hex") !== NODE_BYTES) throw new TypeError(`${packId} is not a pack id`);
      keccak.init();
      keccak.update(scratch.subarray(0, NODE_BYTES));
      target.set(keccak.digest("binary"), offset);
    },
    nodeInto(a, aOffset, b, bOffset, target, offset) {
      const aFirst = compareNodes(a, aOffset, b, bOffset) <= 0;
      a.copy(pair, aFirst ? 0 : NODE_BYTES, aOffset, aOffset + NODE_BYTES);
      b.copy(pair, aFirst ? NODE_BYTES : 0, bOffset, bOffset + NODE_BYTES);
      keccak.init();
      keccak.update(pair);
      target.set(keccak.digest("binary"), offset);
    },
  };
}
