import { CompiledQuery } from "kysely";
import type { Kysely } from "kysely";
import { readRows } from "./index";
import type { BatchTable, Database } from "./schema";

/** A batch with its product's and parties' names, as the reads that show a batch need it. */
export function batchQuery(db: Kysely<Database>) {
  return db
    .selectFrom("batches")
    .innerJoin("products", "products.id", "batches.product_id")
    .innerJoin("organizations as mah", "mah.id", "batches.mah_id")
    .innerJoin("organizations as cmo", "cmo.id", "batches.cmo_id")
    .selectAll("batches")
    .select([
      "products.product_code",
      "products.name as product_name",
      "products.approval_number",
      "mah.name as mah_name",
      "mah.region as mah_region",
      "cmo.name as cmo_name",
      "cmo.region as cmo_region",
    ]);
}

const compiledBatchById = new WeakMap<Kysely<Database>, (values: { batchId: string }) => CompiledQuery<BatchRow>>();

/**
 * The batch `batchId` with its product's and parties' names, or undefined: a statement compiled once per database,
 * read at once where the store allows (src/store/index.ts, immediateRead). Every read of one batch (its page, its
 * provenance, its EPCIS export) starts with it.
 */
export async function batchById(db: Kysely<Database>, batchId: string): Promise<BatchRow | undefined> {
  let byId = compiledBatchById.get(db);
  if (!byId) {
    byId = preparedQuery(["batchId"], (slot) => batchQuery(db).where("batches.id", "=", slot.batchId)) as (values: {
      batchId: string;
    }) => CompiledQuery<BatchRow>;
    compiledBatchById.set(db, byId);
  }
  const query = byId({ batchId });
  return (await readRows(db, query))[0];
}

export type BatchRow = BatchTable & {
  product_code: string;
  product_name: string;
  approval_number: string;
  mah_name: string;
  mah_region: number;
  cmo_name: string;
  cmo_region: number;
};

/**
 * A query built and compiled once, run many times with new values. Building and compiling a kysely query costs
 * as much as running a lookup by key, so the scan path's queries are compiled once per database: `build` gets a
 * placeholder per named value, and each run puts the values where their placeholders landed in the parameters.
 */
export function preparedQuery<Name extends string, Row>(
  names: readonly Name[],
  build: (slot: Record<Name, string>) => { compile(): CompiledQuery<Row> },
): (values: Record<Name, unknown>) => CompiledQuery<Row> {
  const slots = Object.fromEntries(names.map((name) => [name, `\u0000prepared:${name}`])) as Record<Name, string>;
  const compiled = build(slots).compile();
  const placed = compiled.parameters.map((parameter) => names.find((name) => slots[name] === parameter));
  for (const name of names) {
    if (!placed.includes(name)) throw new Error(`prepared query: the value ${name} is not a parameter of ${compiled.sql}`);
  }
  return (values) =>
    CompiledQuery.raw(
      compiled.sql,
      placed.map((name, i) => (name === undefined ? compiled.parameters[i] : values[name])),
    ) as CompiledQuery<Row>;
}
