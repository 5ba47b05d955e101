import { CodeError, DuplicateCodesError } from "./errors";
import { compareNodes, createTreeHasher, NODE_BYTES, nodeHash, packLeaf, type TreeHasher } from "./leaf";

/**
 * The tree is OpenZeppelin's StandardMerkleTree layout, so roots and proofs are identical to that library's:
 * n leaves sorted ascending by hash, stored as a heap array of 2n-1 nodes where node i has children 2i+1 and
 * 2i+2, and the sorted leaf k sits at position 2n-2-k. Keeping the same layout (rather than a level-by-level
 * tree) lets small batches be checked against the reference implementation byte for byte.
 */
export function leafPosition(leafCount: number, sortedIndex: number): number {
  return 2 * leafCount - 2 - sortedIndex;
}

/** Random access to a tree's nodes, in memory or in a stored tree file. */
export type NodeSource = {
  readonly leafCount: number;
  /** Copies node `position` into target at offset. */
  readInto(position: number, target: Buffer, offset: number): void;
  /** The sorted indexes between which `leaf` must be, when the source knows more than the whole range. */
  leafBounds?(leaf: Buffer): { low: number; high: number };
  /** Every node, when the source holds them in one buffer (in memory or mapped): read in place, not copied (1 µs a proof). */
  held?: Buffer;
};

export type MultiProof = {
  /** Leaf hashes in the order the contract consumes them. */
  leaves: string[];
  proof: string[];
  proofFlags: boolean[];
};

function hexOf(buffer: Buffer, offset = 0): string {
  return `0x${buffer.toString("hex", offset, offset + NODE_BYTES)}`;
}

function readHex(source: NodeSource, position: number, scratch: Buffer): string {
  if (source.held) return hexOf(source.held, position * NODE_BYTES);
  source.readInto(position, scratch, 0);
  return hexOf(scratch);
}

const siblingOf = (i: number): number => (i % 2 === 1 ? i + 1 : i - 1);
const parentOf = (i: number): number => Math.floor((i - 1) / 2);

/** Binary search of the leaf level (descending by position, ascending by sorted index); -1 when absent. */
export function findLeaf(source: NodeSource, leaf: Buffer): number {
  const probe = Buffer.alloc(NODE_BYTES);
  let { low, high } = source.leafBounds?.(leaf) ?? { low: 0, high: source.leafCount - 1 };
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const position = leafPosition(source.leafCount, middle);
    let order: number;
    if (source.held) order = compareNodes(source.held, position * NODE_BYTES, leaf, 0);
    else {
      source.readInto(position, probe, 0);
      order = compareNodes(probe, 0, leaf, 0);
    }
    if (order === 0) return position;
    if (order < 0) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

/** Sibling hashes from the leaf up, as MerkleProof.verify expects. */
export function proofAt(source: NodeSource, position: number): string[] {
  const scratch = Buffer.alloc(NODE_BYTES);
  const proof: string[] = [];
  for (let i = position; i > 0; i = parentOf(i)) proof.push(readHex(source, siblingOf(i), scratch));
  return proof;
}

/** OpenZeppelin's getMultiProof over tree positions, step for step, so the contract's multiProofVerify accepts it. */
export function multiProofAt(source: NodeSource, positions: number[]): MultiProof {
  const scratch = Buffer.alloc(NODE_BYTES);
  const sorted = [...positions].sort((a, b) => b - a);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new CodeError("CODE_DUPLICATE", "a multiproof cannot prove the same pack twice");
  }
  const queue = [...sorted];
  const proof: string[] = [];
  const proofFlags: boolean[] = [];
  while (queue.length > 0 && (queue[0] as number) > 0) {
    const node = queue.shift() as number;
    const sibling = siblingOf(node);
    if (sibling === queue[0]) {
      proofFlags.push(true);
      queue.shift();
    } else {
      proofFlags.push(false);
      proof.push(readHex(source, sibling, scratch));
    }
    queue.push(parentOf(node));
  }
  if (sorted.length === 0) proof.push(readHex(source, 0, scratch));
  return { leaves: sorted.map((p) => readHex(source, p, scratch)), proof, proofFlags };
}

