import type { Kysely } from "kysely";
import { chunkRows } from "./index";
import type { Database, ShipmentDifferenceTable, ShipmentReconciliationTable } from "./schema";

/** One (container, unit) pair of a batch's registered aggregation, and whether the unit was taken out since. */
export type ContainedUnit = { containerKey: string; unitKey: string; unpacked: boolean };

/**
 * What cases and pallets read and write: the registered pairs (which unit is directly inside which SSCC), the
 * committed aggregation and unpackings the indexer mirrors, the units a shipment names and the reconciliations of
 * their receipt. Keys are canonical codes ("(00)SSCC" or a pack's key).
 */
export function caseReads(db: Kysely<Database>) {
  /** The pairs whose container is one of `containerKeys`, each marked taken out or not. */
  async function contentsOf(containerKeys: string[]): Promise<ContainedUnit[]> {
    const found: ContainedUnit[] = [];
    for (const chunk of chunkRows(
      containerKeys.map((key) => ({ key })),
      5_000,
    )) {
      const rows = await db
        .selectFrom("aggregation_units")
        .leftJoin("unpacked_units", (join) =>
          join
            .onRef("unpacked_units.container_id", "=", "aggregation_units.container_id")
            .onRef("unpacked_units.unit_id", "=", "aggregation_units.unit_id"),
        )
        .select(["aggregation_units.container_key", "aggregation_units.unit_key", "unpacked_units.unpacked_at"])
        .where(
          "aggregation_units.container_key",
          "in",
          chunk.map((c) => c.key),
        )
        .execute();
      for (const row of rows) found.push({ containerKey: row.container_key, unitKey: row.unit_key, unpacked: row.unpacked_at !== null });
    }
    return found;
  }

  return {
    contentsOf,

    /** The batch a case or pallet belongs to, by its registered contents; undefined for an SSCC never registered. */
    async batchOfContainer(containerKey: string): Promise<string | undefined> {
      const row = await db.selectFrom("aggregation_units").select("batch_id").where("container_key", "=", containerKey).limit(1).executeTakeFirst();
      return row?.batch_id;
    },

    /** The container a unit is directly inside, while it has not been taken out. */
    async parentOf(unitKey: string): Promise<string | undefined> {
      const [row] = await db
        .selectFrom("aggregation_units")
        .leftJoin("unpacked_units", (join) =>
          join
            .onRef("unpacked_units.container_id", "=", "aggregation_units.container_id")
            .onRef("unpacked_units.unit_id", "=", "aggregation_units.unit_id"),
        )
        .select(["aggregation_units.container_key"])
        .where("aggregation_units.unit_key", "=", unitKey)
        .where("unpacked_units.unit_id", "is", null)
        .limit(1)
        .execute();
      return row?.container_key;
    },

    /**
     * The packs a unit stands for now: itself for a pack, else every pack still inside it (through cases still on
     * a pallet). `containers` receives each pack's innermost container.
     */
    async packsOf(unitKeys: string[]): Promise<Map<string, string | null>> {
      const packs = new Map<string, string | null>();
      let level = new Map(unitKeys.map((key) => [key, null as string | null]));
      while (level.size > 0) {
        const contents = await contentsOf([...level.keys()]);
        const containers = new Set(contents.map((c) => c.containerKey));
        for (const [key, parent] of level) if (!containers.has(key)) packs.set(key, parent);
        level = new Map(contents.filter((c) => !c.unpacked).map((c) => [c.unitKey, c.containerKey]));
      }
      return packs;
    },

    aggregation(batchId: string) {
      return db.selectFrom("batch_aggregations").selectAll().where("batch_id", "=", batchId).executeTakeFirst();
    },

    async isRegistered(batchId: string) {
      return (await db.selectFrom("aggregation_units").select("batch_id").where("batch_id", "=", batchId).limit(1).executeTakeFirst()) !== undefined;
    },

    /** Every registered pair of the batch (what its aggregation tree is rebuilt from). */
    async pairsOf(batchId: string) {
      return db.selectFrom("aggregation_units").select(["container_key", "unit_key"]).where("batch_id", "=", batchId).execute();
    },

    shipmentUnits(shipmentId: string) {
      return db
        .selectFrom("shipment_units")
        .select("unit_key")
        .where("shipment_id", "=", shipmentId)
        .execute()
        .then((rows) => rows.map((r) => r.unit_key));
    },

    reconciliation(shipmentId: string) {
      return db.selectFrom("shipment_reconciliations").selectAll().where("shipment_id", "=", shipmentId).executeTakeFirst();
    },

    differences(shipmentId: string) {
      return db.selectFrom("shipment_differences").selectAll().where("shipment_id", "=", shipmentId).orderBy("code_key").execute();
    },

    /** Replaces the shipment's reconciliation and its differences in one transaction. */
    async recordReconciliation(reconciliation: ShipmentReconciliationTable, differences: ShipmentDifferenceTable[]) {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom("shipment_differences").where("shipment_id", "=", reconciliation.shipment_id).execute();
        await trx.deleteFrom("shipment_reconciliations").where("shipment_id", "=", reconciliation.shipment_id).execute();
        await trx.insertInto("shipment_reconciliations").values(reconciliation).execute();
        for (const chunk of chunkRows(differences, 5_000)) await trx.insertInto("shipment_differences").values(chunk).execute();
      });
    },
  };
}

export type CaseReads = ReturnType<typeof caseReads>;
