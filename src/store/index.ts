import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from "kysely";
import type { CompiledQuery } from "kysely";
import pg from "pg";
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { registerBulkTarget } from "./bulk";
import { keptRead } from "./kept-read";
import type { KeptRead } from "./kept-read";
import { createStoreHealth, isSqliteDamage } from "./health";
import type { StoreHealth } from "./health";
import { migrationProvider } from "./migrations";
import type { Database } from "./schema";

export type { Database } from "./schema";
export * from "./schema";
export { writeRows } from "./bulk";
export { newFactsVersion } from "./facts-version";
export { payloadOf } from "./events";
export { StoreDamagedError } from "./health";
export type { StoreHealth } from "./health";

/** The read model's database: a SQLite file by default, PostgreSQL for a `postgres://` URL. */
export type Store = {
  readonly dialect: "sqlite" | "postgres";
  readonly db: Kysely<Database>;
  /** Damage found by the start's check or by any query since: while there is some, nothing may be answered. */
  readonly health: StoreHealth;
  /**
   * A SQLite store's file (none in memory, none for PostgreSQL): where a worker thread opens a connection of its own,
   * so that a long run of writes (a registration's millions of code rows) keeps off the thread answering requests.
   */
  readonly sqliteFile?: string;
  /**
   * Reads every page of a SQLite store (`PRAGMA quick_check`: about 1.2 s for a 500 MB store of 2 million codes,
   * where the full integrity_check takes 14 s) and records any damage in `health`. PostgreSQL checks its own
   * pages (with data checksums) as it reads them: nothing to do here.
   */
  checkIntegrity(): Promise<void>;
  /** Brings the schema up to date; safe to call on every start. */
  migrate(): Promise<void>;
  /**
   * Takes the database's writer lock, if no other session holds it: only the holder writes the read model. On
   * PostgreSQL the lock is a session-level advisory lock on a connection of its own, and the session's store runs
   * every statement on that connection, so nothing is written once the lock is gone. SQLite has one writing process
   * per file (the data directory's), so its session is the store itself.
   */
  claimWriter(): Promise<WriterSession | undefined>;
  close(): Promise<void>;
};

/** This process's hold on the writer lock. */
export type WriterSession = {
  /** The store as seen from the session holding the lock: write the read model through it only. */
  readonly store: Store;
  /** Aborted when the session (and the lock with it) is lost: a failover, a restart, a terminated backend. */
  readonly lost: AbortSignal;
  /** Ends the session, which releases the lock. */
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
const UNAVAILABLE_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error|Client was closed|timeout exceeded when trying to connect)/;

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

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

/** `location` is a `postgres://` (or `postgresql://`) URL, `:memory:`, or a SQLite file path. */
export function createStore(location: string, options: StoreOptions = {}): Store {
  const onConnectionLost = options.onConnectionLost ?? (() => {});
  if (!isPostgresUrl(location)) {
    const health = createStoreHealth(location);
    const sqlite = openSqlite(location, health);
    const kept = keptRead(sqlite, location);
    const integrity = {
      health,
      check: async () => {
        kept.end();
        checkSqlite(sqlite, health);
      },
    };
    const connection = withStatementCache(sqlite, health, kept);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }) });
    immediateReads.set(db, connection.reads);
    const store = storeOver(db, "sqlite", async () => ({ store, lost: new AbortController().signal, close: async () => {} }), integrity);
    registerBulkTarget(store.db, { dialect: "sqlite", handle: sqlite, endKeptRead: kept.end });
    // The same object the writer session hands out, so both name the file.
    return location === ":memory:" ? store : Object.assign(store, { sqliteFile: path.resolve(location) });
  }
  const claims = postgresWriterClaims(location, onConnectionLost);
  const store = storeOver(
    new Kysely<Database>({ dialect: postgresDialect(location, onConnectionLost) }),
    "postgres",
    claims.claim,
    postgresIntegrity(location),
  );
  registerBulkTarget(store.db, { dialect: "postgres" });
  return {
    ...store,
    async close() {
      await claims.close();
      await store.close();
    },
  };
}

/**
 * PostgreSQL checks its own pages (with data checksums) as it reads them, and reports what it finds as an error of
 * the query: nothing to check at start, nothing recorded here.
 */
function postgresIntegrity(location: string): Integrity {
  return { health: createStoreHealth(location.replace(/\/\/[^@]*@/, "//…@")), check: async () => {} };
}

