import type { Kysely } from "kysely";
import type { Database } from "../../src/store";

/** The primary keys of the tables the indexer writes: they order rows deterministically. */
const TABLE_KEYS: Record<string, string[]> = {
  sync_state: ["id"],
  indexed_blocks: ["block_number"],
  ledger_events: ["block_number", "log_index"],
  organizations: ["id"],
  signing_keys: ["address"],
  products: ["id"],
  agreements: ["id"],
  batches: ["id"],
  deviations: ["batch_id", "report_hash"],
  shipments: ["id"],
  holdings: ["batch_id", "organization_id"],
  pack_states: ["pack"],
  recalls: ["batch_id"],
  recall_acknowledgements: ["batch_id", "holder_id"],
};

/**
 * Columns that say when rows changed, not what they hold: batches' facts_version is a random tag drawn anew by every
 * transaction that changes a batch's facts (src/store/facts-version.ts), so two runs never agree on it.
 */
const CHANGE_TAGS: Record<string, string[]> = { batches: ["facts_version"] };

/** The read model and the event log: what must not depend on how (or in how many runs) the chain was indexed. */
export const MODEL_TABLES = Object.keys(TABLE_KEYS).filter((table) => table !== "indexed_blocks");

export type Dump = Record<string, Record<string, unknown>[]>;

/**
 * Reads tables whole, rows in a deterministic order, so two stores can be compared row for row. Without `tables`,
 * every table the database holds (as the migrations made it, whoever added them), bar kysely's own.
 */
export async function dumpTables(db: Kysely<Database>, tables?: readonly string[]): Promise<Dump> {
  const present = await db.introspection.getTables();
  const columns = new Map(present.map((t) => [t.name, t.columns.map((c) => c.name)]));
  const anyDb = db as unknown as Kysely<Record<string, Record<string, unknown>>>;
  const dump: Dump = {};
  for (const table of tables ?? [...columns.keys()].sort()) {
    if (!columns.has(table)) throw new Error(`no table ${table} in the store`);
    let query = anyDb.selectFrom(table).selectAll();
    for (const column of TABLE_KEYS[table] ?? columns.get(table)!) query = query.orderBy(column);
    const tags = CHANGE_TAGS[table] ?? [];
    dump[table] = (await query.execute()).map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => !tags.includes(column))));
  }
  return dump;
}

/** How many rows each table of a dump holds: a readable summary for assertion messages. */
export function rowCounts(dump: Dump): Record<string, number> {
  return Object.fromEntries(Object.entries(dump).map(([table, rows]) => [table, rows.length]));
}

/**
 * What differs between two dumps, per table: rows only in `actual`, rows only in `expected`, and rows in another
 * order. Empty when the dumps are equal; small and readable when they are not, unlike a deep-equal diff of both.
 */
export function dumpDiff(actual: Dump, expected: Dump): Record<string, { extra?: unknown[]; missing?: unknown[]; order?: true }> {
  const diff: Record<string, { extra?: unknown[]; missing?: unknown[]; order?: true }> = {};
  for (const table of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
    const a = (actual[table] ?? []).map((row) => JSON.stringify(row));
    const e = (expected[table] ?? []).map((row) => JSON.stringify(row));
    const extra = a.filter((row) => !e.includes(row));
    const missing = e.filter((row) => !a.includes(row));
    if (extra.length || missing.length) {
      diff[table] = {
        ...(extra.length ? { extra: extra.map((row) => JSON.parse(row)) } : {}),
        ...(missing.length ? { missing: missing.map((row) => JSON.parse(row)) } : {}),
      };
    } else if (a.join("\n") !== e.join("\n")) diff[table] = { order: true };
  }
  return diff;
}
