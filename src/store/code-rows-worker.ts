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
 */
export function writeCodeRowsInWorker(request: {
  file: string;
  batchId: string;
  claim: string;
  keysFile: string;
  rowsPerWrite: number;
}): Promise<"written" | "lost"> {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...request, driver: require.resolve("better-sqlite3") } });
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
const { createReadStream } = require("node:fs");
const { createInterface } = require("node:readline");
const Database = require(workerData.driver);
// The rows can wait; scans cannot.
${LOWER_THREAD_PRIORITY}
const { file, batchId, claim, keysFile, rowsPerWrite } = workerData;

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
    const insert = db.prepare("INSERT INTO batch_codes (canonical_key, batch_id) VALUES (?, ?)");
    // IMMEDIATE: the write lock from the start, so a reader's snapshot never has to be upgraded midway.
    const writeChunk = db.transaction((keys) => {
      if (renew.run(Math.floor(Date.now() / 1000), batchId, claim).changes !== 1) return false;
      for (const key of keys) insert.run(key, batchId);
      return true;
    });
    let keys = [];
    for await (const key of createInterface({ input: createReadStream(keysFile), crlfDelay: Infinity })) {
      keys.push(key);
      if (keys.length === rowsPerWrite) {
        if (!writeChunk.immediate(keys)) return "lost";
        keys = [];
      }
    }
    if (keys.length > 0 && !writeChunk.immediate(keys)) return "lost";
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
