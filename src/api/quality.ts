import { z } from "zod";
import type { ApiServices } from "./context";
import { readableBatch } from "./batches";
import {
  BATCH_IMPACTS,
  CAPA_STATUSES,
  DEVIATION_CATEGORIES,
  DEVIATION_KINDS,
  DEVIATION_SEVERITIES,
  DEVIATION_STATUSES,
  ROOT_CAUSES,
} from "../ledger";
import { notAllowed } from "../ledger/errors";
import { bytes32 } from "./schemas";
import { defineRoute } from "./routes";

const capaView = z.object({
  capaHash: z.string().meta({ description: "the CAPA plan's document hash" }),
  recordedBy: z.number().int(),
  recordedAt: z.number().int(),
  ownerId: z.number().int().meta({ description: "the organization that carries it out (the batch's MAH or CMO)" }),
  dueAt: z.number().int(),
  status: z.enum(CAPA_STATUSES).meta({ description: "OPEN until the MAH's effectiveness check, then EFFECTIVE or INEFFECTIVE" }),
  overdue: z.boolean().meta({ description: "still OPEN after its due date (the capa_overdue alert)" }),
  checkedBy: z.number().int().nullable(),
  checkHash: z.string().nullable(),
  checkedAt: z.number().int().nullable(),
});

const deviationView = z.object({
  reportHash: z.string(),
  kind: z.enum(DEVIATION_KINDS.names),
  severity: z.enum(DEVIATION_SEVERITIES.names).meta({ description: "MINOR, MAJOR or CRITICAL as signed (NONE: reported on an earlier ledger)" }),
  category: z.enum(DEVIATION_CATEGORIES.names),
  status: z.enum(DEVIATION_STATUSES.names),
  openedBy: z.number().int(),
  openedAt: z.number().int(),
  closedBy: z.number().int().nullable(),
  closedAt: z.number().int().nullable(),
  closureHash: z.string().nullable(),
  rootCause: z.enum(ROOT_CAUSES.names).nullable(),
  batchImpact: z.enum(BATCH_IMPACTS.names).nullable(),
  capas: z.array(capaView),
});

/** A batch's deviations, oldest first, each with its CAPA. */
async function deviationsOf(services: ApiServices, batchId: string) {
  const { db } = services.store;
  const deviations = await db
    .selectFrom("deviations")
    .selectAll()
    .where("batch_id", "=", batchId)
    .orderBy("opened_at")
    .orderBy("report_hash")
    .execute();
  const capas = await db.selectFrom("capas").selectAll().where("batch_id", "=", batchId).orderBy("recorded_at").orderBy("capa_hash").execute();
  const now = services.now();
  return deviations.map((d) => ({
    reportHash: d.report_hash,
    kind: d.kind,
    severity: d.severity,
    category: d.category,
    status: d.status,
    openedBy: d.opened_by,
    openedAt: d.opened_at,
    closedBy: d.closed_by,
    closedAt: d.closed_at,
    closureHash: d.closure_hash,
    rootCause: d.root_cause,
    batchImpact: d.batch_impact,
    capas: capas
      .filter((c) => c.report_hash === d.report_hash)
      .map((c) => ({
        capaHash: c.capa_hash,
        recordedBy: c.recorded_by,
        recordedAt: c.recorded_at,
        ownerId: c.owner_id,
        dueAt: c.due_at,
        status: c.status,
        overdue: c.status === "OPEN" && c.due_at <= now,
        checkedBy: c.checked_by,
        checkHash: c.check_hash,
        checkedAt: c.checked_at,
      })),
  }));
}

export const qualityRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/batches/:batchId/deviations",
    summary: "A batch's deviations, OOS and OOT results with severity, category, root cause, impact on the batch and their CAPA",
    tags: ["batches"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    response: z.object({ items: z.array(deviationView) }),
    errors: { 403: "the caller is not a regulator, nor the batch's MAH or CMO", 404: "no such batch" },
    async handle({ params, caller, services }) {
      const batch = await readableBatch(services, caller, params.batchId);
      // Quality records are between the MAH, the CMO and the regulators, as the batch's timeline is.
      if (caller!.role !== "REGULATOR" && caller!.organizationId !== batch.mah_id && caller!.organizationId !== batch.cmo_id) {
        throw notAllowed(
          "DEVIATIONS_RESTRICTED",
          `a batch's deviations are for regulators and the batch's MAH and CMO, not organization ${caller!.organizationId}`,
        );
      }
      return { items: await deviationsOf(services, params.batchId) };
    },
  }),
];
