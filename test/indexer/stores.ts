import { randomBytes } from "node:crypto";
import pg from "pg";
import { createStore, WRITER_LOCK_KEY } from "../../src/store";
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
  return { url: url.toString(), drop: async () => void (await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)) };
}

/** Runs one statement as the test server's administrator. */
export async function adminQuery<T extends object = object>(sql: string, parameters: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<T>(sql, parameters)).rows;
  } finally {
    await client.end();
  }
}

/** The backend holding the writer lock of the database at `url`, and the name its client gave the session. */
export async function writerLockHolder(url: string): Promise<{ pid: number; application_name: string } | undefined> {
  const [holder] = await adminQuery<{ pid: number; application_name: string }>(
    `SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid JOIN pg_database d ON d.oid = l.database
     WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1 AND ((l.classid::bigint << 32) | l.objid::bigint) = $2::bigint`,
    [new URL(url).pathname.slice(1), WRITER_LOCK_KEY],
  );
  return holder;
}
