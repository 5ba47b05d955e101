import { sql } from "kysely";
import type { Kysely } from "kysely";
import { CUSTODY_EVENTS } from "../ledger";
import { UNVERIFIED_SQL } from "./migrations";
import { batchQuery, preparedQuery } from "./queries";
import type { Database } from "./schema";

/**
 * What a scan reads, and nothing else: the pack's batch and its state (dispensed, destroyed, stolen, …), whether any
 * attestation on the batch's path is unverified, the product when no batch has the code, the scanner's relation to
 * the batch, and the batch's custody path. Each is one statement; the first
 * three are compiled once per database, as they run on every scan.
 */
export type ScanReads = ReturnType<typeof compileScanReads>;

const compiled = new WeakMap<Kysely<Database>, ScanReads>();

export function scanReads(db: Kysely<Database>): ScanReads {
  let reads = compiled.get(db);
  if (!reads) compiled.set(db, (reads = compileScanReads(db)));
  return reads;
}

/** How an organization stands to a batch: for the verdict (holds, receiving) and for reading it (ever part of its path). */
export type Custodian = {
  /** Holds some of the batch now. */
  holds: boolean;
  /** Has a shipment of it in transit to it. */
  receiving: boolean;
  /** Held it at some time (a holding row stays after it ships all out) or was ever sent it. */
  everInPath: boolean;
};

function compileScanReads(db: Kysely<Database>) {
  // The code is looked up in a subquery rather than joined: SQLite plans the five-way join with per-run setup that
  // costs a scan more than three times as much, found or not.
  const pack = preparedQuery(["key", "pack"], (slot) =>
    batchQuery(db)
      .select((eb) => eb.selectFrom("pack_states").select("pack_states.state").where("pack_states.pack", "=", slot.pack).as("pack_state"))
      .where("batches.id", "=", (eb) =>
        eb.selectFrom("batch_codes").select("batch_codes.batch_id").where("batch_codes.canonical_key", "=", slot.key),
      ),
  );
  // The batch's attestations whose signatures are pending deferred verification or failed it.
  const unverified = preparedQuery(["batchId"], (slot) =>
    db
      .selectFrom("ledger_events")
      .select((eb) => eb.fn.countAll<number>().as("count"))
      .where("batch_id", "=", slot.batchId)
      .where(sql<boolean>`${sql.raw(UNVERIFIED_SQL)}`),
  );
  const product = preparedQuery(["productCode"], (slot) => db.selectFrom("products").select("name").where("product_code", "=", slot.productCode));
  const custodian = preparedQuery(["batchId", "organizationId"], (slot) => {
    // A placeholder stands where the organization's id will be: typed as the column, filled in at each run.
    const organizationSlot = slot.organizationId as unknown as number;
    return db.selectNoFrom((eb) => [
      eb
        .exists(
          eb
            .selectFrom("holdings")
            .select("holdings.batch_id")
            .where("holdings.batch_id", "=", slot.batchId)
            .where("holdings.organization_id", "=", organizationSlot)
            .where("holdings.quantity", ">", 0),
        )
        .as("holds"),
      eb
        .exists(
          eb
            .selectFrom("holdings")
            .select("holdings.batch_id")
            .where("holdings.batch_id", "=", slot.batchId)
            .where("holdings.organization_id", "=", organizationSlot),
        )
        .as("held"),
      eb
        .exists(
          eb
            .selectFrom("shipments")
            .select("shipments.id")
            .where("shipments.batch_id", "=", slot.batchId)
            .where("shipments.recipient_id", "=", organizationSlot)
            .where("shipments.status", "=", sql.lit("IN_TRANSIT")),
        )
        .as("receiving"),
      eb
        .exists(
          eb
            .selectFrom("shipments")
            .select("shipments.id")
            .where("shipments.batch_id", "=", slot.batchId)
            .where("shipments.recipient_id", "=", organizationSlot),
        )
        .as("sent"),
    ]);
  });
  return {
    async pack(key: string, packId: string) {
      return (await db.executeQuery(pack({ key, pack: packId }))).rows[0];
    },
    /** Whether an open suspect-product report names the pack or (naming no packs) its whole batch. */
    async suspectReported(batchId: string, packId: string): Promise<boolean> {
      const open = await db.selectFrom("suspect_reports").select("packs").where("batch_id", "=", batchId).where("status", "=", "OPEN").execute();
      return open.some((report) => {
        const packs = JSON.parse(report.packs) as string[];
        return packs.length === 0 || packs.includes(packId);
      });
    },
    /** How many attestations on the batch's path are not verified: pending deferred verification, or failed. */
    async unverifiedAttestations(batchId: string): Promise<number> {
      return Number((await db.executeQuery(unverified({ batchId }))).rows[0]?.count ?? 0);
    },
    async productName(productCode: string | null) {
      return (await db.executeQuery(product({ productCode }))).rows[0]?.name;
    },
    async custodian(batchId: string, organizationId: number): Promise<Custodian> {
      const row = (await db.executeQuery(custodian({ batchId, organizationId }))).rows[0]!;
      // SQLite answers EXISTS as 0 or 1, PostgreSQL as a boolean.
      return { holds: Boolean(row.holds), receiving: Boolean(row.receiving), everInPath: Boolean(row.held) || Boolean(row.sent) };
    },
    /** The batch's signed hand-overs, in chain order. */
    custody(batchId: string) {
      return db
        .selectFrom("ledger_events")
        .selectAll()
        .where("batch_id", "=", batchId)
        .where("name", "in", CUSTODY_EVENTS)
        .orderBy("block_number")
        .orderBy("log_index")
        .execute();
    },
  };
}