// ---- sorting leaf hashes ----

/**
 * Sorts `count` 32-byte hashes: a counting sort on the leading bits (keccak output is uniform, so buckets hold
 * about one hash each) followed by insertion sort inside each bucket. Linear time and no comparator callbacks,
 * which matters at ten million leaves. `keyOffset` skips leading bytes every hash shares (a spill bucket's byte).
 * Equal hashes mean the same pack twice: they are collected, not silently merged.
 */
export function sortLeafHashes(hashes: Buffer, count: number, keyOffset = 0): { sorted: Buffer; duplicates: string[] } {
  const bits = Math.max(1, Math.min(22, Math.ceil(Math.log2(count + 1))));
  const shift = 32 - bits;
  const starts = new Uint32Array((1 << bits) + 1);
  for (let i = 0; i < count; i++) starts[(hashes.readUInt32BE(i * NODE_BYTES + keyOffset) >>> shift) + 1]++;
  for (let b = 1; b < starts.length; b++) (starts[b] as number) += starts[b - 1] as number;
  const next = starts.slice(0, -1);
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[next[hashes.readUInt32BE(i * NODE_BYTES + keyOffset) >>> shift]++] = i;
  const duplicates: string[] = [];
  for (let b = 0; b + 1 < starts.length; b++) insertionSort(hashes, order, starts[b] as number, starts[b + 1] as number, duplicates);
  const sorted = Buffer.allocUnsafe(count * NODE_BYTES);
  for (let k = 0; k < count; k++) hashes.copy(sorted, k * NODE_BYTES, (order[k] as number) * NODE_BYTES, ((order[k] as number) + 1) * NODE_BYTES);
  return { sorted, duplicates };
}

function insertionSort(hashes: Buffer, order: Uint32Array, from: number, to: number, duplicates: string[]): void {
  for (let i = from + 1; i < to; i++) {
    const current = order[i] as number;
    let j = i - 1;
    while (j >= from) {
      const comparison = compareNodes(hashes, (order[j] as number) * NODE_BYTES, hashes, current * NODE_BYTES);
      if (comparison === 0 && duplicates.length < MAX_REPORTED_DUPLICATES) duplicates.push(hexOf(hashes, current * NODE_BYTES));
      if (comparison <= 0) break;
      order[j + 1] = order[j] as number;
      j--;
    }
    order[j + 1] = current;
  }
}

export const MAX_REPORTED_DUPLICATES = 1000;

// ---- in-memory trees (aggregates, small batches, tests) ----

/** Fills internal nodes first..0 of a heap array whose higher positions are already set. */
export function hashInternalNodes(hasher: TreeHasher, nodes: Buffer, last: number, first = 0): void {
  for (let i = last; i >= first; i--) {
    hasher.nodeInto(nodes, (2 * i + 1) * NODE_BYTES, nodes, (2 * i + 2) * NODE_BYTES, nodes, i * NODE_BYTES);
  }
}

export type CodeTree = NodeSource & {
  readonly root: string;
  /** Proof that `canonicalKey` is in the tree; throws CODE_NOT_IN_BATCH when it is not. */
  proof(canonicalKey: string): string[];
  multiProof(canonicalKeys: string[]): MultiProof;
  has(canonicalKey: string): boolean;
  /** Proof of the leaf with this hash (packLeaf's 32 bytes), or undefined when the tree does not hold it: one search. */
  proofOfLeaf(leaf: Buffer): string[] | undefined;
};

function positionOf(source: NodeSource, canonicalKey: string): number {
  const position = findLeaf(source, Buffer.from(packLeaf(canonicalKey).slice(2), "hex"));
  if (position < 0) throw new CodeError("CODE_NOT_IN_BATCH", `${canonicalKey} is not in this set of codes`, { field: "key" });
  return position;
}

