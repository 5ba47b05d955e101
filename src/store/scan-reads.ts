import { sql } from "kysely";
import type { Kysely } from "kysely";
import { CUSTODY_EVENTS } from "../ledger";
import { UNVERIFIED_SQL } from "./migrations";
import type { PackStateName } from "../ledger";
import { batchQuery, preparedQuery } from "./queries";
import type { BatchRow } from "./queries";
import type { Database } from "./schema";
import { readRows } from "./index";

/**
 * What a scan reads, and nothing else. Every scan runs one narrow statement: the batch the code belongs to, the
 * batch's facts version and the pack's own state (dispensed, destroyed, stolen, …), by three primary keys, or for a
 * code no batch has, its product's name. The batch's facts (its row, product, MAH and CMO, and how many attestations
 * on its path are unverified) come from a cache in this process, trusted while the version read with the code is the
 * one they were cached under: the indexer sets a new version in the same transaction as any change to them
 * (src/store/facts-version.ts), so a recall or hold written by any server of a cluster sharing the database is seen
 * by the next scan on every server, at no extra round trip. Besides: the scanner's relation to the batch, and the
 * batch's custody path. The statements run on every scan are compiled once per database.
 */
export type ScanReads = ReturnType<typeof compileScanReads>;

const compiled = new WeakMap<Kysely<Database>, ScanReads>();

export function scanReads(db: Kysely<Database>): ScanReads {
  let reads = compiled.get(db);
  if (!reads) compiled.set(db, (reads = compileScanReads(db)));
  return reads;
}

/** What a scan knows of a batch besides the pack: its row with its product's and parties' names, and its unverified attestations. */
export type BatchFacts = BatchRow & {
  unverified_attestations: number;
  /** Open suspect-product reports on the batch: one naming no packs reports it whole; the others name these packs. */
  suspect: { wholeBatch: boolean; packs: string[] };
};

/** A scanned pack's batch and the pack's own state; or, for a code no batch has, its product's name (if the ledger holds the product). */
export type ScannedPack = { batch: BatchFacts; packState: PackStateName | null } | { batch?: undefined; productName: string | undefined };

