import { Worker } from "node:worker_threads";
import { LOWER_THREAD_PRIORITY } from "../ops/thread-priority";

/**
 * Writes a batch's code rows (table batch_codes) from a file of canonical keys, one a line, into a SQLite store, in
 * a worker thread with a connection of its own. better-sqlite3 is synchronous: on the thread that answers
 * requests, each chunk's inserts, its commit and the checkpoints the write-ahead log calls for (copying tens of MiB
 * into the database) held every request (a 0.45 s stall at 1,000,000 codes). Here they hold nothing but the
 * worker; the API's connection keeps reading beside it (WAL).
 *
 * Each chunk is one transaction that first renews the registration's claim (src/api/registration-claims.ts), as the
 * claim's `write` does: a claim taken over by another server stops the writing with `lost`, nothing of that chunk
 * written.
 *
 * The rows go in by key order. batch_codes is a table WITHOUT ROWID, stored by key, and its index by batch holds
 * (batch, key): in upload order every row lands on another page of each, at random (1,000,000 codes into a store of
 * 1,000,000 took 2× the CPU and 2.3× the time of the rowid table's inserts); in key order the batch's index entries
 * are appended and the table's pages are visited once, in order. The keys are sorted in runs of bounded size, kept
 * in files beside the keys file, and merged as they are written.
 */
/** What names a run's file, after the keys file's name and before the claim's token and the run's number. */
export const SORTED_RUN_INFIX = ".sorted-";

export function writeCodeRowsInWorker(request: {
  file: string;
  batchId: string;
  claim: string;
  keysFile: string;
  rowsPerWrite: number;
  /** Keys sorted in memory at a time: about 30 MiB of strings by default. */
  keysPerRun?: number;
}): Promise<"written" | "lost"> {
  const workerData = { keysPerRun: 500_000, ...request, driver: require.resolve("better-sqlite3") };
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
  return new Promise<"written" | "lost">((resolve, reject) => {
    worker.once("message", (answer: { outcome?: "written" | "lost"; error?: string }) => {
      if (answer.outcome) resolve(answer.outcome);
      else reject(new Error(`writing the code rows failed: ${answer.error}`));
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the code rows worker exited with ${code}`)));
  }).finally(() => void worker.terminate());
}

// Plain JavaScript (no TypeScript loader needed): the statements are the claim's renewal and the rows' insert.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { createReadStream, rmSync, writeFileSync } = require("node:fs");
const { createInterface } = require("node:readline");
const Database = require(workerData.driver);
// The rows can wait; scans cannot.
${LOWER_THREAD_PRIORITY}
const { file, batchId, claim, keysFile, rowsPerWrite, keysPerRun } = workerData;

const linesOf = (path) => createInterface({ input: createReadStream(path), crlfDelay: Infinity });

/** The keys file in sorted runs, each written to a file of its own; \`renewed\` is called after each (false: stop). */
async function sortedRuns(renewed) {
  const runs = [];
  let keys = [];
  const flush = () => {
    keys.sort();
    // Named by the claim (base64url): a server that took over a stalled one's claim sorts into files of its own.
    const run = keysFile + ${JSON.stringify(SORTED_RUN_INFIX)} + claim + "-" + runs.length;
    runs.push(run);
    writeFileSync(run, keys.join("\\n") + "\\n");
    keys = [];
    return renewed();
  };
  try {
    for await (const key of linesOf(keysFile)) {
      keys.push(key);
      if (keys.length === keysPerRun && !flush()) return { runs, lost: true };
    }
    if (keys.length > 0 && !flush()) return { runs, lost: true };
    return { runs, lost: false };
  } catch (error) {
    for (const run of runs) rmSync(run, { force: true });
    throw error;
  }
}

/** The runs' keys merged in order; their files closed when the merge ends, early too (a claim lost midway). */
async function* merged(runs) {
  const lines = runs.map(linesOf);
  const readers = lines.map((run) => run[Symbol.asyncIterator]());
  try {
    const heads = [];
    for (const reader of readers) heads.push(await reader.next());
    for (;;) {
      let least = -1;
      for (let i = 0; i < heads.length; i++) if (!heads[i].done && (least < 0 || heads[i].value < heads[least].value)) least = i;
      if (least < 0) return;
      yield heads[least].value;
      heads[least] = await readers[least].next();
    }
  } finally {
    for (const run of lines) run.input.destroy();
  }
}

async function main() {
  const db = new Database(file);
  try {
    // As the store's own connection (src/store/index.ts openSqlite): rows go in by a random key, so the page
    // cache decides how much of the index is read back from disk for each chunk.
    db.pragma("busy_timeout = 5000");
    db.pragma("synchronous = NORMAL");
    db.pragma("cache_size = -65536");
    db.pragma("wal_autocheckpoint = 10000");
    const renew = db.prepare("UPDATE code_registration_claims SET renewed_at = ? WHERE batch_id = ? AND claim = ?");
    const renewed = () => renew.run(Math.floor(Date.now() / 1000), batchId, claim).changes === 1;
    const insert = db.prepare("INSERT INTO batch_codes (canonical_key, batch_id) VALUES (?, ?)");
    // IMMEDIATE: the write lock from the start, so a reader's snapshot never has to be upgraded midway.
    const writeChunk = db.transaction((keys) => {
      if (!renewed()) return false;
      for (const key of keys) insert.run(key, batchId);
      return true;
    });
    // Sorting takes a while before the first chunk: the claim is renewed after each run.
    const { runs, lost } = await sortedRuns(() => db.transaction(renewed).immediate());
    try {
      if (lost) return "lost";
      let keys = [];
      for await (const key of merged(runs)) {
        keys.push(key);
        if (keys.length === rowsPerWrite) {
          if (!writeChunk.immediate(keys)) return "lost";
          keys = [];
        }
      }
      if (keys.length > 0 && !writeChunk.immediate(keys)) return "lost";
    } finally {
      for (const run of runs) rmSync(run, { force: true });
    }
    // Up to wal_autocheckpoint pages of rows are still only in the write-ahead log: copied into the database here,
    // not by the API's connection, whose next commit (the one that records the registration) would otherwise
    // checkpoint them on the thread that answers requests. PASSIVE: it waits for no reader or writer.
    db.pragma("wal_checkpoint(PASSIVE)");
    return "written";
  } finally {
    db.close();
  }
}
main().then(
  (outcome) => parentPort.postMessage({ outcome }),
  (error) => parentPort.postMessage({ error: String((error && error.message) || error) }),
);
`;
