import { createReadStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { writeRows } from "../store";
import { writeCodeRowsInWorker } from "../store/code-rows-worker";
import type { Store } from "../store";
import { CodeError, createTreeHasher, openTree, packId, packLeaf } from "../codes";
import { NODE_BYTES, type TreeHasher } from "../codes/leaf";
import { buildTreeInWorker } from "../codes/tree-worker";
import type { StoredTree } from "../codes";
import { badInput, LedgerError } from "../ledger/errors";
import { alreadyRegistered, ClaimLostError, registrationClaims } from "./registration-claims";
import { attemptFiles, sweepRegistrationLeftovers } from "./registration-leftovers";
import { spoolCodes } from "./code-spool";
import type { BatchTerms, CodeLine, CodeSource } from "./code-spool";

/**
 * The off-chain half of a batch's codes: which batch each canonical code belongs to and the stored Merkle tree
 * that answers proofs. The chain holds only the root; registration is refused unless the codes hash to it.
 */
export type CodeBook = {
  register(request: { batchId: string; codes: string[]; by: number; now: number }): Promise<{ root: string; count: number }>;
  /** The same for a text body streamed, one code a line (millions of lines); nothing is kept unless all pass. */
  registerText(request: { batchId: string; text: AsyncIterable<Uint8Array>; by: number; now: number }): Promise<{ root: string; count: number }>;
  /**
   * The Merkle root a batch's codes hash to, before the batch is recorded (what its CMO signs as the batch's codes
   * root): every code parsed and checked as registration checks it (one product; a printed (17) that is the batch's
   * expiry), nothing kept.
   */
  rootOf(request: { codes: CodeSource; expiresAt: number }): Promise<{ root: string; count: number; productCode: string }>;
  /**
   * Proof that the pack is among the batch's registered codes; undefined when the batch has no codes here or this is
   * not one of them. `packId` (packId(canonicalKey)), when the caller has it, saves hashing the key again.
   */
  proof(batchId: string, canonicalKey: string, packId?: string): Promise<string[] | undefined>;
  /**
   * One multiproof that the packs (canonical keys) are among the batch's registered codes, with their pack ids in
   * the proof's order, as dispensing and pack state changes take them; undefined when the batch has no codes here.
   * Throws CODE_NOT_IN_BATCH (a CodeError) for a key that is not the batch's.
   */
  multiProof(batchId: string, canonicalKeys: string[]): Promise<{ packs: string[]; proof: string[]; proofFlags: boolean[] } | undefined>;
  /**
   * Registers again, from the files each registration keeps in the data directory, the codes of every batch the
   * store has no codes for (a lost store rebuilt from the chain), checked against the batch's root as any
   * registration is; writes those files for batches registered before they were kept; and deletes the working
   * files of registrations a killed server left (`swept`, src/api/registration-leftovers.ts).
   */
  recover(): Promise<{
    reregistered: string[];
    refused: { batchId: string; reason: string }[];
    swept: string[];
    unswept: { name: string; reason: string }[];
  }>;
  close(): void;
};

/**
 * What a registration keeps in `<dataDir>/trees`: the tree (leaf hashes, for proofs), the canonical keys one a line
 * (the tree's hashes cannot be turned back into codes) and who registered them when.
 */
export function registrationFiles(dataDir: string, batchId: string) {
  const base = path.join(dataDir, "trees", batchId);
  return { tree: `${base}.tree`, keys: `${base}.codes`, record: `${base}.registration.json` };
}

type RegistrationRecord = { batchId: string; root: string; count: number; registeredBy: number; registeredAt: number };

/**
 * Large trees kept open (a mapping or a file descriptor each), and the memory small trees read whole may hold
 * together: 256 MiB, twice the 9,998 small trees of the 10,000,000-code store (12.5 KiB each). Opening a
 * tree again cost a proof 150-370 µs, where one held took 10-30 µs (measured in-process on a loaded machine), and
 * with 64 MiB held (half of those trees) about half of the scans of its small batches would open theirs again;
 * large trees, mapped, hold no index; where native/ is not built each holds up to 4.5 MiB of index for its preads
 * (up to 288 MiB more).
 */
const MAX_OPEN_TREES = 64;
const HELD_TREE_BYTES = 256 * 2 ** 20;

export function createCodeBook(store: Store, dataDir: string): CodeBook {
  // A registered batch's tree never changes, so a tree once opened answers for the life of the process. Small
  // trees (most batches) are held in memory, up to HELD_TREE_BYTES; large ones mapped or read from their file.
  const open = new Map<string, StoredTree & { bytes: number }>();
  let heldBytes = 0;
  let openFiles = 0;

  /**
   * The batch's tree if it is open, most recently used last so that the oldest is dropped first; moved there only
   * once the trees held near a bound (as the statement cache, src/store/index.ts): each move leaves a deleted entry
   * in the Map, whose tables V8 then rebuilds, about 3 µs of a proof with a thousand trees open.
   */
  function openedTree(batchId: string) {
    const cached = open.get(batchId);
    if (cached && (heldBytes > HELD_TREE_BYTES / 2 || openFiles > MAX_OPEN_TREES / 2)) {
      open.delete(batchId);
      open.set(batchId, cached);
    }
    return cached;
  }

  async function treeOf(batchId: string) {
    const cached = openedTree(batchId);
    if (cached) return cached;
    const row = await store.db.selectFrom("code_trees").select("tree_path").where("batch_id", "=", batchId).executeTakeFirst();
    if (!row) return undefined;
    if (open.has(batchId)) return open.get(batchId)!;
    const tree = openTree(row.tree_path);
    heldBytes += tree.bytes;
    if (tree.bytes === 0) openFiles++;
    open.set(batchId, tree);
    for (const [oldest, dropped] of open) {
      if (heldBytes <= HELD_TREE_BYTES && openFiles <= MAX_OPEN_TREES) break;
      if (oldest === batchId) continue;
      dropped.close();
      open.delete(oldest);
      heldBytes -= dropped.bytes;
      if (dropped.bytes === 0) openFiles--;
    }
    return tree;
  }
  const leafHasher = createTreeHasher();
  let hasher: TreeHasher | undefined;
  void leafHasher.then((ready) => (hasher = ready));
  const leaf = Buffer.alloc(NODE_BYTES);

  async function isRegistered(batchId: string) {
    return (await store.db.selectFrom("code_trees").select("batch_id").where("batch_id", "=", batchId).executeTakeFirst()) !== undefined;
  }

  /** Batches whose registration is under way here: a second one would write over the first's files. */
  const registering = new Set<string>();
  const claims = registrationClaims(store);

  /**
   * Parses codes as they arrive, spooling their canonical keys to disk so memory stays bounded at millions of codes,
   * and builds their tree in a worker thread. Only once the codes hash to the batch's root does this server claim
   * the batch in the database and write its rows, a chunk per transaction so that other requests are answered in
   * between; the claim keeps any other server from writing or deleting the batch's rows meanwhile. A failure at any
   * step leaves nothing registered.
   */
  async function registerCodes(batchId: string, codes: CodeSource, by: number, now: number) {
    const batch = await store.db
      .selectFrom("batches")
      .innerJoin("products", "products.id", "batches.product_id")
      .select(["batches.codes_root", "batches.expires_at", "products.product_code"])
      .where("batches.id", "=", batchId)
      .executeTakeFirst();
    if (!batch) throw new LedgerError("not_found", "UNKNOWN_BATCH", `no batch ${batchId} is on the ledger`);
    if (registering.has(batchId) || (await isRegistered(batchId))) throw alreadyRegistered(batchId);
    registering.add(batchId);
    const files = registrationFiles(dataDir, batchId);
    const treePath = files.tree;
    const { pending, spool } = attemptFiles(treePath);
    try {
      await mkdir(path.dirname(treePath), { recursive: true });
      const { summary, count } = await hashCodes(pending, spool, codes, { productCode: batch.product_code, expiresAt: batch.expires_at });
      if (summary.root !== batch.codes_root) {
        throw new LedgerError(
          "refused",
          "CODES_ROOT_MISMATCH",
          `these ${count} codes hash to ${summary.root}, but batch ${batchId} committed ${batch.codes_root}`,
        );
      }
      const claim = await claims.take(batchId);
      try {
        await rename(pending, treePath);
        await rename(spool, files.keys);
        const record: RegistrationRecord = { batchId, root: summary.root, count, registeredBy: by, registeredAt: now };
        await writeFile(files.record, JSON.stringify(record), { mode: 0o600 });
        await writeCodeRows(batchId, claim, files.keys);
        await claim.finish((trx) =>
          trx
            .insertInto("code_trees")
            .values({ batch_id: batchId, root: summary.root, code_count: count, tree_path: treePath, registered_by: by, registered_at: now })
            .execute(),
        );
      } catch (error) {
        // Taken over by another server (this one looked dead): the batch's rows and files are its now.
        if (error instanceof ClaimLostError) throw error.answer;
        await claim.abandon();
        for (const file of Object.values(files)) await rm(file, { force: true });
        throw error;
      }
      return { root: summary.root, count };
    } finally {
      registering.delete(batchId);
      await rm(pending, { force: true });
      await rm(spool, { force: true });
    }
  }

  /**
   * The batch's rows, a chunk per transaction that renews the claim. On a SQLite file they are written by a worker
   * thread on a connection of its own (the driver is synchronous: on this thread every chunk held every request);
   * PostgreSQL's driver waits off-thread, so its chunks are written from here.
   */
  async function writeCodeRows(batchId: string, claim: { token: string; write: ClaimWrite }, keysFile: string) {
    if (store.sqliteFile) {
      const request = { file: store.sqliteFile, batchId, claim: claim.token, keysFile, rowsPerWrite: ROWS_PER_WRITE };
      if ((await writeCodeRowsInWorker(request)) === "lost") throw new ClaimLostError();
      return;
    }
    for await (const chunk of spooledRows(keysFile, batchId)) await claim.write((trx) => writeRows(store.db, trx, "batch_codes", chunk));
  }

  /** A batch's canonical keys from the store, a page at a time (PostgreSQL streams only with a cursor library). */
  async function* storedKeyLines(batchId: string) {
    let after = "";
    while (true) {
      const page = await store.db
        .selectFrom("batch_codes")
        .select("canonical_key")
        .where("batch_id", "=", batchId)
        .where("canonical_key", ">", after)
        .orderBy("canonical_key")
        .limit(ROWS_PER_WRITE)
        .execute();
      if (page.length === 0) return;
      yield page.map((row) => `${row.canonical_key}\n`).join("");
      after = page.at(-1)!.canonical_key;
    }
  }

  /** Batches registered before registrations kept their codes: written from the store while it still has them. */
  async function keepLegacyRegistrations() {
    const registered = await store.db.selectFrom("code_trees").select(["batch_id", "root", "code_count", "registered_by", "registered_at"]).execute();
    for (const row of registered) {
      const files = registrationFiles(dataDir, row.batch_id);
      if (existsSync(files.record)) continue;
      await writeFile(`${files.keys}.writing`, storedKeyLines(row.batch_id), { mode: 0o600 });
      await rename(`${files.keys}.writing`, files.keys);
      const record: RegistrationRecord = {
        batchId: row.batch_id,
        root: row.root,
        count: row.code_count,
        registeredBy: row.registered_by,
        registeredAt: row.registered_at,
      };
      await writeFile(files.record, JSON.stringify(record), { mode: 0o600 });
    }
  }

  return {
    register({ batchId, codes, by, now }) {
      return registerCodes(batchId, { lines: jsonCodes(codes) }, by, now);
    },
    registerText({ batchId, text, by, now }) {
      return registerCodes(batchId, { text }, by, now);
    },
    async recover() {
      const { swept, unswept } = await sweepRegistrationLeftovers(store, path.join(dataDir, "trees"));
      await keepLegacyRegistrations();
      const unregistered = await store.db
        .selectFrom("batches")
        .leftJoin("code_trees", "code_trees.batch_id", "batches.id")
        .select("batches.id")
        .where("code_trees.batch_id", "is", null)
        .execute();
      const reregistered: string[] = [];
      const refused: { batchId: string; reason: string }[] = [];
      for (const { id } of unregistered) {
        const files = registrationFiles(dataDir, id);
        if (!existsSync(files.record) || !existsSync(files.keys)) continue;
        const record = await readRecord(files.record);
        if (!record) {
          refused.push({ batchId: id, reason: `${files.record} is not a registration record` });
          continue;
        }
        try {
          await registerCodes(id, { lines: keyLines(files.keys) }, record.registeredBy, record.registeredAt);
          reregistered.push(id);
        } catch (error) {
          if (!(error instanceof LedgerError)) throw error;
          refused.push({ batchId: id, reason: error.message });
        }
      }
      return { reregistered, refused, swept, unswept };
    },
    async rootOf({ codes, expiresAt }) {
      const scratch = await mkdtemp(path.join(tmpdir(), "trace-root-"));
      try {
        // No product given: the first code names the product every other code must be of.
        const { summary, count, productCode } = await hashCodes(path.join(scratch, "tree"), path.join(scratch, "keys"), codes, { expiresAt });
        return { root: summary.root, count, productCode: productCode! };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    async proof(batchId, canonicalKey, packId) {
      // No wait for a tree already open and the hasher once ready: each await cost a signed-in scan a turn of the queue.
      const tree = openedTree(batchId) ?? (await treeOf(batchId));
      if (!tree) return undefined;
      // The leaf hashed in WebAssembly: the JavaScript keccak cost a signed-in scan more than its lookups.
      const leaves = hasher ?? (await leafHasher);
      if (packId === undefined) leaves.leafInto(canonicalKey, leaf, 0);
      else leaves.leafOfPackInto(packId, leaf, 0);
      return tree.proofOfLeaf(leaf);
    },
    async multiProof(batchId, canonicalKeys) {
      const tree = await treeOf(batchId);
      if (!tree) return undefined;
      const { leaves, proof, proofFlags } = tree.multiProof(canonicalKeys);
      const byLeaf = new Map(canonicalKeys.map((key) => [packLeaf(key), key]));
      return { packs: leaves.map((leaf) => packId(byLeaf.get(leaf)!)), proof, proofFlags };
    },
    close() {
      for (const tree of open.values()) tree.close();
      open.clear();
      heldBytes = 0;
      openFiles = 0;
    },
  };
}

function* jsonCodes(codes: string[]): Generator<CodeLine> {
  for (const [i, text] of codes.entries()) yield { text, where: `codes[${i}]`, field: `codes.${i}` };
}

/**
 * Rows per transaction: the claim is renewed with each, and a writer on another connection (the indexer, a sign-in)
 * waits at most one chunk's write for the lock.
 */
const ROWS_PER_WRITE = 2_000;

type ClaimWrite = Awaited<ReturnType<ReturnType<typeof registrationClaims>["take"]>>["write"];

/**
 * Parses each code as it arrives and spools its canonical key, one a line (src/api/code-spool.ts); then builds the
 * tree of the spooled keys (src/codes/tree-worker.ts). Both in worker threads.
 */
async function hashCodes(pending: string, spool: string, codes: CodeSource, terms: BatchTerms) {
  const { count, productCode } = await spoolCodes(spool, codes, terms);
  if (count === 0) throw badInput("NO_CODES", "no codes were sent: send one code per line", "codes");
  try {
    return { summary: await buildTreeInWorker(spool, pending), count, productCode };
  } catch (error) {
    if (error instanceof CodeError) throw badInput(error.code, error.message, "codes");
    throw error;
  }
}

/** A registration record as kept, or undefined when the file does not hold one. */
async function readRecord(file: string): Promise<RegistrationRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(file, "utf8")) as Partial<RegistrationRecord>;
    return Number.isSafeInteger(record.registeredBy) && Number.isSafeInteger(record.registeredAt) ? (record as RegistrationRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** A kept keys file as registration input: canonical keys parse as themselves. */
async function* keyLines(file: string): AsyncGenerator<CodeLine> {
  let line = 0;
  for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    line++;
    yield { text, where: `${file} line ${line}`, field: `line.${line}` };
  }
}

/** The spooled keys as batch_codes rows, a chunk at a time. */
async function* spooledRows(spool: string, batchId: string) {
  let rows: { canonical_key: string; batch_id: string }[] = [];
  for await (const key of createInterface({ input: createReadStream(spool), crlfDelay: Infinity })) {
    rows.push({ canonical_key: key, batch_id: batchId });
    if (rows.length === ROWS_PER_WRITE) {
      yield rows;
      rows = [];
    }
  }
  if (rows.length > 0) yield rows;
}
