import { describe, it } from "vitest";
import { expect } from "chai";
import { sql } from "kysely";
import { writerElection } from "../../src/indexer/writer";
import type { WriterRole } from "../../src/indexer/writer";
import { silentLogger } from "../../src/log";
import { createStore, isStoreUnavailable } from "../../src/store";
import type { Store } from "../../src/store";
import { adminQuery, createPostgresDatabase, freshStore, writerLockHolder } from "./stores";

/** Ends the session that holds the writer lock of the database at `url`, as a failover or an administrator would. */
async function terminateWriter(url: string): Promise<number> {
  const holder = await writerLockHolder(url);
  if (holder) await adminQuery("SELECT pg_terminate_backend($1)", [holder.pid]);
  return holder ? 1 : 0;
}

async function withPostgres(test: (store: Store, url: string) => Promise<void>) {
  const database = await createPostgresDatabase("trace_writer");
  const store = createStore(database.url);
  try {
    await store.migrate();
    await test(store, database.url);
  } finally {
    await store.close();
    await database.drop();
  }
}

async function until(condition: () => boolean) {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

const checkpoint = { id: 1, chain_id: 1, genesis_hash: "0x", deployment: "{}", block_number: 1, block_hash: "0x" };

describe("the writer lock", () => {
  it("is held by one session at a time; a session that lost it writes nothing more, and another takes it", async () => {
    await withPostgres(async (store, url) => {
      const first = await store.claimWriter();
      expect(first, "the first claim").not.to.equal(undefined);
      expect(await store.claimWriter(), "a second claim while the first holds it").to.equal(undefined);
      await first!.store.db.insertInto("sync_state").values(checkpoint).execute();

      expect(await terminateWriter(url)).to.equal(1);
      await until(() => first!.lost.aborted);
      const refused = await first!.store.db
        .updateTable("sync_state")
        .set({ block_number: 2 })
        .execute()
        .catch((error: unknown) => error);
      expect(isStoreUnavailable(refused), String(refused)).to.equal(true);
      expect(await store.db.selectFrom("sync_state").select("block_number").execute()).to.deep.equal([{ block_number: 1 }]);

      // The terminated backend releases the lock as it exits, a moment after its client has seen it go.
      let second = await store.claimWriter();
      while (!second) second = await store.claimWriter();
      await first!.close();
      await second!.close();
      const third = await store.claimWriter();
      expect(third, "a claim after the holder closed its session").not.to.equal(undefined);
      await third!.close();
    });
  });

  it("is won again, by one of them, after the writer's session is lost; the other stands by", async () => {
    await withPostgres(async (_store, url) => {
      const stores = [createStore(url), createStore(url)];
      const stop = new AbortController();
      const writes: number[] = [];
      const elections = stores.map((store) => writerElection({ store, log: silentLogger(), retryMs: 20 }));
      const runs = elections.map((election, i) =>
        election.run(async (session, signal) => {
          writes.push(i);
          // Writes through the lock's session until it is lost, as the indexer's follow loop does.
          while (!signal.aborted) {
            await sql`select 1`.execute(session.db).catch(() => undefined);
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        }, stop.signal),
      );
      try {
        const roles = () => elections.map((e) => e.role()).sort() as WriterRole[];
        await until(() => writes.length === 1);
        expect(roles()).to.deep.equal(["standby", "writer"]);

        await terminateWriter(url);
        // The lost session stopped writing; whichever election then takes the lock first (the standby, or the old
        // writer retrying) writes next. A writer that died outright is taken over by a standby: several-servers.test.ts.
        await until(() => writes.length === 2);
        await until(() => elections[writes[1]!]!.role() === "writer" && elections[1 - writes[1]!]!.role() === "standby");
        expect(roles()).to.deep.equal(["standby", "writer"]);
      } finally {
        stop.abort();
        await Promise.all(runs);
        await Promise.all(stores.map((s) => s.close()));
      }
    });
  });

  it("is the store itself on SQLite, which has one writing process per file", async () => {
    const store = await freshStore("sqlite");
    try {
      const session = await store.claimWriter();
      expect(session?.store).to.equal(store);
      expect(session?.lost.aborted).to.equal(false);
    } finally {
      await store.close();
    }
  });
});
