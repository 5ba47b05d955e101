import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { registerBulkTarget } from "./bulk";
import { migrationProvider } from "./migrations";
import type { Database } from "./schema";

export type { Database } from "./schema";
export * from "./schema";
export { writeRows } from "./bulk";
export { payloadOf } from "./events";

/** The read model's database: a SQLite file by default, PostgreSQL for a `postgres://` URL. */
export type Store = {
  readonly dialect: "sqlite" | "postgres";
  readonly db: Kysely<Database>;
  /** Brings the schema up to date; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;
};

const INT8_OID = 20;

export type StoreOptions = {
  /**
   * Told when PostgreSQL drops a connection, idle or in use (a server restart, a failover, an administrator's
   * terminate). The pool discards it and the next query opens a new one; a query that was running on it fails
   * with an error `isStoreUnavailable` recognizes. So this is news, not a failure.
   */
  onConnectionLost?: (error: Error) => void;
};

/** SQLSTATEs of a lost or refused connection: class 08, the server shutting down or starting up, no free slots. */
const UNAVAILABLE_STATES = /^(08...|57P0[1-3]|53300)$/;
const UNAVAILABLE_ERRNOS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
/** What the pg driver says when the connection under a query went away or could not be made in time. */
const UNAVAILABLE_MESSAGES = /^(Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect)/;

/**
 * Whether a query failed because the database could not be reached (as opposed to a bad query or bad data): the
 * same query may succeed once the database is back, so the API answers 503 and the background loops retry.
 */
export function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (UNAVAILABLE_STATES.test(code) || UNAVAILABLE_ERRNOS.has(code))) return true;
  if (error instanceof AggregateError) return error.errors.some(isStoreUnavailable);
  return UNAVAILABLE_MESSAGES.test(error.message);
}

/** `location` is a `postgres://` (or `postgresql://`) URL, `:memory:`, or a SQLite file path. */
export function createStore(location: string, options: StoreOptions = {}): Store {
  const postgres = /^postgres(ql)?:\/\//.test(location);
  const sqlite = postgres ? undefined : openSqlite(location);
  const dialect = sqlite ? sqliteDialect(sqlite) : postgresDialect(location, options.onConnectionLost ?? (() => {}));
  const db = new Kysely<Database>({ dialect });
  registerBulkTarget(db, sqlite ? { dialect: "sqlite", handle: sqlite } : { dialect: "postgres" });
  return {
    dialect: postgres ? "postgres" : "sqlite",
    db,
    async migrate() {
      const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
      const failed = results?.find((r) => r.status === "Error");
      if (error || failed) {
        const reason = error instanceof Error ? error.message : String(error ?? "");
        throw new Error(`database migration ${failed?.migrationName ?? ""} failed: ${reason}`);
      }
    },
    close: () => db.destroy(),
  };
}

function openSqlite(file: string) {
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new SqliteDatabase(file);
  // WAL survives a killed process with every committed transaction intact and lets API readers run beside
  // the indexer's writer.
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = NORMAL");
  database.pragma("busy_timeout = 5000");
  // Indexing inserts into several indexes on random keys (transaction hashes, batch ids): a 64 MiB page cache
  // (the default is 2 MiB) keeps their pages in memory, and checkpointing the WAL every 40 MiB rather than every
  // 4 MiB makes fewer, larger checkpoints. Together they take about a fifth off the cost of a backfill's writes.
  database.pragma("cache_size = -65536");
  database.pragma("wal_autocheckpoint = 10000");
  // Reads (the API's lookups by code, batch and pack) go through memory-mapped pages instead of a read() each.
  database.pragma("mmap_size = 2147418112");
  return database;
}

function sqliteDialect(database: SqliteDatabase.Database) {
  return new SqliteDialect({ database: withStatementCache(database) });
}

/**
 * Kysely's SQLite driver prepares every statement it runs. Compiling one costs tens of microseconds, a good part
 * of a scan's lookups, and the API runs the same few dozen statements over and over; so prepared statements are
 * kept, most recently used first. Kysely runs one statement at a time on the single connection, so a cached
 * statement is never asked for while another caller still steps it.
 */
function withStatementCache(database: SqliteDatabase.Database, capacity = 500) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (statements.size >= capacity) statements.delete(statements.keys().next().value as string);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}

function postgresDialect(connectionString: string, onConnectionLost: (error: Error) => void) {
  const pool = new pg.Pool({
    connectionString,
    max: 10,
    // While the server is unreachable (a failover in progress), queries fail after this long instead of waiting.
    connectionTimeoutMillis: 5_000,
    // Quantities, block numbers and times fit a JavaScript number; read bigint columns as numbers.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  });
  // A connection's 'error' event with no listener ends the process. The pool listens only while a connection is
  // idle; one in use (a query running, or a transaction between queries) would take the process down when the
  // server ends it. So every connection gets a listener of its own for its whole life, and the pool's event, the
  // same error again for an idle one, is left to it.
  pool.on("connect", (client) => client.on("error", onConnectionLost));
  pool.on("error", () => {});
  return new PostgresDialect({ pool });
}

/** Splits rows so one multi-row statement stays under both databases' bound-parameter limits. */
export function chunkRows<T extends object>(rows: T[], maxParameters = 30_000): T[][] {
  if (rows.length === 0) return [];
  const perRow = Object.keys(rows[0] as object).length || 1;
  const size = Math.max(1, Math.floor(maxParameters / perRow));
  const chunks: T[][] = [];
  for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size));
  return chunks;
}
