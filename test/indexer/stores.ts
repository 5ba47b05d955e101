import { randomBytes } from "node:crypto";
import pg from "pg";
import { createStore, WRITER_LOCK_KEY } from "../../src/store";
import type { Store } from "../../src/store";

import { POSTGRES_ADMIN_URL } from "../prerequisites";

export { POSTGRES_ADMIN_URL };

export type StoreKind = "sqlite" | "postgres";
export const STORE_KINDS: StoreKind[] = ["sqlite", "postgres"];

type TestDatabase = { url: string; drop(): Promise<void> };

/**
 * PostgreSQL databases that closed fresh stores left empty, for the next fresh store of this process. Creating a
 * database takes the server about a second and dropping one a checkpoint (more on a busy server), so the many tests
 * that each take a fresh store reuse databases; test/setup.ts drops what is left after each test file.
 */
const spareDatabases: TestDatabase[] = [];

/**
 * A fresh, migrated store of each kind: SQLite in memory, or a PostgreSQL database of its own (new, or one a closed
 * store emptied), emptied again on close.
 */
export async function freshStore(kind: StoreKind): Promise<Store> {
  if (kind === "sqlite") {
    const store = createStore(":memory:");
    await store.migrate();
    return store;
  }
  const database = spareDatabases.pop() ?? (await createPostgresDatabase("trace_test"));
  const store = createStore(database.url);
  await store.migrate();
  return {
    ...store,
    async close() {
      await store.close();
      await emptyDatabase(database.url);
      spareDatabases.push(database);
    },
  };
}

/** Drops the databases closed fresh stores left for reuse. */
export async function dropSpareDatabases(): Promise<void> {
  await Promise.all(spareDatabases.splice(0).map((database) => database.drop()));
}

/**
 * Returns the migrated database at `url` to what a fresh one holds: its sessions ended, every table empty and its
 * ids counting from the start again. That is a fresh database as long as no test changes the schema and no
 * migration seeds rows (none does). DELETE rather than TRUNCATE: the tables hold a test's few rows, and TRUNCATE
 * writes new files for each of them.
 */
async function emptyDatabase(url: string): Promise<void> {
  await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [new URL(url).pathname.slice(1)]);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      "SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_migration%'",
    );
    const sequences = await client.query<{ name: string }>("SELECT quote_ident(sequencename) AS name FROM pg_sequences WHERE schemaname = 'public'");
    // Replica mode: no foreign-key triggers, so the tables empty in any order.
    const statements = [
      "SET session_replication_role = replica",
      ...tables.rows.map((table) => `DELETE FROM ${table.name}`),
      ...sequences.rows.map((sequence) => `ALTER SEQUENCE ${sequence.name} RESTART`),
    ];
    await client.query(`BEGIN; ${statements.join("; ")}; COMMIT`);
  } finally {
    await client.end();
  }
}

/**
 * A new, empty PostgreSQL database on the test server whose commits do not wait for the disk, and a way to drop it
 * (even with connections left).
 */
export async function createPostgresDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  // A test's commits need not wait for the disk: they are as atomic and visible, and the server is never crashed.
  await adminQuery(`ALTER DATABASE ${name} SET synchronous_commit = off`);
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
