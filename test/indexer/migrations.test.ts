import { describe, it } from "vitest";
import { expect } from "chai";
import { Migrator, sql } from "kysely";
import type { Kysely } from "kysely";
import { createStore } from "../../src/store";
import type { Store } from "../../src/store";
import { migrationProvider } from "../../src/store/migrations";
import { createPostgresDatabase } from "./stores";
import type { StoreKind } from "./stores";

/** A store migrated only up to `migration`, as a deployment that ran an older release left it. */
async function storeAt(kind: StoreKind, migration: string): Promise<Store> {
  const database = kind === "postgres" ? await createPostgresDatabase("trace_migrate") : undefined;
  const store = createStore(database?.url ?? ":memory:");
  const { error } = await new Migrator({ db: store.db as unknown as Kysely<unknown>, provider: migrationProvider }).migrateTo(migration);
  if (error) throw error;
  return { ...store, close: async () => (await store.close(), await database?.drop()) };
}

/** SQLite's plan for a query, its steps joined. */
async function queryPlan(store: Store, query: string): Promise<string> {
  return (await sql<{ detail: string }>`explain query plan ${sql.raw(query)}`.execute(store.db)).rows.map((r) => r.detail).join("; ");
}

describe.each(["sqlite", "postgres"] as const)("migrating the read model on %s", (kind) => {
  it("0008 turns dispensed_packs into pack_states (DISPENSED by their dispenser) and counts no stolen, sampled or exported pack", async () => {
    const store = await storeAt(kind, "0007_batch_holds");
    try {
      await sql`insert into dispensed_packs (pack, batch_id, dispenser_id, dispensed_at) values ('0xaa', '0xbb', 5, 1700000000)`.execute(store.db);
      await sql`insert into batches (id, product_id, batch_number, mah_id, cmo_id, agreement_id, quantity, manufactured_at, expires_at,
        batch_record_hash, codes_root, state, recall_status, recall_level, open_deviations, in_transit, dispensed, destroyed, missing,
        recorded_at, factory_released_at, market_released_at)
        values ('0xbb', '0xcc', 'B-1', 1, 2, '0xdd', 10, 1, 2, '0xee', '0xff', 'MARKET_RELEASED', 'NONE', null, 0, 0, 1, 0, 0, 1, 1, 1)`.execute(
        store.db,
      );
      await store.migrate();
      const packs = await store.db.selectFrom("pack_states").selectAll().execute();
      expect(packs.map((row) => ({ ...row, changed_at: Number(row.changed_at) }))).to.deep.equal([
        { pack: "0xaa", batch_id: "0xbb", state: "DISPENSED", organization_id: 5, changed_at: 1700000000 },
      ]);
      const batch = await store.db.selectFrom("batches").select(["dispensed", "stolen", "sampled", "exported"]).executeTakeFirstOrThrow();
      expect(Object.values(batch).map(Number)).to.deep.equal([1, 0, 0, 0]);
      const tables = await store.db.introspection.getTables();
      expect(tables.map((table) => table.name)).not.to.include("dispensed_packs");
    } finally {
      await store.close();
    }
  });

  it("0012 keeps index entries only for pending events and for agreements' events, which the queries still find", async () => {
    const store = await storeAt(kind, "0010_unverified_attestations");
    const indexes = async () =>
      kind === "sqlite"
        ? (
            await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'ledger_events'`.execute(store.db)
          ).rows.map((r) => r.name)
        : (await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'ledger_events'`.execute(store.db)).rows.map(
            (r) => r.name,
          );
    try {
      expect(await indexes()).to.include("ledger_events_verification");
      await store.migrate();
      const now = await indexes();
      expect(now).to.include.members(["ledger_events_pending", "ledger_events_agreement", "ledger_events_unverified", "ledger_events_tx"]);
      expect(now).not.to.include("ledger_events_verification");
      if (kind === "sqlite") {
        const plan = (query: string) => queryPlan(store, query);
        expect(await plan("select * from ledger_events where verification = 'pending' order by block_number, log_index limit 10")).to.contain(
          "ledger_events_pending",
        );
        expect(await plan("select * from ledger_events where agreement_id = '0xaa'")).to.contain("ledger_events_agreement");
        expect(await plan("select * from ledger_events where agreement_id in ('0xaa', '0xbb')")).to.contain("ledger_events_agreement");
      }
    } finally {
      await store.close();
    }
  });

  it("0027 keeps every code and pack state, and makes SQLite find each by one descent of its key", async () => {
    const store = await storeAt(kind, "0026_case_keys");
    const codes = Array.from({ length: 1_000 }, (_, i) => ({
      canonical_key: `(01)06901234567892(21)S${(i * 7919) % 1_000}`,
      batch_id: `0xb${i % 3}`,
    }));
    const packs = [
      { pack: "0xaa", batch_id: "0xb0", state: "DISPENSED", organization_id: 5, changed_at: 1700000000 },
      { pack: "0xab", batch_id: "0xb1", state: "STOLEN", organization_id: 6, changed_at: 1700000001 },
    ] as const;
    const rows = async () => ({
      codes: await store.db.selectFrom("batch_codes").selectAll().orderBy("canonical_key").execute(),
      packs: (await store.db.selectFrom("pack_states").selectAll().orderBy("pack").execute()).map((row) => ({
        ...row,
        changed_at: Number(row.changed_at),
      })),
    });
    try {
      await store.db.insertInto("batch_codes").values(codes).execute();
      await store.db.insertInto("pack_states").values(packs).execute();
      const before = await rows();
      await store.migrate();
      expect(await rows()).to.deep.equal(before);
      expect(before.codes).to.have.length(1_000);
      // The writers' conflict rules hold as before: a registered code is not registered twice, a pack's state is replaced.
      await store.db
        .insertInto("batch_codes")
        .values(codes[0]!)
        .onConflict((c) => c.column("canonical_key").doNothing())
        .execute();
      await expectRefused(
        store.db
          .insertInto("batch_codes")
          .values({ ...codes[0]!, batch_id: "0xother" })
          .execute(),
      );
      await store.db
        .insertInto("pack_states")
        .values({ ...packs[0]!, state: "DESTROYED" })
        .onConflict((c) => c.column("pack").doUpdateSet({ state: "DESTROYED" }))
        .execute();
      expect((await rows()).packs.map((row) => row.state)).to.deep.equal(["DESTROYED", "STOLEN"]);
      expect(await store.db.selectFrom("batch_codes").select("canonical_key").where("batch_id", "=", "0xb1").execute()).to.have.length(333);
      if (kind === "sqlite") {
        const plan = (query: string) => queryPlan(store, query);
        expect(await plan("select batch_id from batch_codes where canonical_key = 'k'")).to.equal(
          "SEARCH batch_codes USING PRIMARY KEY (canonical_key=?)",
        );
        expect(await plan("select state from pack_states where pack = 'p'")).to.equal("SEARCH pack_states USING PRIMARY KEY (pack=?)");
        expect(await plan("select canonical_key from batch_codes where batch_id = 'b'")).to.contain("batch_codes_batch");
        expect(await plan("select pack from pack_states where batch_id = 'b'")).to.contain("pack_states_batch");
      }
    } finally {
      await store.close();
    }
  });
});

async function expectRefused(write: Promise<unknown>) {
  const outcome = await write.then(
    () => "written",
    (error: Error) => error.message,
  );
  expect(outcome).to.match(/UNIQUE|unique|duplicate/);
}
