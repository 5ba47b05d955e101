import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { expect } from "chai";
import { afterEach, beforeEach, describe, it } from "vitest";
import { createStore, immediateRead, writeRows } from "../../src/store";
import type { Store } from "../../src/store";

/**
 * A SQLite store's immediate reads (a scan's statement, a token's key) keep their read transaction open between
 * reads while nothing is committed (src/store/kept-read.ts). What a user relies on: every read sees all that was
 * committed before it, by any process, as a new transaction would; and the kept transaction holds back neither the
 * store's own writes nor the write-ahead log's checkpoints.
 */
describe("a SQLite store's immediate reads", () => {
  let dir: string;
  let file: string;
  let store: Store;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "trace-kept-read-"));
    file = path.join(dir, "store.sqlite");
    store = createStore(file);
    await store.migrate();
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const nonces = () =>
    immediateRead(store.db)(store.db.selectFrom("redeemed_challenges").select("nonce").orderBy("nonce").compile())!.map((row) => row.nonce);

  /** Commits a challenge's redemption from another process, as another server or the indexer would. */
  function redeemElsewhere(nonce: string) {
    const script = `const db = new (require("better-sqlite3"))(process.argv[1]); db.pragma("busy_timeout = 5000");
      db.prepare("INSERT INTO redeemed_challenges (nonce, expires_at) VALUES (?, 1)").run(process.argv[2]); db.close();`;
    execFileSync(process.execPath, ["-e", script, file, nonce], { cwd: path.resolve(__dirname, "../..") });
  }

  // A store's first read finds the -shm file to watch; from the second on, reads keep their transaction.
  it("see a row another process committed at the very next read", () => {
    expect([nonces(), nonces()]).to.deep.equal([[], []]);
    redeemElsewhere("a");
    expect(nonces()).to.deep.equal(["a"]);
    redeemElsewhere("b");
    expect(nonces()).to.deep.equal(["a", "b"]);
  });

  it("see what another connection of this process commits, and what their own store writes, at the very next read", async () => {
    const other = createStore(file);
    try {
      expect([nonces(), nonces()]).to.deep.equal([[], []]);
      await other.db.insertInto("redeemed_challenges").values({ nonce: "a", expires_at: 1 }).execute();
      expect(nonces()).to.deep.equal(["a"]);
      await store.db.insertInto("redeemed_challenges").values({ nonce: "b", expires_at: 1 }).execute();
      expect(nonces()).to.deep.equal(["a", "b"]);
      await store.db.transaction().execute(async (trx) => {
        await trx.insertInto("redeemed_challenges").values({ nonce: "c", expires_at: 1 }).execute();
      });
      expect(nonces()).to.deep.equal(["a", "b", "c"]);
    } finally {
      await other.close();
    }
  });

  it("leave nothing their store writes inside their read transaction: rows written past the query builder are committed at once", async () => {
    expect([nonces(), nonces()]).to.deep.equal([[], []]);
    await writeRows(store.db, store.db, "redeemed_challenges", [{ nonce: "a", expires_at: 1 }]);
    const other = new SqliteDatabase(file, { readonly: true });
    try {
      expect(other.prepare("SELECT nonce FROM redeemed_challenges").pluck().all()).to.deep.equal(["a"]);
    } finally {
      other.close();
    }
    expect(nonces()).to.deep.equal(["a"]);
  });

  it("hold back a restart of the write-ahead log only until a checkpoint has copied what they read", () => {
    const checkpointer = new SqliteDatabase(file);
    try {
      // The migration's frames are in the log, not yet copied: a kept read transaction holds a mark in it.
      nonces();
      nonces();
      const truncate = () => (checkpointer.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[])[0]!.busy;
      expect(truncate(), "the kept transaction's mark holds the log").to.equal(1);
      // That checkpoint copied every frame: the next read begins a transaction that reads the database file alone.
      nonces();
      expect(truncate()).to.equal(0);
      redeemElsewhere("a");
      expect(nonces()).to.deep.equal(["a"]);
    } finally {
      checkpointer.close();
    }
  });
});
