import * as fs from "node:fs";
import * as path from "node:path";
import { mapFile } from "../file-mapping";
import { CodeError, DuplicateCodesError } from "./errors";
import { compareNodes, createTreeHasher, NODE_BYTES, type TreeHasher } from "./leaf";
import { hashInternalNodes, leafPosition, MAX_REPORTED_DUPLICATES, sortLeafHashes, withProofs, type CodeTree, type NodeSource } from "./merkle";

/**
 * A stored tree file answers a proof for any code of a batch without rebuilding anything:
 *
 *   header (32 bytes)  "TRCTREE1" | leaf count, uint64 big-endian | 16 zero bytes
 *   nodes  (2n-1 × 32) the heap array of the OpenZeppelin-compatible tree, node 0 = root
 *
 * The leaf level (positions n-1 … 2n-2) is sorted by hash, so it doubles as the index from leaf to position:
 * a lookup is a binary search of ~log2(n) 32-byte reads and a proof another ~log2(n) reads (fewer with the index
 * `openTree` keeps of a large tree). 10,000,000 codes take 640 MB on disk.
 */
const MAGIC = Buffer.from("TRCTREE1", "latin1");
export const TREE_HEADER_BYTES = 32;

/** Leaves held in memory before spilling to per-first-byte bucket files (32 MiB of hashes). */
const DEFAULT_SPILL_THRESHOLD = 1 << 20;
const BUCKET_COUNT = 256;
const BUCKET_BUFFER_LEAVES = 2048;
/** Internal nodes computed per read/write round trip while hashing the levels above the leaves (2 MiB). */
const DEFAULT_NODE_CHUNK = 1 << 16;

export type BuildProgress = { phase: "hash-leaves" | "sort" | "hash-nodes"; done: number; total: number };

export type TreeWriterOptions = {
  /** Memory bounds: leaves kept in memory before spilling to disk, and internal nodes hashed per disk round trip. */
  spillThreshold?: number;
  nodeChunk?: number;
  /** How many codes the caller will add, for progress totals only. */
  expectedCount?: number;
  onProgress?: (progress: BuildProgress) => void;
};

export type TreeSummary = { path: string; root: string; leafCount: number };

/** Streams canonical keys into a tree file with bounded memory; the file appears only when `finish` succeeds. */
export type TreeWriter = {
  add(canonicalKey: string): void;
  readonly count: number;
  finish(): TreeSummary;
  abort(): void;
};

type Bucket = { buffer: Buffer; used: number; fd: number; count: number; file: string };

function writeAt(fd: number, buffer: Buffer, position: number, length = buffer.length): void {
  let written = 0;
  while (written < length) written += fs.writeSync(fd, buffer, written, length - written, TREE_HEADER_BYTES + position * NODE_BYTES + written);
}

function readAt(fd: number, buffer: Buffer, position: number, nodes: number, bufferOffset = 0): void {
  const length = nodes * NODE_BYTES;
  let read = 0;
  while (read < length) {
    const got = fs.readSync(fd, buffer, bufferOffset + read, length - read, TREE_HEADER_BYTES + position * NODE_BYTES + read);
    if (got === 0) throw new CodeError("CODE_TREE_CORRUPT", "the tree file ends early");
    read += got;
  }
}

/** Writes sorted leaves [base, base+count) to their heap positions, which run in the opposite direction. */
function writeSortedLeaves(fd: number, leafCount: number, sorted: Buffer, count: number, base: number): void {
  const chunk = Buffer.allocUnsafe(Math.min(count, DEFAULT_NODE_CHUNK) * NODE_BYTES);
  for (let from = 0; from < count; from += DEFAULT_NODE_CHUNK) {
    const size = Math.min(DEFAULT_NODE_CHUNK, count - from);
    for (let k = 0; k < size; k++) sorted.copy(chunk, (size - 1 - k) * NODE_BYTES, (from + k) * NODE_BYTES, (from + k + 1) * NODE_BYTES);
    writeAt(fd, chunk, leafPosition(leafCount, base + from + size - 1), size * NODE_BYTES);
  }
}

/** Hashes internal nodes top-down in chunks: children of chunk [lo, hi] are [2lo+1, 2hi+2], all already written. */
function writeInternalNodes(fd: number, leafCount: number, hasher: TreeHasher, nodeChunk: number, report: (done: number) => void): void {
  const children = Buffer.allocUnsafe(2 * nodeChunk * NODE_BYTES);
  const parents = Buffer.allocUnsafe(nodeChunk * NODE_BYTES);
  let hi = leafCount - 2;
  while (hi >= 2 * nodeChunk) {
    const lo = hi - nodeChunk + 1;
    readAt(fd, children, 2 * lo + 1, 2 * nodeChunk);
    for (let i = hi; i >= lo; i--) {
      const left = (2 * i + 1 - (2 * lo + 1)) * NODE_BYTES;
      hasher.nodeInto(children, left, children, left + NODE_BYTES, parents, (i - lo) * NODE_BYTES);
    }
    writeAt(fd, parents, lo);
    hi = lo - 1;
    report(leafCount - 1 - lo);
  }
  if (hi < 0) return;
  // The top of the tree is small enough to finish in memory.
  const top = Buffer.allocUnsafe((2 * hi + 3) * NODE_BYTES);
  readAt(fd, top, hi + 1, hi + 2, (hi + 1) * NODE_BYTES);
  hashInternalNodes(hasher, top, hi);
  writeAt(fd, top, 0, (hi + 1) * NODE_BYTES);
  report(leafCount - 1);
}