/** Proof methods over any node source; shared by in-memory and stored trees. */
export function withProofs<T extends NodeSource>(source: T): T & Omit<CodeTree, keyof NodeSource> {
  const root = readHex(source, 0, Buffer.alloc(NODE_BYTES));
  return Object.assign(source, {
    root,
    proof: (key: string) => proofAt(source, positionOf(source, key)),
    multiProof: (keys: string[]) =>
      multiProofAt(
        source,
        keys.map((key) => positionOf(source, key)),
      ),
    has: (key: string) => findLeaf(source, Buffer.from(packLeaf(key).slice(2), "hex")) >= 0,
    proofOfLeaf: (leaf: Buffer) => {
      const position = findLeaf(source, leaf);
      return position < 0 ? undefined : proofAt(source, position);
    },
  });
}

/** Builds the whole tree in memory: for sets that fit comfortably (a case's contents, a test batch). */
export async function buildCodeTree(canonicalKeys: Iterable<string>, hasher?: TreeHasher): Promise<CodeTree> {
  const keys = [...canonicalKeys];
  if (keys.length === 0) throw new CodeError("CODE_EMPTY_BATCH", "a Merkle tree needs at least one code");
  const usedHasher = hasher ?? (await createTreeHasher());
  const leaves = Buffer.allocUnsafe(keys.length * NODE_BYTES);
  keys.forEach((key, i) => usedHasher.leafInto(key, leaves, i * NODE_BYTES));
  const { sorted, duplicates } = sortLeafHashes(leaves, keys.length);
  if (duplicates.length > 0) throw new DuplicateCodesError(duplicates);
  const n = keys.length;
  const nodes = Buffer.allocUnsafe((2 * n - 1) * NODE_BYTES);
  for (let k = 0; k < n; k++) sorted.copy(nodes, leafPosition(n, k) * NODE_BYTES, k * NODE_BYTES, (k + 1) * NODE_BYTES);
  hashInternalNodes(usedHasher, nodes, n - 2);
  const source: NodeSource = {
    leafCount: n,
    readInto: (position, target, offset) => void nodes.copy(target, offset, position * NODE_BYTES, (position + 1) * NODE_BYTES),
    held: nodes,
  };
  return withProofs(source);
}

// ---- verification (what the contract does, for off-chain checks) ----

/** MerkleProof.verify: folds the proof into the leaf with the sorted-pair hash. */
export function processProof(leaf: string, proof: string[]): string {
  return proof.reduce(nodeHash, leaf);
}

export function verifyProof(root: string, canonicalKey: string, proof: string[]): boolean {
  return processProof(packLeaf(canonicalKey), proof).toLowerCase() === root.toLowerCase();
}

/** MerkleProof.processMultiProof, including its consistency checks on the sizes of the three arrays. */
export function processMultiProof(multiProof: MultiProof): string {
  const { leaves, proof, proofFlags } = multiProof;
  if (leaves.length + proof.length !== proofFlags.length + 1) {
    throw new CodeError("CODE_BAD_PROOF", "leaves, proof and proofFlags do not fit together");
  }
  const hashes: string[] = [];
  let leafIndex = 0;
  let hashIndex = 0;
  let proofIndex = 0;
  const take = (): string => (leafIndex < leaves.length ? (leaves[leafIndex++] as string) : (hashes[hashIndex++] as string));
  for (const flag of proofFlags) {
    const a = take();
    const b = flag ? take() : proof[proofIndex++];
    if (b === undefined) throw new CodeError("CODE_BAD_PROOF", "the multiproof runs out of proof hashes");
    hashes.push(nodeHash(a, b));
  }
  if (proofFlags.length > 0) {
    if (proofIndex !== proof.length) throw new CodeError("CODE_BAD_PROOF", "the multiproof has unused proof hashes");
    return hashes[proofFlags.length - 1] as string;
  }
  return leaves.length > 0 ? (leaves[0] as string) : (proof[0] as string);
}

export function verifyMultiProof(root: string, multiProof: MultiProof): boolean {
  return processMultiProof(multiProof).toLowerCase() === root.toLowerCase();
}