/** SQLite's quick check: every page read and its structure checked; damage is recorded and thrown. */
function checkSqlite(sqlite: SqliteDatabase.Database, health: StoreHealth) {
  const rows = guarded(health, () => sqlite.pragma("quick_check(20)") as { quick_check: string }[]);
  const problems = rows.map((row) => row.quick_check);
  if (problems.join() !== "ok") throw health.damaged(`quick_check: ${problems.join("; ")}`);
}

type Integrity = { health: StoreHealth; check(): Promise<void> };

function storeOver(db: Kysely<Database>, dialect: Store["dialect"], claimWriter: Store["claimWriter"], integrity: Integrity): Store {
  return {
    dialect,
    db,
    health: integrity.health,
    checkIntegrity: integrity.check,
    async migrate() {
      // Migrations are numbered by who wrote them, not when they were merged: a store that already ran a later
      // number still runs an earlier one it has not (each touches only its own tables).
      const { error, results } = await new Migrator({ db, provider: migrationProvider, allowUnorderedMigrations: true }).migrateToLatest();
      const failed = results?.find((r) => r.status === "Error");
      if (error || failed) {
        const reason = error instanceof Error ? error.message : String(error ?? "");
        throw new Error(`database migration ${failed?.migrationName ?? ""} failed: ${reason}`);
      }
    },
    claimWriter,
    close: () => db.destroy(),
  };
}

function openSqlite(file: string, health: StoreHealth) {
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const database = new SqliteDatabase(file);
  // Owner only, whatever the umask: the store holds webhook secrets (sealed) and everything the ledger knows
  // off-chain. SQLite gives its -wal and -shm files the store's mode when it creates them.
  if (file !== ":memory:") for (const suffix of ["", "-wal", "-shm"]) if (existsSync(`${file}${suffix}`)) chmodSync(`${file}${suffix}`, 0o600);
  // WAL survives a killed process with every committed transaction intact and lets API readers run beside
  // the indexer's writer. The first read of the file: one that is not a database says so here.
  guarded(health, () => database.pragma("journal_mode = WAL"));
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

/**
 * Runs a read at once on a SQLite store's connection, past Kysely's queue; undefined when it cannot run now (or the
 * store is PostgreSQL): then run it through Kysely. Kysely's driver takes a lock and a chain of promises for each
 * statement, which cost a scan's lookup by key more than SQLite's own work (and four times its garbage). better-sqlite3
 * runs a statement synchronously, so between Kysely's statements the connection is free: the read runs only when
 * no transaction is open on it (another caller's writes, committed or not, are never read halfway) but the kept read
 * transaction (src/store/kept-read.ts), and no reader is stepping a statement. It sees exactly what a statement
 * queued through Kysely at that moment would. With `many`, for a statement of many rows (a provenance page's):
 * its rows are read as arrays and made into objects here, by the column names the statement reports as it runs,
 * which costs less than better-sqlite3's own row objects on Node 20 (a third, 1.6 µs a row, for 14 columns; for a
 * provenance page's three, 290 against 330 µs a page of 100).
 */
export type ImmediateRead = <Row>(query: CompiledQuery<Row>, many?: boolean) => Row[] | undefined;

/** Immediate reads of one statement, and of several in one read transaction (what is committed meanwhile is in all or none). */
type ImmediateReads = { one: ImmediateRead; together: <Row>(queries: readonly CompiledQuery<Row>[], many?: boolean) => Row[][] | undefined };

const immediateReads = new WeakMap<Kysely<Database>, ImmediateReads>();

/** The store's immediate reads, for the few statements run on every request (a scan's, a token's key). */
export function immediateRead(db: Kysely<Database>): ImmediateRead {
  return immediateReads.get(db)?.one ?? (() => undefined);
}

/** A statement's rows: read at once where the store allows (ImmediateRead), else through Kysely. */
export async function readRows<Row>(db: Kysely<Database>, query: CompiledQuery<Row>): Promise<Row[]> {
  return immediateRead(db)(query) ?? (await db.executeQuery(query)).rows;
}

/**
 * The rows of several statements, read in one snapshot of the store: what another connection commits while they
 * run is in all of them or in none (a page merged from two statements could otherwise hold a later event of one
 * and miss an earlier one of the other, and a cursor after it would skip that one for good). At once where the
 * store allows, else in one transaction: REPEATABLE READ and read only on PostgreSQL (where READ COMMITTED, its
 * default, gives each statement a snapshot of its own), SQLite's own on SQLite (every transaction reads one
 * snapshot there). Not inside a transaction of the caller's: Kysely begins none within another.
 */
export async function readRowsTogether<Row>(db: Kysely<Database>, queries: readonly CompiledQuery<Row>[], many = false): Promise<Row[][]> {
  const now = immediateReads.get(db)?.together(queries, many);
  if (now) return now;
  return db
    .transaction()
    .setIsolationLevel("repeatable read")
    .setAccessMode("read only")
    .execute(async (trx) => {
      const rows: Row[][] = [];
      for (const query of queries) rows.push((await trx.executeQuery(query)).rows);
      return rows;
    });
}

/** Runs a SQLite call; a damaged page it meets is recorded in `health` and thrown as StoreDamagedError. */
function guarded<T>(health: StoreHealth, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (isSqliteDamage(error)) throw health.damaged(`${error.code}: ${error.message}`);
    throw error;
  }
}

