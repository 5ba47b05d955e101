import { deadlinesOf } from "../ledger";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { badInput, LedgerError, notAllowed, notFound } from "../ledger/errors";
import { defineRoute } from "../api/routes";
import { bytes32, organizationId, rowId, wholeNumber } from "../api/schemas";
import type { AlertConfig } from "./config";
import { RULE_NAMES } from "./rules";
import { caseSchema, withCases } from "../supervision/routes";

const alertSchema = z.object({
  id: z.number().int(),
  rule: z.string(),
  severity: z.string(),
  status: z.enum(["open", "resolved", "retracted"]),
  organizationId: z.number().int().nullable(),
  batchId: z.string().nullable(),
  subject: z.string().nullable(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()),
  observedAt: z.number().int(),
  createdAt: z.number().int(),
  closedAt: z.number().int().nullable(),
  closedReason: z.string().nullable(),
  source: z.object({ blockNumber: z.number().int(), logIndex: z.number().int().nullable(), blockHash: z.string().nullable() }).nullable(),
});

/** Alerts and recall progress reports (risk ratings: src/supervision/records.ts). */
export function alertRoutes(config: AlertConfig) {
  return [
    defineRoute({
      method: "get",
      path: "/v1/alerts",
      summary: "Early-warning alerts: regulators see all; other organizations those about them or sent to them",
      tags: ["alerts"],
      access: "organization",
      query: z.object({
        organizationId: organizationId.optional(),
        rule: z.enum(RULE_NAMES as [string, ...string[]]).optional(),
        status: z.enum(["open", "resolved", "retracted"]).optional(),
        batchId: bytes32.optional(),
        before: rowId.optional().meta({ description: "only alerts with a smaller id (the next page)" }),
        limit: wholeNumber(1, 500).default(100),
      }),
      response: z.object({ alerts: z.array(alertSchema.extend({ case: caseSchema })) }),
      async handle({ query, caller, services }) {
        let select = services.store.db.selectFrom("alerts").selectAll();
        if (caller!.role !== "REGULATOR") {
          const me = caller!.organizationId;
          select = select.where((eb) =>
            eb.or([
              eb("alerts.organization_id", "=", me),
              eb.exists(
                eb
                  .selectFrom("notifications")
                  .select("notifications.id")
                  .whereRef("notifications.alert_id", "=", "alerts.id")
                  .where("notifications.organization_id", "=", me),
              ),
            ]),
          );
        }
        if (query.organizationId) select = select.where("organization_id", "=", query.organizationId);
        if (query.rule) select = select.where("rule", "=", query.rule);
        if (query.status) select = select.where("status", "=", query.status);
        if (query.batchId) select = select.where("batch_id", "=", query.batchId);
        if (query.before) select = select.where("id", "<", query.before);
        const rows = await select.orderBy("id", "desc").limit(query.limit).execute();
        return { alerts: await withCases(services, config, rows) };
      },
    }),
    defineRoute({
      method: "post",
      path: "/v1/recalls/:batchId/progress-reports",
      summary: "The MAH reports an open recall's progress to its regulator (the recall's level sets how often)",
      tags: ["recalls"],
      access: "organization",
      params: z.object({ batchId: bytes32 }),
      body: z.object({ reportHash: bytes32.meta({ description: "hash of the progress report document" }) }),
      response: z.object({ id: z.string(), batchId: z.string(), reportedAt: z.number().int(), nextDueAt: z.number().int() }),
      status: 201,
      errors: { 403: "not the batch's MAH", 404: "no such batch", 409: "no open recall of the batch" },
      async handle({ params, body, caller, services }) {
        const { db } = services.store;
        const batch = await db.selectFrom("batches").select(["id", "mah_id"]).where("id", "=", params.batchId).executeTakeFirst();
        if (!batch) throw notFound("NO_SUCH_BATCH", `no batch ${params.batchId}`);
        if (batch.mah_id !== caller!.organizationId) throw notAllowed("NOT_BATCH_MAH", "only the batch's MAH reports its recall's progress");
        const recall = await db.selectFrom("recalls").select(["status", "level"]).where("batch_id", "=", batch.id).executeTakeFirst();
        if (recall?.status !== "OPEN") throw new LedgerError("conflict", "NO_OPEN_RECALL", `batch ${batch.id} has no open recall`);
        const deadline = deadlinesOf(config.recallDeadlines, recall.level);
        if (!deadline) throw badInput("UNKNOWN_RECALL_LEVEL", `recall level ${recall.level} has no deadlines`);
        const row = {
          id: randomUUID(),
          batch_id: batch.id,
          reported_by: caller!.organizationId,
          report_hash: body.reportHash,
          reported_at: services.now(),
        };
        await db.insertInto("recall_progress_reports").values(row).execute();
        return { id: row.id, batchId: batch.id, reportedAt: row.reported_at, nextDueAt: row.reported_at + deadline.progressReport };
      },
    }),
  ];
}
