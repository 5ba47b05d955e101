import { z } from "zod";
import { checkBatchAccess } from "./access";
import type { ApiServices, Caller } from "./context";
import { RECALL_STATUSES, STARTED_RECALL_LEVELS } from "../ledger";
import type { RecallDeadlines, StartedRecallLevel } from "../ledger";
import { notFound, unauthenticated } from "../ledger/errors";
import { decodeCursor, page, pageQuery } from "./pagination";
import { organizationsById } from "./read-model";
import { findBatch } from "./batches";
import { bytes32, organizationRef } from "./schemas";
import { defineRoute } from "./routes";
import type { BatchRow } from "../store/queries";

const OPEN_OR_CLOSED = RECALL_STATUSES.names.slice(1) as ["OPEN", "CLOSED"];

const recallSummary = z.object({
  batchId: z.string(),
  batchNumber: z.string(),
  productId: z.string(),
  mahId: z.number().int(),
  level: z.enum(STARTED_RECALL_LEVELS),
  status: z.enum(OPEN_OR_CLOSED),
  startedBy: z.number().int(),
  startedAt: z.number().int(),
  closedAt: z.number().int().nullable(),
  acknowledgeBy: z.number().int().meta({ description: "when every holder must have acknowledged (set by the level)" }),
});

const holderView = z.object({
  organization: organizationRef,
  quantityHeld: z.number().int(),
  acknowledged: z.boolean(),
  quarantinedQuantity: z.number().int().nullable(),
  dispensedQuantity: z.number().int().nullable().meta({ description: "already dispensed when it acknowledged" }),
  destroyedQuantity: z.number().int().nullable(),
  missingQuantity: z.number().int().nullable().meta({ description: "could not be found when it acknowledged" }),
  acknowledgedAt: z.number().int().nullable(),
  late: z.boolean().meta({ description: "not acknowledged and the deadline has passed" }),
});

const reconciliation = z
  .object({
    made: z.number().int(),
    held: z.number().int(),
    quarantined: z.number().int().meta({ description: "held by holders that acknowledged the recall for what they hold" }),
    outstanding: z.number().int().meta({ description: "held by holders that have not acknowledged" }),
    inTransit: z.number().int(),
    dispensed: z.number().int(),
    destroyed: z.number().int(),
    missing: z.number().int().meta({ description: "reported missing on receipt or in an acknowledgement" }),
    unexplained: z.number().int().meta({ description: "outstanding + in transit: the recall closes only when this is 0" }),
  })
  .meta({ description: "where every unit the CMO made is: quarantined + outstanding + inTransit + dispensed + destroyed + missing = made" });

type RecallRow = {
  batch_id: string;
  batch_number: string;
  product_id: string;
  mah_id: number;
  cmo_id: number;
  level: string;
  status: string;
  started_by: number;
  started_at: number;
  closed_at: number | null;
};

function summary(row: RecallRow, deadlines: RecallDeadlines): z.input<typeof recallSummary> {
  const level = row.level as StartedRecallLevel;
  return {
    batchId: row.batch_id,
    batchNumber: row.batch_number,
    productId: row.product_id,
    mahId: row.mah_id,
    level,
    status: row.status as (typeof OPEN_OR_CLOSED)[number],
    startedBy: row.started_by,
    startedAt: row.started_at,
    closedAt: row.closed_at,
    acknowledgeBy: row.started_at + deadlines[level].acknowledge,
  };
}

function recallQuery(services: ApiServices) {
  return services.store.db
    .selectFrom("recalls")
    .innerJoin("batches", "batches.id", "recalls.batch_id")
    .select([
      "recalls.batch_id",
      "batches.batch_number",
      "batches.product_id",
      "batches.mah_id",
      "batches.cmo_id",
      "recalls.level",
      "recalls.status",
      "recalls.started_by",
      "recalls.started_at",
      "recalls.closed_at",
    ]);
}

