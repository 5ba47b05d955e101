import type SqliteDatabase from "better-sqlite3";
import { sql } from "kysely";
import type { Kysely, Transaction } from "kysely";
import type { Database } from "./schema";

/**
 * Bulk writes for the indexer: thousands of rows per block range, inside the range's transaction. Through the
 * query builder a multi-row insert costs more to build and compile than the database takes to run it, so:
 * - SQLite: one prepared statement per table and column set, cached, run once per row on the connection the
 *   transaction holds (better-sqlite3 is synchronous, so nothing else runs on it meanwhile);
 * - PostgreSQL: one statement per chunk whose rows travel as a single JSON parameter, expanded by
 *   json_populate_recordset into the table's own row type (no per-row parameters to bind or type).
 * Any other database gets the query builder's multi-row insert.
 */

type Row = Record<string, unknown>;
type AnyDb = Kysely<Database> | Transaction<Database>;

/** A SQLite connection's handle, and how to end the read transaction its immediate reads keep (src/store/kept-read.ts). */
type SqliteTarget = { dialect: "sqlite"; handle: SqliteDatabase.Database; endKeptRead(): void };
type Registration = (SqliteTarget & { statements: Map<string, SqliteDatabase.Statement> }) | { dialect: "postgres" };
const registrations = new WeakMap<object, Registration>();

/** Called by createStore: how bulk writes reach this database. */
export function registerBulkTarget(db: Kysely<Database>, target: SqliteTarget | { dialect: "postgres" }) {
  registrations.set(db, target.dialect === "sqlite" ? { ...target, statements: new Map() } : target);
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The size a PostgreSQL statement's JSON parameter aims at, rows per statement following the rows' size so far. A
 * string over 128 KiB lives in V8's large-object space, where making it (JSON.stringify's pieces joined) and reading
 * it (node-postgres measures and copies it into its message) costs about twice as much per byte: of 1 KB event rows,
 * 12.5 ns per byte in chunks of 180 KB and more against 5 in chunks of 30 to 120 KB.
 */
const POSTGRES_PARAMETER_BYTES = 96 * 1024;
/** Rows in a table's first statement, before their size is known. */
const POSTGRES_FIRST_ROWS = 64;
/** Rows in any statement at most, however small they are. */
const POSTGRES_MAX_ROWS = 5_000;

/**
 * Inserts `rows` into `table` through `trx`, a transaction of `db`. With `conflict`, a row whose `key` exists has
 * its `update` columns replaced (by default all its other columns; none: the row is skipped). Rows are written in
 * groups of the same columns, so a column a row does not name keeps its default (or, on conflict, its value).
 */
export async function writeRows(
  db: Kysely<Database>,
  trx: AnyDb,
  table: string,
  rows: Row[],
  conflict?: { key: readonly string[]; update?: readonly string[] },
): Promise<void> {
  const groups: { columns: string[]; rows: Row[] }[] = [];
  let group: (typeof groups)[number] | undefined;
  for (const row of rows) {
    // A row is nearly always of the previous row's columns: checked without building its list of keys.
    if (!group || !hasColumns(row, group.columns)) {
      group = groups.find((g) => hasColumns(row, g.columns));
      if (!group) groups.push((group = { columns: Object.keys(row), rows: [] }));
    }
    group.rows.push(row);
  }
  for (const { columns, rows: grouped } of groups) await writeGroup(db, trx, table, columns, grouped, conflict);
}

/** Whether `row`'s keys (a plain object's, as for...in lists them) are `columns`, in that order. */
function hasColumns(row: Row, columns: readonly string[]): boolean {
  let i = 0;
  for (const key in row) if (key !== columns[i++]) return false;
  return i === columns.length;
}

async function writeGroup(
  db: Kysely<Database>,
  trx: AnyDb,
  table: string,
  columns: string[],
  rows: Row[],
  conflict?: { key: readonly string[]; update?: readonly string[] },
) {
  const updated = conflict ? (conflict.update ?? columns.filter((c) => !conflict.key.includes(c))).filter((c) => columns.includes(c)) : [];
  const onConflict = conflict
    ? ` ON CONFLICT (${conflict.key.map(quote).join(", ")}) DO ${
        updated.length === 0 ? "NOTHING" : `UPDATE SET ${updated.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(", ")}`
      }`
    : "";
  const target = registrations.get(db);
  if (target?.dialect === "sqlite") {
    const text = `INSERT INTO ${quote(table)} (${columns.map(quote).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})${onConflict}`;
    let statement = target.statements.get(text);
    if (!statement) {
      statement = target.handle.prepare(text);
      target.statements.set(text, statement);
    }
    const values: unknown[] = new Array(columns.length);
    // Rows written past Kysely must not land in the kept read transaction (committed only when it ends).
    target.endKeptRead();
    for (const row of rows) {
      for (let i = 0; i < columns.length; i++) values[i] = row[columns[i]!] ?? null;
      statement.run(values);
    }
    return;
  }
  if (target?.dialect === "postgres") {
    const list = sql.raw(columns.map(quote).join(", "));
    const name = sql.raw(quote(table));
    let perStatement = POSTGRES_FIRST_ROWS;
    for (let i = 0; i < rows.length;) {
      const chunk = rows.slice(i, i + perStatement);
      const json = JSON.stringify(chunk);
      await sql`INSERT INTO ${name} (${list}) SELECT ${list} FROM json_populate_recordset(NULL::${name}, ${json}::json)${sql.raw(onConflict)}`.execute(
        trx,
      );
      i += chunk.length;
      // At most 4 times the last chunk and POSTGRES_MAX_ROWS: small rows followed by large ones make no huge string.
      perStatement = Math.max(1, Math.min(POSTGRES_MAX_ROWS, 4 * chunk.length, Math.floor((POSTGRES_PARAMETER_BYTES * chunk.length) / json.length)));
    }
    return;
  }
  const anyTrx = trx as unknown as Kysely<Record<string, Row>>;
  const perStatement = Math.max(1, Math.floor(30_000 / columns.length));
  for (let i = 0; i < rows.length; i += perStatement) {
    const query = anyTrx.insertInto(table).values(rows.slice(i, i + perStatement));
    await (
      conflict
        ? query.onConflict((c) => {
            const on = c.columns(conflict.key as string[]);
            return updated.length === 0
              ? on.doNothing()
              : on.doUpdateSet((eb) => Object.fromEntries(updated.map((column) => [column, eb.ref(`excluded.${column}`)])));
          })
        : query
    ).execute();
  }
}