/** A statement whose runs report damage (what Kysely's SQLite driver uses of it), counting the readers stepping it. */
function guardedStatement(statement: SqliteDatabase.Statement, health: StoreHealth, stepping: { count: number }) {
  return {
    reader: statement.reader,
    all: (parameters: readonly unknown[]) => guarded(health, () => statement.all(parameters)),
    /** Rows as `all` gives them, read as arrays (the statement in raw mode) and made into objects here. */
    allFromArrays: (parameters: readonly unknown[]) =>
      guarded(health, () => {
        const arrays = statement.all(parameters) as unknown[][];
        // Asked at each run: a statement prepared again after a schema change may name other columns.
        const names = statement.columns().map((column) => column.name);
        return arrays.map((values) => {
          const row: Record<string, unknown> = {};
          for (let i = 0; i < names.length; i++) row[names[i]!] = values[i];
          return row;
        });
      }),
    run: (parameters: readonly unknown[]) => guarded(health, () => statement.run(parameters)),
    *iterate(parameters: readonly unknown[]) {
      const rows = guarded(health, () => statement.iterate(parameters));
      stepping.count++;
      try {
        while (true) {
          const next = guarded(health, () => rows.next());
          if (next.done) return;
          yield next.value;
        }
      } finally {
        stepping.count--;
        // A reader that stops early must free the statement for the next run.
        rows.return?.();
      }
    },
  };
}

/**
 * Kysely's SQLite driver prepares every statement it runs. Compiling one costs tens of microseconds, a good part
 * of a scan's lookups, and the API runs the same few dozen statements over and over; so prepared statements are
 * kept, most recently used first. Kysely runs one statement at a time on the single connection, so a cached
 * statement is never asked for while another caller still steps it. Kysely's every statement ends the kept read
 * transaction first, so that its writes and transactions are its own.
 */
function withStatementCache(database: SqliteDatabase.Database, health: StoreHealth, kept: KeptRead, capacity = 500) {
  const statements = new Map<string, ReturnType<typeof guardedStatement>>();
  const stepping = { count: 0 };
  /** The statement of `sql`; `arrays`: one of its own in raw mode, whose rows are arrays. */
  const cached = (sql: string, arrays = false) => {
    const key = arrays ? `\u0000arrays ${sql}` : sql;
    let statement = statements.get(key);
    if (statement) {
      // Moved to most recent only once the cache is half full: each move leaves a deleted entry in the Map, whose
      // tables V8 then rebuilds, garbage that outlives a request (about 40 bytes a statement run, in old space).
      if (statements.size < capacity / 2) return statement;
      statements.delete(key);
    } else {
      statement = guardedStatement(
        guarded(health, () => {
          const prepared = database.prepare(sql);
          // raw() refuses a statement that returns no rows, even to leave it as it is.
          return arrays ? prepared.raw(true) : prepared;
        }),
        health,
        stepping,
      );
      if (statements.size >= capacity) statements.delete(statements.keys().next().value as string);
    }
    statements.set(key, statement);
    return statement;
  };
  /** Whether a read may run now: no transaction open but the kept one, and no reader stepping a statement. */
  const free = () => !(database.inTransaction && !kept.holds) && stepping.count === 0;
  const rowsOf = (query: CompiledQuery, many: boolean): unknown[] => {
    const statement = cached(query.sql, many);
    return many ? statement.allFromArrays(query.parameters) : statement.all(query.parameters);
  };
  return {
    close() {
      kept.end();
      database.close();
    },
    prepare(sql: string) {
      kept.end();
      return cached(sql);
    },
    reads: {
      one: (query, many = false) => (free() ? kept.read(() => rowsOf(query, many)) : undefined),
      together: (queries, many = false) => (free() ? kept.read(() => queries.map((query) => rowsOf(query, many)), true) : undefined),
    } as ImmediateReads,
  };
}

