import { sql } from "kysely";
import type { Expression, ExpressionBuilder, Kysely, RawBuilder, SqlBool } from "kysely";
import { isSqlite } from "./dialect";
import { readRowsTogether } from "./index";
import { preparedQuery } from "./queries";
import type { BatchTable, Database, LedgerEventTable, OrganizationTable } from "./schema";

/** A ledger event of a batch's provenance: its chain position and its entry's JSON text, as `EntryText` made it. */
export type ProvenanceEntry = Pick<LedgerEventTable, "block_number" | "log_index"> & { json: string };

/** The columns an entry is made of: its event's, and those of the organization the event names (null if none). */
export type ProvenanceColumn = `ledger_events.${keyof LedgerEventTable & string}` | `organizations.${keyof OrganizationTable & string}`;

/** JSON text written by the database, in its own SQL (text quoted and escaped as JSON.stringify does). */
export type JsonText = {
  /**
   * A column's value as JSON: a string quoted and escaped, an integer in decimal, null as null (a real number would
   * be in the database's own precision: the entries' numbers are all integers).
   */
  value(column: ProvenanceColumn): RawBuilder<string>;
  /** A column that holds JSON text already, as it is; one never null (a null would make the whole entry null). */
  stored(column: ProvenanceColumn): RawBuilder<string>;
  /** An object of these fields, in this order. */
  object(fields: [key: string, value: RawBuilder<string>][]): RawBuilder<string>;
  /** `text`, or null where `column` is null. */
  unlessNull(column: ProvenanceColumn, text: RawBuilder<string>): RawBuilder<string>;
};

/**
 * An entry's JSON text, built by the database: a page's entries are then one string each in JavaScript, where
 * reading their columns (fourteen values an entry, most of them strings) cost twice as much as the rest of a page.
 */
export type EntryText = (json: JsonText) => RawBuilder<string>;

/** A position in chain order: a page starts after it. */
export type ChainPosition = { block: number; logIndex: number };

/** Before every event: where the first page starts. */
const CHAIN_START: ChainPosition = { block: -1, logIndex: -1 };

/** An agreement that covers every product of its MAH names this product. */
const EVERY_PRODUCT = `0x${"0".repeat(64)}`;

/**
 * Pages of a batch's provenance, each entry made by `entryText`: after `after`, in chain order, its own events and
 * those of the agreements it was made and moved under (its quality agreement; the MAH's storage, transport and
 * sales agreements for its product or for every product). Each part is one statement, compiled once per database,
 * that reads its index (the event's batch or agreement, then its chain position) in order and stops at the page's
 * length, so a page costs its own rows whatever the batch's length; the two are merged here, where a UNION ALL of
 * them had the database sort the page's rows again.
 */
export function provenanceReader(entryText: EntryText) {
  const compiled = new WeakMap<Kysely<Database>, ReturnType<typeof compileProvenanceReads>>();
  return async function provenancePage(
    db: Kysely<Database>,
    batch: Pick<BatchTable, "id" | "mah_id" | "agreement_id" | "product_id">,
    after: ChainPosition | undefined,
    limit: number,
  ): Promise<ProvenanceEntry[]> {
    let reads = compiled.get(db);
    if (!reads) compiled.set(db, (reads = compileProvenanceReads(db, entryText(jsonTextIn(db)))));
    const { block, logIndex } = after ?? CHAIN_START;
    const position = { batchId: batch.id, block, logIndex, limit };
    // In one snapshot (see readRowsTogether), as arrays: a page's rows are many.
    const [own, agreed] = await readRowsTogether(
      db,
      [reads.own(position), reads.agreed({ ...position, mahId: batch.mah_id, agreementId: batch.agreement_id, productId: batch.product_id })],
      true,
    );
    return inChainOrder(own!, agreed!, limit);
  };
}

/** JSON text in the SQL of `db`'s database. */
function jsonTextIn(db: Kysely<Database>): JsonText {
  const value = isSqlite(db)
    ? (column: ProvenanceColumn) => sql<string>`json_quote(${sql.ref(column)})`
    : (column: ProvenanceColumn) => sql<string>`coalesce(to_json(${sql.ref(column)})::text, 'null')`;
  return {
    value,
    stored: (column) => sql<string>`${sql.ref(column)}`,
    object: (fields) =>
      sql<string>`(${sql.join(
        fields.map(([key, text], n) => sql`${sql.lit(`${n === 0 ? "{" : ","}${JSON.stringify(key)}:`)} || ${text}`),
        sql` || `,
      )} || '}')`,
    unlessNull: (column, text) => sql<string>`(case when ${sql.ref(column)} is null then 'null' else ${text} end)`,
  };
}

function compileProvenanceReads(db: Kysely<Database>, entry: RawBuilder<string>) {
  const events = (block: number, logIndex: number, limit: number, where: (eb: ExpressionBuilder<Database, "ledger_events">) => Expression<SqlBool>) =>
    db
      .selectFrom("ledger_events")
      .leftJoin("organizations", "organizations.id", "ledger_events.organization_id")
      .select(["ledger_events.block_number", "ledger_events.log_index", entry.as("json")])
      .where(where)
      .where((eb) => eb(eb.refTuple("ledger_events.block_number", "ledger_events.log_index"), ">", eb.tuple(block, logIndex)))
      .orderBy("ledger_events.block_number")
      .orderBy("ledger_events.log_index")
      .limit(limit);
  // Placeholders stand where numbers will be: typed as their columns, filled in at each run.
  const numbers = (slot: Record<string, string>, ...names: string[]) => names.map((name) => slot[name]) as unknown as number[];
  return {
    own: preparedQuery(["batchId", "block", "logIndex", "limit"], (slot) => {
      const [block, logIndex, limit] = numbers(slot, "block", "logIndex", "limit");
      return events(block!, logIndex!, limit!, (eb) => eb("ledger_events.batch_id", "=", slot.batchId));
    }),
    agreed: preparedQuery(["batchId", "mahId", "agreementId", "productId", "block", "logIndex", "limit"], (slot) => {
      const [mahId, block, logIndex, limit] = numbers(slot, "mahId", "block", "logIndex", "limit");
      const agreements = db
        .selectFrom("agreements")
        .select("agreements.id")
        .where("agreements.mah_id", "=", mahId!)
        .where((eb) =>
          eb.or([
            eb("agreements.id", "=", slot.agreementId),
            eb.and([eb("agreements.kind", "!=", "QUALITY"), eb("agreements.product_id", "in", [slot.productId, EVERY_PRODUCT])]),
          ]),
        );
      return events(block!, logIndex!, limit!, (eb) =>
        eb.and([
          eb("ledger_events.agreement_id", "in", agreements),
          // An event of the batch's own is in the other part already.
          eb.or([eb("ledger_events.batch_id", "is", null), eb("ledger_events.batch_id", "!=", slot.batchId)]),
        ]),
      );
    }),
  };
}

/** The first `limit` events of two lists each in chain order, in chain order. */
function inChainOrder(a: ProvenanceEntry[], b: ProvenanceEntry[], limit: number): ProvenanceEntry[] {
  const merged: ProvenanceEntry[] = [];
  let [i, j] = [0, 0];
  while (merged.length < limit && (i < a.length || j < b.length)) {
    const takeA = j >= b.length || (i < a.length && before(a[i]!, b[j]!));
    merged.push(takeA ? a[i++]! : b[j++]!);
  }
  return merged;
}

const before = (x: ProvenanceEntry, y: ProvenanceEntry) =>
  x.block_number < y.block_number || (x.block_number === y.block_number && x.log_index < y.log_index);
