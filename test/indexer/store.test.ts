import { describe, it } from "vitest";
import { expect } from "chai";
import pg from "pg";
import { sql } from "kysely";
import { createStore, immediateRead, isStoreUnavailable } from "../../src/store";
import { createPostgresDatabase, POSTGRES_ADMIN_URL } from "./stores";

describe("PostgreSQL store", () => {
  it("survives the server dropping its idle connections, and says so", async () => {
    const database = await createPostgresDatabase("trace_lost");
    const lost: Error[] = [];
    const store = createStore(database.url, { onConnectionLost: (error) => lost.push(error) });
    try {
      await store.migrate();
      await terminateConnections(new URL(database.url).pathname.slice(1));
      await waitFor(() => lost.length > 0);
      expect(lost[0]?.message).to.match(/terminating connection/);

      const checkpoint = await store.db.selectFrom("sync_state").selectAll().execute();
      expect(checkpoint).to.deep.equal([]);
    } finally {
      await store.close();
      await database.drop();
    }
  });

  it("survives losing a connection in use, and tells a lost database from a bad query", async () => {
    const database = await createPostgresDatabase("trace_lost");
    const lost: Error[] = [];
    const store = createStore(database.url, { onConnectionLost: (error) => lost.push(error) });
    try {
      await store.migrate();
      // A transaction holds its connection between queries: the pool does not listen to it then.
      const failure = await store.db
        .transaction()
        .execute(async (trx) => {
          await sql`select 1`.execute(trx);
          await terminateConnections(new URL(database.url).pathname.slice(1));
          await waitFor(() => lost.length > 0);
          await sql`select 1`.execute(trx);
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(lost[0]?.message).to.match(/terminating connection/);
      expect(isStoreUnavailable(failure), String(failure)).to.equal(true);

      expect(await store.db.selectFrom("sync_state").selectAll().execute()).to.deep.equal([]);
      const badQuery = await sql`select * from no_such_table`.execute(store.db).catch((error: unknown) => error);
      expect(isStoreUnavailable(badQuery), String(badQuery)).to.equal(false);
    } finally {
      await store.close();
      await database.drop();
    }
  });

  it("calls a database that refuses connections unavailable", async () => {
    const url = new URL(POSTGRES_ADMIN_URL);
    url.port = "1";
    const store = createStore(url.toString());
    try {
      const refused = await store.db
        .selectFrom("sync_state")
        .selectAll()
        .execute()
        .catch((error: unknown) => error);
      expect(isStoreUnavailable(refused), String(refused)).to.equal(true);
    } finally {
      await store.close();
    }
  });
});

async function terminateConnections(databaseName: string) {
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [databaseName]);
  } finally {
    await admin.end();
  }
}

async function waitFor(condition: () => boolean) {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++) await new Promise((r) => setTimeout(r, 10));
}

describe("SQLite store's immediate reads", () => {
  it("read at once what Kysely would, and decline inside a transaction or while a reader steps a statement", async () => {
    const store = createStore(":memory:");
    try {
      await store.migrate();
      const read = immediateRead(store.db);
      const names = store.db.selectFrom("products").select("name").compile();
      expect(read(names)).to.deep.equal([]);
      await store.db
        .transaction()
        .execute(async (trx) => {
          await trx.insertInto("products").values(product).execute();
          // Uncommitted, and this transaction may yet roll back: not read past Kysely's queue.
          expect(read(names)).to.equal(undefined);
          throw new Error("roll back");
        })
        .catch(() => undefined);
      await store.db.insertInto("products").values(product).execute();
      expect(read(names)).to.deep.equal([{ name: product.name }]);
      for await (const row of store.db.selectFrom("products").select("name").stream()) {
        expect(row.name).to.equal(product.name);
        expect(read(names)).to.equal(undefined);
      }
      expect(read(names)).to.deep.equal([{ name: product.name }]);
    } finally {
      await store.close();
    }
  });

  it("made from arrays (many rows) give the rows Kysely gives, and follow a schema change", async () => {
    const store = createStore(":memory:");
    try {
      await store.migrate();
      const read = immediateRead(store.db);
      await store.db.insertInto("products").values(product).execute();
      await store.db
        .insertInto("products")
        .values({ ...product, id: `0x${"ef".repeat(32)}`, product_code: "06901234561014", name: "二甲双胍片" })
        .execute();
      // Aliases, a null, and a name given twice (the later column wins, as in a row object).
      const query = sql<unknown>`SELECT name, NULL AS absent, product_code AS code, name AS code FROM products ORDER BY id`.compile(store.db);
      const kysely = (await store.db.executeQuery(query)).rows;
      expect(kysely).to.have.length(2);
      expect(read(query, true)).to.deep.equal(kysely);
      const every = sql<unknown>`SELECT * FROM products ORDER BY id`.compile(store.db);
      expect(read(every, true)).to.deep.equal((await store.db.executeQuery(every)).rows);
      // The cached statement is prepared again by SQLite after the change; the names it reports follow.
      await sql`ALTER TABLE products ADD COLUMN remark TEXT DEFAULT 'new'`.execute(store.db);
      const after = read(every, true) as Record<string, unknown>[];
      expect(after).to.deep.equal((await store.db.executeQuery(every)).rows);
      expect(after[0]!.remark).to.equal("new");
    } finally {
      await store.close();
    }
  });

  it("are never offered by a PostgreSQL store", async () => {
    const database = await createPostgresDatabase("trace_immediate");
    const store = createStore(database.url);
    try {
      expect(immediateRead(store.db)(store.db.selectFrom("products").select("name").compile())).to.equal(undefined);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});

const product = {
  id: `0x${"ab".repeat(32)}`,
  product_code: "06901234561007",
  approval_number: "国药准字H20260000",
  name: "Product 0",
  mah_id: 2,
  registered_at: 1,
};