export const recallRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/recalls",
    summary: "List recalls the caller may read, newest first",
    tags: ["recalls"],
    access: "organization",
    query: z.object({
      status: z.enum(OPEN_OR_CLOSED).optional(),
      level: z.enum(STARTED_RECALL_LEVELS).optional(),
      ...pageQuery,
    }),
    response: z.object({ items: z.array(recallSummary), nextCursor: z.string().nullable() }),
    async handle({ query, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to list recalls");
      let q = recallQuery(services);
      if (query.status) q = q.where("recalls.status", "=", query.status);
      if (query.level) q = q.where("recalls.level", "=", query.level);
      q = scopeRecalls(q, caller);
      const cursor = decodeCursor(query.cursor);
      if (cursor) {
        q = q.where((eb) =>
          eb.or([
            eb("recalls.started_at", "<", cursor.at),
            eb.and([eb("recalls.started_at", "=", cursor.at), eb("recalls.batch_id", ">", cursor.id)]),
          ]),
        );
      }
      const rows = await q
        .orderBy("recalls.started_at", "desc")
        .orderBy("recalls.batch_id")
        .limit(query.limit + 1)
        .execute();
      const { items, nextCursor } = page(rows, query.limit, (row) => ({ at: row.started_at, id: row.batch_id }));
      return { items: items.map((row) => summary(row, services.config.recallDeadlines)), nextCursor };
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/recalls/:batchId",
    summary:
      "A recall's reconciliation: every holder's account (quarantined, dispensed, destroyed, missing), where every unit of the batch is, what is still unexplained, the deadline",
    tags: ["recalls"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    response: recallSummary.extend({
      holders: z.array(holderView),
      totals: reconciliation,
    }),
    errors: { 403: "the caller has no part in the batch", 404: "no recall of this batch" },
    async handle({ params, caller, services }) {
      const batch = await findBatch(services, params.batchId);
      await checkBatchAccess(services, caller, batch);
      const row = await recallQuery(services).where("recalls.batch_id", "=", batch.id).executeTakeFirst();
      if (!row) throw notFound("NO_RECALL", `batch ${batch.batch_number} has not been recalled`);
      const recall = summary(row, services.config.recallDeadlines);
      const holders = await holdersOf(services, batch.id, recall.acknowledgeBy);
      const seesAll = caller!.role === "REGULATOR" || caller!.organizationId === batch.mah_id || caller!.organizationId === batch.cmo_id;
      const visible = seesAll ? holders : holders.filter((h) => h.organization.id === caller!.organizationId);
      return { ...recall, holders: visible, totals: reconcile(batch, holders) };
    },
  }),
];

/** Where every unit of the batch is, from the batch's accounts and its holders' acknowledgements. */
function reconcile(batch: BatchRow, holders: { quantityHeld: number; acknowledged: boolean }[]): z.input<typeof reconciliation> {
  const heldBy = (acknowledged: boolean) => holders.filter((h) => h.acknowledged === acknowledged).reduce((sum, h) => sum + h.quantityHeld, 0);
  const [quarantined, outstanding] = [heldBy(true), heldBy(false)];
  return {
    made: batch.quantity,
    held: quarantined + outstanding,
    quarantined,
    outstanding,
    inTransit: batch.in_transit,
    dispensed: batch.dispensed,
    destroyed: batch.destroyed,
    missing: batch.missing,
    unexplained: outstanding + batch.in_transit,
  };
}

async function holdersOf(services: ApiServices, batchId: string, acknowledgeBy: number) {
  const { db } = services.store;
  const rows = await db
    .selectFrom("holdings")
    .leftJoin("recall_acknowledgements as ack", (join) =>
      join.onRef("ack.batch_id", "=", "holdings.batch_id").onRef("ack.holder_id", "=", "holdings.organization_id"),
    )
    .select([
      "holdings.organization_id",
      "holdings.quantity",
      "holdings.recall_acknowledged",
      "ack.quarantined_quantity",
      "ack.dispensed_quantity",
      "ack.destroyed_quantity",
      "ack.missing_quantity",
      "ack.acknowledged_at",
    ])
    .where("holdings.batch_id", "=", batchId)
    .where((eb) => eb.or([eb("holdings.quantity", ">", 0), eb("ack.holder_id", "is not", null)]))
    .orderBy("holdings.organization_id")
    .execute();
  const organizations = await organizationsById(
    db,
    rows.map((r) => r.organization_id),
  );
  const now = services.now();
  return rows.map((row) => {
    const acknowledged = row.recall_acknowledged === 1 || (row.quantity === 0 && row.acknowledged_at !== null);
    return {
      organization: organizations.get(row.organization_id)!,
      quantityHeld: row.quantity,
      acknowledged,
      quarantinedQuantity: row.quarantined_quantity,
      dispensedQuantity: row.dispensed_quantity,
      destroyedQuantity: row.destroyed_quantity,
      missingQuantity: row.missing_quantity,
      acknowledgedAt: row.acknowledged_at,
      late: !acknowledged && row.quantity > 0 && now > acknowledgeBy,
    };
  });
}

function scopeRecalls(q: ReturnType<typeof recallQuery>, caller: Caller): ReturnType<typeof recallQuery> {
  const id = caller.organizationId;
  if (caller.role === "REGULATOR") return q;
  if (caller.role === "MAH") return q.where("batches.mah_id", "=", id);
  if (caller.role === "CMO") return q.where("batches.cmo_id", "=", id);
  // As for reading a batch (access.ts): what it held, or was sent — a recipient with stock still on the way
  // needs the recall as much as a holder.
  return q.where((eb) =>
    eb.or([
      eb.exists(
        eb
          .selectFrom("holdings")
          .select("holdings.batch_id")
          .whereRef("holdings.batch_id", "=", "recalls.batch_id")
          .where("holdings.organization_id", "=", id),
      ),
      eb.exists(
        eb
          .selectFrom("shipments")
          .select("shipments.id")
          .whereRef("shipments.batch_id", "=", "recalls.batch_id")
          .where("shipments.recipient_id", "=", id),
      ),
    ]),
  );
}