/** How every connection of the store is made. */
function connectionConfig(connectionString: string): pg.ClientConfig {
  return {
    connectionString,
    // While the server is unreachable (a failover in progress), queries fail after this long instead of waiting.
    connectionTimeoutMillis: 5_000,
    // A connection whose server vanished without closing it (a network partition) is found out.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // Quantities, block numbers and times fit a JavaScript number; read bigint columns as numbers.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
    },
  };
}

/**
 * The writer lock's advisory lock key (advisory locks are per database): the first 8 bytes of
 * sha256("trace:read-model-writer"), as a signed 64-bit integer.
 */
export const WRITER_LOCK_KEY = "5687495814350935883";

type Candidate = { client: pg.Client; lost: AbortController };

/**
 * Claims of the writer lock, each on a connection of its own that tries the lock (a standby keeps one such
 * connection and tries again on it). Once the lock is taken, the connection becomes the writer's session: its store
 * is a Kysely over that one connection (statements queued, one at a time). When the connection is lost, PostgreSQL
 * has already rolled back its open transaction and released the lock, and every later statement fails; a new
 * connection is never opened behind the writer's back, as a pool would.
 */
function postgresWriterClaims(connectionString: string, onConnectionLost: (error: Error) => void) {
  let candidate: Candidate | undefined;

  async function connect(): Promise<Candidate> {
    const client = new pg.Client({ ...connectionConfig(connectionString), application_name: `trace standby pid ${process.pid} on ${hostname()}` });
    const lost = new AbortController();
    client.on("error", (error) => {
      onConnectionLost(error);
      lost.abort(error);
    });
    client.on("end", () => lost.abort(new Error("the writer lock's connection ended")));
    await client.connect();
    return { client, lost };
  }

  async function dropCandidate() {
    await candidate?.client.end().catch(() => undefined);
    candidate = undefined;
  }

  async function claim(): Promise<WriterSession | undefined> {
    if (candidate?.lost.signal.aborted) await dropCandidate();
    candidate ??= await connect();
    const { client, lost } = candidate;
    try {
      const { rows } = await client.query<{ locked: boolean }>("select pg_try_advisory_lock($1::bigint) as locked", [WRITER_LOCK_KEY]);
      if (rows[0]?.locked !== true) return undefined;
      // Named after its holder, so an operator finds the writer in pg_stat_activity.
      await client.query("select set_config('application_name', $1, false)", [`trace writer pid ${process.pid} on ${hostname()}`]);
    } catch (error) {
      await dropCandidate();
      throw error;
    }
    candidate = undefined;
    return writerSession(client, lost, postgresIntegrity(connectionString));
  }

  return { claim, close: dropCandidate };
}

function writerSession(client: pg.Client, lost: AbortController, integrity: Integrity): WriterSession {
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: oneConnection(client) }) });
  const store = storeOver(db, "postgres", async () => undefined, integrity);
  registerBulkTarget(db, { dialect: "postgres" });
  return {
    store,
    lost: lost.signal,
    async close() {
      // Unlocked first: PostgreSQL releases a closed session's locks only once its backend has exited, a moment
      // after the client has seen the connection close; a standby claiming at once would find the lock held.
      if (!lost.signal.aborted) await sql`select pg_advisory_unlock(${WRITER_LOCK_KEY}::bigint)`.execute(db).catch(() => undefined);
      await db.destroy();
    },
  };
}

/** A pool of exactly `client`: lent to one caller at a time; ending the pool ends the connection. */
function oneConnection(client: pg.Client) {
  let queue = Promise.resolve();
  return {
    async connect() {
      const previous = queue;
      let release!: () => void;
      queue = new Promise<void>((resolve) => (release = resolve));
      await previous;
      return { query: client.query.bind(client) as pg.Client["query"], release };
    },
    end: () => client.end().catch(() => undefined),
  };
}

function postgresDialect(connectionString: string, onConnectionLost: (error: Error) => void) {
  const pool = new pg.Pool({ ...connectionConfig(connectionString), max: 10 });
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