export async function createTreeWriter(treePath: string, options: TreeWriterOptions = {}): Promise<TreeWriter> {
  const hasher = await createTreeHasher();
  const spillThreshold = options.spillThreshold ?? DEFAULT_SPILL_THRESHOLD;
  const progress = options.onProgress ?? (() => undefined);
  const partialPath = `${treePath}.partial`;
  const bucketDir = `${treePath}.buckets`;
  let pending: Buffer = Buffer.allocUnsafe(Math.min(spillThreshold, 4096) * NODE_BYTES);
  let buckets: Bucket[] | null = null;
  const leaf = Buffer.allocUnsafe(NODE_BYTES);
  let count = 0;

  function flush(bucket: Bucket): void {
    fs.writeSync(bucket.fd, bucket.buffer, 0, bucket.used * NODE_BYTES);
    bucket.used = 0;
  }

  function route(buffer: Buffer, offset: number): void {
    const bucket = (buckets as Bucket[])[buffer[offset] as number] as Bucket;
    buffer.copy(bucket.buffer, bucket.used * NODE_BYTES, offset, offset + NODE_BYTES);
    bucket.used++;
    bucket.count++;
    if (bucket.used === BUCKET_BUFFER_LEAVES) flush(bucket);
  }

  function spill(): void {
    fs.mkdirSync(bucketDir, { recursive: true });
    buckets = Array.from({ length: BUCKET_COUNT }, (_, b) => {
      const file = path.join(bucketDir, `${b}`);
      return { buffer: Buffer.allocUnsafe(BUCKET_BUFFER_LEAVES * NODE_BYTES), used: 0, fd: fs.openSync(file, "w+"), count: 0, file };
    });
    for (let i = 0; i < count; i++) route(pending, i * NODE_BYTES);
    pending = Buffer.alloc(0);
  }

  function add(canonicalKey: string): void {
    if (buckets === null && count === spillThreshold) spill();
    if (buckets !== null) {
      hasher.leafInto(canonicalKey, leaf, 0);
      route(leaf, 0);
    } else {
      if ((count + 1) * NODE_BYTES > pending.length) pending = grow(pending, spillThreshold);
      hasher.leafInto(canonicalKey, pending, count * NODE_BYTES);
    }
    count++;
    if ((count & 0xffff) === 0) progress({ phase: "hash-leaves", done: count, total: options.expectedCount ?? count });
  }

  function writeLeaves(fd: number): string[] {
    if (buckets === null) {
      const { sorted, duplicates } = sortLeafHashes(pending, count);
      writeSortedLeaves(fd, count, sorted, count, 0);
      return duplicates;
    }
    const duplicates: string[] = [];
    let base = 0;
    buckets.forEach((bucket, b) => {
      flush(bucket);
      const hashes = Buffer.allocUnsafe(bucket.count * NODE_BYTES);
      if (bucket.count > 0) fs.readSync(bucket.fd, hashes, 0, hashes.length, 0);
      // Every hash in a bucket shares its first byte, so the sort keys on the bytes after it.
      const sortedBucket = sortLeafHashes(hashes, bucket.count, 1);
      duplicates.push(...sortedBucket.duplicates.slice(0, MAX_REPORTED_DUPLICATES - duplicates.length));
      writeSortedLeaves(fd, count, sortedBucket.sorted, bucket.count, base);
      base += bucket.count;
      progress({ phase: "sort", done: b + 1, total: BUCKET_COUNT });
    });
    return duplicates;
  }

  function cleanUp(): void {
    for (const bucket of buckets ?? []) fs.closeSync(bucket.fd);
    buckets = null;
    fs.rmSync(bucketDir, { recursive: true, force: true });
  }

  function finish(): TreeSummary {
    if (count === 0) throw new CodeError("CODE_EMPTY_BATCH", "a batch needs at least one code");
    const fd = fs.openSync(partialPath, "w+");
    try {
      const header = Buffer.alloc(TREE_HEADER_BYTES);
      MAGIC.copy(header, 0);
      header.writeBigUInt64BE(BigInt(count), 8);
      fs.writeSync(fd, header, 0, TREE_HEADER_BYTES, 0);
      const duplicates = writeLeaves(fd);
      if (duplicates.length > 0) throw new DuplicateCodesError(duplicates);
      writeInternalNodes(fd, count, hasher, options.nodeChunk ?? DEFAULT_NODE_CHUNK, (done) =>
        progress({ phase: "hash-nodes", done, total: count - 1 }),
      );
      const root = Buffer.allocUnsafe(NODE_BYTES);
      readAt(fd, root, 0, 1);
      fs.closeSync(fd);
      fs.renameSync(partialPath, treePath);
      return { path: treePath, root: `0x${root.toString("hex")}`, leafCount: count };
    } catch (error) {
      fs.closeSync(fd);
      fs.rmSync(partialPath, { force: true });
      throw error;
    } finally {
      cleanUp();
    }
  }

  return {
    add,
    get count() {
      return count;
    },
    finish,
    abort() {
      cleanUp();
      fs.rmSync(partialPath, { force: true });
    },
  };
}

