import type { Kysely, Transaction } from "kysely";
import { chunkRows, newFactsVersion, writeRows } from "../store";
import type { Database } from "../store";

/**
 * An in-memory window on the read-model tables for one block range: rows are loaded in bulk by key before the
 * range's events are applied, changed in memory, and written back in bulk. Applying events one statement at a time
 * would cost a database round trip per event.
 */
type TableSpec = { table: keyof Database; key: readonly string[] };

export const TABLES = {
  organizations: { table: "organizations", key: ["id"] },
  signingKeys: { table: "signing_keys", key: ["address"] },
  products: { table: "products", key: ["id"] },
  agreements: { table: "agreements", key: ["id"] },
  batches: { table: "batches", key: ["id"] },
  deviations: { table: "deviations", key: ["batch_id", "report_hash"] },
  shipments: { table: "shipments", key: ["id"] },
  holdings: { table: "holdings", key: ["batch_id", "organization_id"] },
  packStates: { table: "pack_states", key: ["pack"] },
  recalls: { table: "recalls", key: ["batch_id"] },
  recallAcknowledgements: { table: "recall_acknowledgements", key: ["batch_id", "holder_id"] },
  batchHolds: { table: "batch_holds", key: ["batch_id"] },
  batchAggregations: { table: "batch_aggregations", key: ["batch_id"] },
  unpackedUnits: { table: "unpacked_units", key: ["container_id", "unit_id"] },
  alertCases: { table: "alert_cases", key: ["case_key"] },
  alertCaseHistory: { table: "alert_case_history", key: ["case_key", "revision"] },
  suspectReports: { table: "suspect_reports", key: ["id"] },
  capas: { table: "capas", key: ["batch_id", "capa_hash"] },
  productRiskClasses: { table: "product_risk_classes", key: ["product_id"] },
  responsiblePersons: { table: "responsible_persons", key: ["product_id", "person_key"] },
  batchQualityRecords: { table: "batch_quality_records", key: ["batch_id"] },
  qualityReviews: { table: "quality_reviews", key: ["product_id", "year", "quarter"] },
  communicationTerms: { table: "communication_terms", key: ["agreement_id"] },
  qualityNotices: { table: "quality_notices", key: ["id"] },
  shortageListings: { table: "shortage_listings", key: ["product_id"] },
  stopProductionReports: { table: "stop_production_reports", key: ["product_id", "stop_at"] },
  retainedSamples: { table: "retained_samples", key: ["batch_id"] },
  inspections: { table: "inspections", key: ["id"] },
  inspectionRecognitions: { table: "inspection_recognitions", key: ["inspection_id", "province"] },
  samplings: { table: "samplings", key: ["id"] },
} as const satisfies Record<string, TableSpec>;

export type TableKey = keyof typeof TABLES;
type RowOf<K extends TableKey> = Database[(typeof TABLES)[K]["table"]];
type KeyValue = string | number;

const keyString = (values: readonly KeyValue[]) => values.join("|");

/** Rows of one table within the window: loaded, created or changed. */
export class TableWindow<K extends TableKey> {
  private readonly rows = new Map<string, RowOf<K>>();
  private readonly wanted = new Map<string, KeyValue[]>();
  private readonly dirty = new Set<string>();

  constructor(readonly spec: (typeof TABLES)[K]) {}

  /** Asks for the row with this key to be loaded before events are applied. */
  want(...key: KeyValue[]) {
    this.wanted.set(keyString(key), key);
  }

  get(...key: KeyValue[]): RowOf<K> | undefined {
    return this.rows.get(keyString(key));
  }

  /** Creates or replaces a row and marks it for writing. */
  put(row: RowOf<K>) {
    const key = keyString(this.spec.key.map((column) => (row as Record<string, KeyValue>)[column]!));
    this.rows.set(key, row);
    this.dirty.add(key);
  }

  /** Every row the window holds: loaded, created or changed. */
  all(): IterableIterator<RowOf<K>> {
    return this.rows.values();
  }

  /** The rows created or changed since the window was last written. */
  changed(): RowOf<K>[] {
    return [...this.dirty].map((key) => this.rows.get(key)!);
  }

  /** Changes fields of an existing row. */
  update(row: RowOf<K>, changes: Partial<RowOf<K>>) {
    this.put({ ...row, ...changes });
  }

  async load(db: Kysely<Database> | Transaction<Database>) {
    const wanted = [...this.wanted.entries()].filter(([key]) => !this.rows.has(key)).map(([, values]) => values);
    this.wanted.clear();
    if (wanted.length === 0) return;
    const anyDb = db as unknown as Kysely<Record<string, Record<string, unknown>>>;
    const columns = this.spec.key;
    for (const chunk of chunkRows(wanted, 10_000 / columns.length)) {
      // Composite keys load by each column's values, a superset filtered below: portable to both databases.
      let query = anyDb.selectFrom(this.spec.table).selectAll();
      columns.forEach((column, i) => {
        query = query.where(column, "in", [...new Set(chunk.map((values) => values[i]!))]);
      });
      for (const row of await query.execute()) {
        const key = keyString(columns.map((column) => row[column] as KeyValue));
        if (!this.rows.has(key)) this.rows.set(key, row as RowOf<K>);
      }
    }
  }

  /** Writes the rows created or changed, through `db`'s bulk path (see store/bulk.ts). */
  async write(trx: Transaction<Database>, db: Kysely<Database>) {
    const rows = [...this.dirty].map((key) => this.rows.get(key)!);
    this.dirty.clear();
    await writeRows(db, trx, this.spec.table, rows as unknown as Record<string, unknown>[], { key: this.spec.key });
  }
}

export type ReadModelWindow = { [K in TableKey]: TableWindow<K> };

export function createWindow(): ReadModelWindow {
  return Object.fromEntries(Object.entries(TABLES).map(([name, spec]) => [name, new TableWindow(spec as never)])) as ReadModelWindow;
}

export async function loadWindow(window: ReadModelWindow, db: Kysely<Database> | Transaction<Database>) {
  for (const table of Object.values(window)) await table.load(db);
}

export async function writeWindow(window: ReadModelWindow, trx: Transaction<Database>, db: Kysely<Database>) {
  const version = newFactsVersion();
  const parties = { products: window.products.changed().map((p) => p.id), organizations: window.organizations.changed().map((o) => o.id) };
  // Every batch an event of the range names gets a new facts version in the range's transaction: a scan's cached
  // facts of it (its row, its unverified attestations) are stale from the moment the range is visible.
  for (const batch of window.batches.all()) window.batches.update(batch, { facts_version: version });
  for (const table of Object.values(window)) await table.write(trx, db);
  // Batches whose product or parties changed too: rare (a suspension), and without a window row each.
  if (parties.products.length > 0 || parties.organizations.length > 0) {
    await trx
      .updateTable("batches")
      .set({ facts_version: version })
      .where((eb) =>
        eb.or([
          ...(parties.products.length > 0 ? [eb("product_id", "in", parties.products)] : []),
          ...(parties.organizations.length > 0 ? [eb("mah_id", "in", parties.organizations), eb("cmo_id", "in", parties.organizations)] : []),
        ]),
      )
      .execute();
  }
}
