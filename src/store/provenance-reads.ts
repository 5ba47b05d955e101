import type { Expression, ExpressionBuilder, Kysely, SqlBool } from "kysely";
import { readRows } from "./index";
import { preparedQuery } from "./queries";
import type { BatchTable, Database, LedgerEventTable } from "./schema";

/** A ledger event of a batch's provenance as an entry shows it, with the organization it names (null if none). */
export type ProvenanceRow = Pick<
  LedgerEventTable,
  | "block_number"
  | "log_index"
  | "block_time"
  | "tx_hash"
  | "name"
  | "organization_id"
  | "signer"
  | "signer_organization_id"
  | "verification"
  | "problem"
  | "payload"
> & {
  organization_name: string | null;
  organization_role: string | null;
  organization_region: number | null;
};

/** A position in chain order: a page starts after it. */
export type ChainPosition = { block: number; logIndex: number };

/** Before every event: where the first page starts. */
const CHAIN_START: ChainPosition = { block: -1, logIndex: -1 };

/** An agreement that covers every product of its MAH names this product. */
const EVERY_PRODUCT = `0x${"0".repeat(64)}`;

const compiled = new WeakMap<Kysely<Database>, ReturnType<typeof compileProvenanceReads>>();

/**
 * A page of a batch's provenance after `after`, in chain order: its own events, and those of the agreements it was
 * made and moved under (its quality agreement; the MAH's storage, transport and sales agreements for its product or
 * for every product). Each part is one statement, compiled once per database, that reads its index (the event's
 * batch or agreement, then its chain position) in order and stops at the page's length, so a page costs its own
 * rows whatever the batch's length; the two are merged here, where a UNION ALL of them had the database sort the
 * page's rows again.
 */
export async function provenancePage(
  db: Kysely<Database>,
  batch: Pick<BatchTable, "id" | "mah_id" | "agreement_id" | "product_id">,
  after: ChainPosition | undefined,
  limit: number,
): Promise<ProvenanceRow[]> {
  let reads = compiled.get(db);
  if (!reads) compiled.set(db, (reads = compileProvenanceReads(db)));
  const { block, logIndex } = after ?? CHAIN_START;
  const position = { batchId: batch.id, block, logIndex, limit };
  // Read as arrays: a page's rows are many.
  const own = await readRows(db, reads.own(position), true);
  const agreed = await readRows(
    db,
    reads.agreed({ ...position, mahId: batch.mah_id, agreementId: batch.agreement_id, productId: batch.product_id }),
    true,
  );
  return inChainOrder(own, agreed, limit);
}

function compileProvenanceReads(db: Kysely<Database>) {
  const events = (block: number, logIndex: number, limit: number, where: (eb: ExpressionBuilder<Database, "ledger_events">) => Expression<SqlBool>) =>
    db
      .selectFrom("ledger_events")
      .leftJoin("organizations", "organizations.id", "ledger_events.organization_id")
      .select([
        "ledger_events.block_number",
        "ledger_events.log_index",
        "ledger_events.block_time",
        "ledger_events.tx_hash",
        "ledger_events.name",
        "ledger_events.organization_id",
        "ledger_events.signer",
        "ledger_events.signer_organization_id",
        "ledger_events.verification",
        "ledger_events.problem",
        "ledger_events.payload",
        "organizations.name as organization_name",
        "organizations.role as organization_role",
        "organizations.region as organization_region",
      ])
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
function inChainOrder(a: ProvenanceRow[], b: ProvenanceRow[], limit: number): ProvenanceRow[] {
  const merged: ProvenanceRow[] = [];
  let [i, j] = [0, 0];
  while (merged.length < limit && (i < a.length || j < b.length)) {
    const takeA = j >= b.length || (i < a.length && before(a[i]!, b[j]!));
    merged.push(takeA ? a[i++]! : b[j++]!);
  }
  return merged;
}

const before = (x: ProvenanceRow, y: ProvenanceRow) =>
  x.block_number < y.block_number || (x.block_number === y.block_number && x.log_index < y.log_index);