function grow(buffer: Buffer, maxLeaves: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.min(maxLeaves, (buffer.length / NODE_BYTES) * 2) * NODE_BYTES);
  buffer.copy(bigger);
  return bigger;
}

/** Builds a stored tree from canonical keys in one call. */
export async function writeTree(treePath: string, canonicalKeys: Iterable<string>, options: TreeWriterOptions = {}): Promise<TreeSummary> {
  const writer = await createTreeWriter(treePath, options);
  try {
    for (const key of canonicalKeys) writer.add(key);
  } catch (error) {
    writer.abort();
    throw error;
  }
  return writer.finish();
}

export type StoredTree = CodeTree & { readonly path: string; close(): void };

function readHeader(fd: number, treePath: string): number {
  const header = Buffer.alloc(TREE_HEADER_BYTES);
  const got = fs.readSync(fd, header, 0, TREE_HEADER_BYTES, 0);
  if (got < TREE_HEADER_BYTES || !header.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new CodeError("CODE_TREE_CORRUPT", `${treePath} is not a stored codes tree`, { field: "tree" });
  }
  const leafCount = Number(header.readBigUInt64BE(8));
  const expectedSize = TREE_HEADER_BYTES + (2 * leafCount - 1) * NODE_BYTES;
  const actualSize = fs.fstatSync(fd).size;
  if (leafCount < 1 || actualSize !== expectedSize) {
    throw new CodeError("CODE_TREE_CORRUPT", `${treePath} holds ${actualSize} bytes, ${expectedSize} expected for ${leafCount} codes`, {
      field: "tree",
    });
  }
  return leafCount;
}

/** Trees of at most this many bytes (about 4,000 codes) are read into memory whole when opened. */
export const IN_MEMORY_TREE_BYTES = 256 * 1024;

/**
 * Nodes of a large tree's top levels held in memory (131,071: 17 levels, 4 MiB, one read when the tree opens). Each
 * level held is one read fewer per proof, and a read (a system call on a virtual machine) cost a signed-in scan
 * more than a level's 32 bytes held for every proof; with the codebook's 64 large trees open at most, 288 MiB.
 */
const TOP_NODES = (1 << 17) - 1;
/** Sorted leaves sampled into memory from a large tree, at most (16,384: 512 KiB). */
const SAMPLED_LEAVES = 1 << 14;

/**
 * Every `stride`-th sorted leaf of a large tree, sampled into memory as searches first need them (a search reads
 * ~14), not all at open: thousands of reads would stall a request. They bound a leaf's search to one block of
 * `stride` sorted leaves, which a proof then reads together instead of ~log2(n) leaves scattered over the file.
 */
function sampledLeaves(leafCount: number, readInto: NodeSource["readInto"]) {
  const stride = Math.ceil(leafCount / SAMPLED_LEAVES);
  const samples = Math.ceil(leafCount / stride);
  const sampled = Buffer.allocUnsafe(samples * NODE_BYTES);
  const held = new Uint8Array(samples);
  const sample = (j: number) => {
    if (held[j] === 0) {
      readInto(leafPosition(leafCount, j * stride), sampled, j * NODE_BYTES);
      held[j] = 1;
    }
    return j * NODE_BYTES;
  };
  return {
    stride,
    leafBounds(leaf: Buffer) {
      // The last sample not above the leaf starts its block; a leaf below the first sample is in no block.
      let low = 0;
      let high = samples - 1;
      while (low <= high) {
        const middle = (low + high) >>> 1;
        if (compareNodes(sampled, sample(middle), leaf, 0) <= 0) low = middle + 1;
        else high = middle - 1;
      }
      if (high < 0) return { low: 0, high: -1 };
      return { low: high * stride, high: Math.min(leafCount - 1, high * stride + stride - 1) };
    },
  };
}

