import type { Store } from "../store";
import { scanReads } from "../store/scan-reads";
import type { BatchFacts } from "../store/scan-reads";
import type { ApiServices } from "./context";
import { toLedgerEntries } from "./read-model";

/**
 * The custody paths a server keeps, in bytes: twice the 10,000 paths of the benchmark's store (about 6.5 KB each, six
 * signed hand-overs). A path grows with its batch's hand-overs (a batch shipped to hundreds of pharmacies has a path
 * of megabytes), so the bound is in bytes, not in batches; beyond it the path answered longest ago is dropped (below
 * half the bound, the one read first), and the next signed-in scan of its batch reads it again (one statement and
 * its organizations').
 */
export const CUSTODY_TEXT_BYTES = 128 * 2 ** 20;

/** What a kept path costs besides its text, counted in the bound: its Map entry, key, promise and buffer object. */
export const KEPT_PATH_BYTES = 256;

/** Kept custody paths of one store, as the UTF-8 JSON text a signed-in scan's answer carries. */
export type CustodyTexts = {
  /** The batch's path for its facts version: kept, or read with `read` (a failed read is not kept). */
  textOf(batch: BatchFacts, read: () => Promise<Buffer>): Promise<Buffer>;
  /** What the paths kept now count against the bound: each its text's bytes and KEPT_PATH_BYTES. */
  keptBytes(): number;
};

/**
 * Custody paths kept as text only, not also as entry objects: 10,000 paths as objects were about 50 MB of a scan
 * server's heap, every byte of it traced by each full collection, where one buffer each is outside the heap. A
 * path changes only with a new facts version of its batch (custody events set one; the organizations it names keep
 * their name, role and region for life), so a kept path answers while its version is the batch's.
 */
export function createCustodyTexts(maxBytes: number): CustodyTexts {
  const kept = new Map<string, { version: number; text: Promise<Buffer>; bytes: number }>();
  let keptBytes = 0;

  /** Drops `batchId`'s path if it is still `entry`, whose text may be unread yet (no bytes counted). */
  function drop(batchId: string, entry: { bytes: number }) {
    if (kept.get(batchId) !== entry) return;
    kept.delete(batchId);
    keptBytes -= entry.bytes;
  }

  /**
   * Counts a read path, then drops the paths answered longest ago until the rest fit: not the new one, nor one still
   * being read (it counts no bytes yet, and the scans waiting for it share its read).
   */
  function count(batchId: string, entry: { bytes: number }, text: Buffer) {
    if (kept.get(batchId) !== entry) return;
    entry.bytes = text.length + KEPT_PATH_BYTES;
    keptBytes += entry.bytes;
    for (const [oldest, dropped] of kept) {
      if (keptBytes <= maxBytes) break;
      if (oldest !== batchId && dropped.bytes > 0) drop(oldest, dropped);
    }
  }

  return {
    textOf(batch, read) {
      const version = Number(batch.facts_version);
      const cached = kept.get(batch.id);
      if (cached?.version === version) {
        // Moved to the end (read last) only near the bound: each move leaves a deleted entry that V8 later rebuilds
        // the Map's tables over (as the codebook's trees, src/api/codebook.ts).
        if (keptBytes > maxBytes / 2) {
          kept.delete(batch.id);
          kept.set(batch.id, cached);
        }
        return cached.text;
      }
      if (cached) drop(batch.id, cached);
      const entry = { version, text: read(), bytes: 0 };
      kept.set(batch.id, entry);
      entry.text.then(
        (text) => count(batch.id, entry, text),
        () => drop(batch.id, entry),
      );
      return entry.text;
    },
    keptBytes: () => keptBytes,
  };
}

const keptByStore = new WeakMap<Store, CustodyTexts>();

/**
 * The batch's custody path, signed hand-over by hand-over as ledger entries, in the JSON text a signed-in scan's
 * answer carries (written once: writing it for every scan cost a signed-in scan about 11 µs, and encoding it as part
 * of the answer's text a few µs more).
 */
export function custodyTextOf(services: ApiServices, batch: BatchFacts): Promise<Buffer> {
  const { store } = services;
  let texts = keptByStore.get(store);
  if (!texts) keptByStore.set(store, (texts = createCustodyTexts(CUSTODY_TEXT_BYTES)));
  return texts.textOf(batch, async () => {
    const text = JSON.stringify(await toLedgerEntries(store.db, await scanReads(store.db).custody(batch.id)));
    // A buffer of its own: Buffer.from would slice a short text from node's shared 8 KiB pool, which a kept slice
    // then holds whole, bytes the bound would not see.
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
    bytes.write(text);
    return bytes;
  });
}
