import { randomBytes } from "node:crypto";
import pg from "pg";
import { createStore } from "../../src/store";
import type { Store } from "../../src/store";

import { POSTGRES_ADMIN_URL } from "../prerequisites";

export { POSTGRES_ADMIN_URL };

export type StoreKind = "sqlite" | "postgres";
export const STORE_KINDS: StoreKind[] = ["sqlite", "postgres"];

/** A fresh, migrated store of each kind: SQLite in memory, or a new PostgreSQL database dropped on close. */
export async function freshStore(kind: StoreKind): Promise<Store> {
  if (kind === "sqlite") {
    const store = createStore(":memory:");
    await store.migrate();
    return store;
  }
  const database = await createPostgresDatabase("trace_test");
  const store = createStore(database.url);
  await store.migrate();
  return {
    ...store,
    async close() {
      await store.close();
      await database.drop();
    },
  };
}

/** A new, empty PostgreSQL database on the test server, and a way to drop it (even with connections left). */
export async function createPostgresDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function adminQuery(sql: string) {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