/** Batches whose facts a server keeps: beyond it, the oldest cached is dropped (a miss costs one more statement). */
const CACHED_BATCHES = 100_000;

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
  // Every lookup is by a primary key, so the plan needs no statistics. One row whatever the code: its batch's,
  // or, for a code no batch has, its product's name (read only then), so that an unknown code costs no second
  // statement.
  const pack = preparedQuery(["key", "pack", "productCode"], (slot) =>
    db
      .selectFrom(db.selectNoFrom((eb) => eb.val(slot.key).as("key")).as("scanned"))
      .leftJoin("batch_codes", "batch_codes.canonical_key", "scanned.key")
      .leftJoin("batches", "batches.id", "batch_codes.batch_id")
      .select(["batch_codes.batch_id", "batches.facts_version"])
      .select((eb) => [
        eb.selectFrom("pack_states").select("pack_states.state").where("pack_states.pack", "=", slot.pack).as("pack_state"),
        eb
          .case()
          .when("batches.id", "is", null)
          .then(eb.selectFrom("products").select("products.name").where("products.product_code", "=", slot.productCode))
          .end()
          .as("product_name"),
      ]),
  );
  const facts = preparedQuery(["batchId"], (slot) =>
    batchQuery(db)
      .select((eb) =>
        // The batch's attestations whose signatures are pending deferred verification or failed it.
        eb
          .selectFrom("ledger_events")
          .select((count) => count.fn.countAll<number>().as("count"))
          .where("ledger_events.batch_id", "=", slot.batchId)
          .where(sql<boolean>`${sql.raw(UNVERIFIED_SQL)}`)
          .as("unverified_attestations"),
      )
      .where("batches.id", "=", slot.batchId),
  );
  // A suspect-product report's event names its batch, so filing or terminating one sets a new facts version too.
  const suspect = preparedQuery(["batchId"], (slot) =>
    db.selectFrom("suspect_reports").select("packs").where("batch_id", "=", slot.batchId).where("status", "=", sql.lit("OPEN")),
  );
  async function freshFacts(batchId: string): Promise<BatchFacts | undefined> {
    const row = (await db.executeQuery(facts({ batchId }))).rows[0];
    if (!row) return undefined;
    const reported = (await db.executeQuery(suspect({ batchId }))).rows.map((r) => JSON.parse(r.packs) as string[]);
    return {
      ...row,
      unverified_attestations: Number(row.unverified_attestations ?? 0),
      suspect: { wholeBatch: reported.some((packs) => packs.length === 0), packs: reported.flat() },
    };
  }
  const cache = new Map<string, BatchFacts>();
  async function factsOf(batchId: string, version: number): Promise<BatchFacts | undefined> {
    const cached = cache.get(batchId);
    // PostgreSQL hands a bigint over as text, SQLite as a number.
    if (cached && Number(cached.facts_version) === Number(version)) return cached;
    const fresh = await freshFacts(batchId);
    if (!fresh) return undefined;
    cache.delete(batchId);
    if (cache.size >= CACHED_BATCHES) cache.delete(cache.keys().next().value!);
    cache.set(batchId, fresh);
    return fresh;
  }
  const product = preparedQuery(["productCode"], (slot) => db.selectFrom("products").select("name").where("product_code", "=", slot.productCode));
  const productName = async (productCode: string | null) => (await readRows(db, product({ productCode })))[0]?.name;
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
  const custody = preparedQuery(["batchId"], (slot) =>
    db
      .selectFrom("ledger_events")
      .selectAll()
      .where("batch_id", "=", slot.batchId)
      .where("name", "in", CUSTODY_EVENTS)
      .orderBy("block_number")
      .orderBy("log_index"),
  );
  const custodians = new WeakMap<BatchRow, Map<number, Custodian>>();
  return {
    /**
     * The batch of the pack with this canonical key and id, and the pack's own state; for a code no batch has, the
     * name of its product (of `productCode`), undefined when the ledger holds no such product.
     */
    async pack(key: string, packId: string, productCode: string | null): Promise<ScannedPack> {
      const found = (await readRows(db, pack({ key, pack: packId, productCode })))[0]!;
      if (found.batch_id === null || found.facts_version === null) return { productName: found.product_name ?? undefined };
      const batch = await factsOf(found.batch_id, found.facts_version);
      // A batch whose facts cannot be read (its product's or parties' rows missing) is no batch to judge by.
      if (!batch) return { productName: await productName(productCode) };
      return { batch, packState: found.pack_state };
    },
    /** A batch's facts read afresh: a case's or pallet's scan reads no pack row, so it has no version to check a cache by. */
    async batchFacts(batchId: string): Promise<BatchFacts | undefined> {
      return freshFacts(batchId);
    },
    /**
     * How the organization stands to the batch, kept with the batch's facts: holdings and shipments change only by
     * events that name the batch, and those set a new facts version, so `batch` (the facts cached under one
     * version) is replaced before any of it changes. A batch read afresh (`batchFacts`) keeps nothing.
     */
    async custodian(batch: BatchRow, organizationId: number): Promise<Custodian> {
      let known = custodians.get(batch);
      if (!known) custodians.set(batch, (known = new Map()));
      const kept = known.get(organizationId);
      if (kept) return kept;
      const row = (await readRows(db, custodian({ batchId: batch.id, organizationId })))[0]!;
      // SQLite answers EXISTS as 0 or 1, PostgreSQL as a boolean.
      const standing = { holds: Boolean(row.holds), receiving: Boolean(row.receiving), everInPath: Boolean(row.held) || Boolean(row.sent) };
      known.set(organizationId, standing);
      return standing;
    },
    /** The batch's signed hand-overs, in chain order. */
    async custody(batchId: string) {
      return (await db.executeQuery(custody({ batchId }))).rows;
    },
  };
}
