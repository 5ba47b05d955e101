import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { expect } from "chai";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, it } from "vitest";
import { createStore, readRowsTogether } from "../../src/store";
import { keptRead } from "../../src/store/kept-read";
import { createPostgresDatabase } from "../indexer/stores";

/**
 * Statements read together (a provenance page's two) see one snapshot of the store: a commit by another connection
 * between them is in both or in neither, whatever state the reading connection's kept read transaction is in.
 */
describe("statements read together", () => {
  let dir: string;
  let file: string;
  let reader: SqliteDatabase.Database;
  let writer: SqliteDatabase.Database;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "trace-read-together-"));
    file = path.join(dir, "store.sqlite");
    reader = new SqliteDatabase(file);
    reader.pragma("journal_mode = WAL");
    reader.exec("CREATE TABLE events (n INTEGER)");
    writer = new SqliteDatabase(file);
  });

  afterEach(() => {
    reader.close();
    writer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Counts the events twice, another connection committing one in between. */
  function countAroundACommit() {
    const count = reader.prepare("SELECT count(*) AS n FROM events").pluck();
    return () => {
      const first = count.get();
      writer.prepare("INSERT INTO events VALUES (1)").run();
      return [first, count.get()];
    };
  }

  it("on SQLite see one snapshot: on a first read, in a kept transaction, after a commit ended it, and where none can be kept", () => {
    const kept = keptRead(reader, file);
    const read = countAroundACommit();
    // The first read finds the -shm file to watch: no transaction is kept yet.
    expect(kept.read(read, true), "first read").to.deep.equal([0, 0]);
    // The header is known now: a transaction is begun and kept.
    expect(kept.read(() => reader.prepare("SELECT count(*) FROM events").pluck().get())).to.equal(1);
    expect(kept.holds).to.equal(true);
    expect(kept.read(read, true), "in the kept transaction").to.deep.equal([1, 1]);
    expect(kept.read(read, true), "after a commit ended it").to.deep.equal([2, 2]);
    kept.end();
    const unwatched = keptRead(reader, ":memory:");
    expect(unwatched.read(read, true), "none can be kept").to.deep.equal([3, 3]);
    // Read one at a time, the statements see the commit between them: what `together` is for.
    expect(unwatched.read(read), "not together").to.deep.equal([4, 5]);
  });

  it("on a SQLite store whose connection another caller's transaction holds, wait for it and never read what it rolled back", async () => {
    const store = createStore(path.join(dir, "store-held.sqlite"));
    try {
      await store.migrate();
      const count = sql<{ n: number }>`SELECT count(*) AS n FROM redeemed_challenges`.compile(store.db);
      let inserted!: () => void;
      let release!: () => void;
      const insertedOnce = new Promise<void>((resolve) => (inserted = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      const writing = store.db
        .transaction()
        .execute(async (trx) => {
          await trx.insertInto("redeemed_challenges").values({ nonce: "a", expires_at: 1 }).execute();
          inserted();
          await released;
          throw new Error("roll back");
        })
        .catch(() => undefined);
      await insertedOnce;
      // Uncommitted, and about to be rolled back: not read at once on the same connection, but after the transaction.
      const reading = readRowsTogether(store.db, [count, count]);
      release();
      await writing;
      expect(await reading).to.deep.equal([[{ n: 0 }], [{ n: 0 }]]);
    } finally {
      await store.close();
    }
  });

  it("on PostgreSQL run in one read-only REPEATABLE READ transaction", async () => {
    const database = await createPostgresDatabase("trace_read_together");
    const store = createStore(database.url);
    try {
      // The transaction's start, its isolation and its access mode, as each statement sees them.
      const transaction = sql<{ began: string; isolation: string; readOnly: string }>`SELECT transaction_timestamp()::text AS began,
        current_setting('transaction_isolation') AS isolation, current_setting('transaction_read_only') AS "readOnly"`.compile(store.db);
      const [first, second] = await readRowsTogether(store.db, [transaction, transaction]);
      expect(first![0]).to.deep.include({ isolation: "repeatable read", readOnly: "on" });
      expect(second![0], "the same transaction").to.deep.equal(first![0]);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});