/**
 * A large tree's file with an index in memory of at most 4.5 MiB, so that a proof (a signed-in scan's) takes a few
 * reads instead of ~2·log2(n): its top levels, which every proof climbs through, and its sampled leaves
 * (`sampledLeaves`), whose block holding the leaf is read whole on its first probe (and kept until the next block: a
 * proof's leaf sibling is almost always in it). Trees never change once written, so nothing held goes stale. For
 * 4,000,000 codes: 5 reads of 32 bytes and one of 8 KiB per proof, where it took about 44.
 */
function indexedFileSource(fd: number, leafCount: number): NodeSource {
  const nodes = 2 * leafCount - 1;
  const top = Buffer.allocUnsafe(Math.min(TOP_NODES, nodes) * NODE_BYTES);
  readAt(fd, top, 0, top.length / NODE_BYTES);
  const { stride, leafBounds } = sampledLeaves(leafCount, (position, target, offset) => readAt(fd, target, position, 1, offset));
  // The leaf block last read: sorted indexes [blockLow, blockLow + stride) sit at descending positions from `blockEnd`.
  const block = Buffer.allocUnsafe(stride * NODE_BYTES);
  let blockFirst = -1;
  let blockNodes = 0;
  return {
    leafCount,
    readInto(position, target, offset) {
      if (position < TOP_NODES && position < nodes) {
        top.copy(target, offset, position * NODE_BYTES, (position + 1) * NODE_BYTES);
        return;
      }
      if (position < blockFirst || position >= blockFirst + blockNodes) {
        if (position < leafCount - 1) return readAt(fd, target, position, 1, offset);
        // The block of sorted leaves holding this one, as positions: [first, first + blockNodes).
        const sortedIndex = 2 * leafCount - 2 - position;
        const low = sortedIndex - (sortedIndex % stride);
        const high = Math.min(leafCount - 1, low + stride - 1);
        blockFirst = leafPosition(leafCount, high);
        blockNodes = high - low + 1;
        readAt(fd, block, blockFirst, blockNodes);
      }
      block.copy(target, offset, (position - blockFirst) * NODE_BYTES, (position - blockFirst + 1) * NODE_BYTES);
    },
    leafBounds,
  };
}

/**
 * Answers from nodes held in a buffer: a small tree read whole, or a large tree's file mapped into memory, whose
 * leaves are searched through samples (`sampledLeaves`) held together: a search's probes over the whole leaf level
 * each touched a page of their own, and a page not in the processor's caches cost about as much as a hash.
 */
function heldSource(held: Buffer, leafCount: number, sampled: boolean): NodeSource {
  const readInto: NodeSource["readInto"] = (position, target, offset) =>
    held.copy(target, offset, position * NODE_BYTES, (position + 1) * NODE_BYTES);
  return sampled ? { leafCount, readInto, held, leafBounds: sampledLeaves(leafCount, readInto).leafBounds } : { leafCount, readInto, held };
}

/**
 * A large tree's nodes mapped from its file, or undefined when they cannot be (no native build, no address space). A
 * proof then reads nodes from the page cache without a system call each, about 5 µs apiece on a virtual machine,
 * which cost a proof more than the rest of it. The file is never written once in place, so the mapping stays true.
 */
function mappedNodes(fd: number, nodes: number): Buffer | undefined {
  try {
    return mapFile?.(fd, TREE_HEADER_BYTES + nodes * NODE_BYTES).subarray(TREE_HEADER_BYTES);
  } catch {
    return undefined;
  }
}

/**
 * Opens a stored tree for proofs. A small tree is read whole into memory (`bytes` says how much it holds) and its
 * file closed; a large one is mapped (`mapped`) into memory (`mappedNodes`), or where it cannot be (or `map` is false, as tests
 * ask), answers from its file through an index of at most 4.5 MiB (`indexedFileSource`).
 */
export function openTree(treePath: string, { map = true } = {}): StoredTree & { readonly bytes: number; readonly mapped: boolean } {
  const fd = fs.openSync(treePath, "r");
  try {
    const leafCount = readHeader(fd, treePath);
    const nodes = 2 * leafCount - 1;
    const small = nodes * NODE_BYTES <= IN_MEMORY_TREE_BYTES;
    const held = small ? Buffer.allocUnsafe(nodes * NODE_BYTES) : map ? mappedNodes(fd, nodes) : undefined;
    if (held) {
      if (small) readAt(fd, held, 0, nodes);
      fs.closeSync(fd);
      return Object.assign(withProofs(heldSource(held, leafCount, !small)), {
        path: treePath,
        bytes: small ? held.length : 0,
        mapped: !small,
        close: () => {},
      });
    }
    return Object.assign(withProofs(indexedFileSource(fd, leafCount)), { path: treePath, bytes: 0, mapped: false, close: () => fs.closeSync(fd) });
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}
