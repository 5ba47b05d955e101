import { z } from "zod";
import { mayReadBatch } from "../api/access";
import type { ApiServices, Caller } from "../api/context";
import { defineRoute } from "../api/routes";
import { bytes32, rowId } from "../api/schemas";
import { alertView } from "../alerts/engine";
import type { AlertConfig } from "../alerts/config";
import { notAllowed, notFound } from "../ledger/errors";
import { CASE_STATUSES, SUSPECT_OUTCOMES } from "../ledger";
import type { AlertTable, SuspectReportTable } from "../store";
import { casesOf, keepReason, reasonTexts } from "./cases";

/** The longest reason text the API keeps (the chain holds only its hash). */
const MAX_REASON = 4_000;

export const caseSchema = z.object({
  alertKey: z.string().meta({ description: "keccak256 of the alert's key: what an AlertTaking names" }),
  caseKey: z.string().meta({ description: "AlertCases.caseKeyOf(alertKey, the organization the alert concerns): what an AlertStatusChange names" }),
  ownerId: z.number().int().nullable(),
  status: z.enum(CASE_STATUSES.names),
  dueAt: z.number().int(),
  overdue: z.boolean(),
  escalatedAt: z.number().int().nullable().meta({ description: "when the alert engine escalated the overdue case" }),
  reasonHash: z.string().nullable(),
  reason: z.string().nullable().meta({ description: "the reason's text, where someone stored it under its hash" }),
  openedAt: z.number().int().nullable(),
  updatedAt: z.number().int().nullable(),
  closedAt: z.number().int().nullable(),
});

const historySchema = z.object({
  revision: z.number().int(),
  organizationId: z.number().int(),
  organizationName: z.string().nullable(),
  action: z.enum(["TAKEN", ...CASE_STATUSES.names]),
  previousOwnerId: z.number().int().nullable(),
  reasonHash: z.string().nullable(),
  reason: z.string().nullable(),
  at: z.number().int(),
});

const suspectReportSchema = z.object({
  id: z.string(),
  batchId: z.string(),
  batchNumber: z.string().nullable(),
  filedBy: z.number().int(),
  filedByName: z.string().nullable(),
  reasonHash: z.string(),
  reason: z.string().nullable(),
  packs: z.array(z.string()).meta({ description: "the reported packs' hashes; empty when the whole batch is reported" }),
  status: z.enum(["OPEN", "TERMINATED"]),
  outcome: z.enum(SUSPECT_OUTCOMES.names),
  terminatedBy: z.number().int().nullable(),
  terminationReasonHash: z.string().nullable(),
  terminationReason: z.string().nullable(),
  filedAt: z.number().int(),
  terminatedAt: z.number().int().nullable(),
});

/** Whether `caller` sees an alert: regulators all; others those about them or sent to them. */
async function maySeeAlert(services: ApiServices, caller: Caller, alert: AlertTable) {
  if (caller.role === "REGULATOR" || alert.organization_id === caller.organizationId) return true;
  const told = await services.store.db
    .selectFrom("notifications")
    .select("id")
    .where("alert_id", "=", alert.id)
    .where("organization_id", "=", caller.organizationId)
    .executeTakeFirst();
  return told !== undefined;
}

async function namesOf(services: ApiServices, ids: number[]) {
  if (ids.length === 0) return new Map<number, string>();
  const rows = await services.store.db
    .selectFrom("organizations")
    .select(["id", "name"])
    .where("id", "in", [...new Set(ids)])
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

async function suspectViews(services: ApiServices, rows: SuspectReportTable[]) {
  const { db } = services.store;
  const texts = await reasonTexts(
    db,
    rows.flatMap((r) => [r.reason_hash, r.termination_reason_hash]),
  );
  const names = await namesOf(
    services,
    rows.map((r) => r.filed_by),
  );
  const batchIds = [...new Set(rows.map((r) => r.batch_id))];
  const numbers = new Map(
    batchIds.length === 0
      ? []
      : (await db.selectFrom("batches").select(["id", "batch_number"]).where("id", "in", batchIds).execute()).map((b) => [b.id, b.batch_number]),
  );
  return rows.map((r) => ({
    id: r.id,
    batchId: r.batch_id,
    batchNumber: numbers.get(r.batch_id) ?? null,
    filedBy: r.filed_by,
    filedByName: names.get(r.filed_by) ?? null,
    reasonHash: r.reason_hash,
    reason: texts.get(r.reason_hash) ?? null,
    packs: JSON.parse(r.packs) as string[],
    status: r.status,
    outcome: r.outcome,
    terminatedBy: r.terminated_by,
    terminationReasonHash: r.termination_reason_hash,
    terminationReason: r.termination_reason_hash ? (texts.get(r.termination_reason_hash) ?? null) : null,
    filedAt: Number(r.filed_at),
    terminatedAt: r.terminated_at === null ? null : Number(r.terminated_at),
  }));
}

/** Suspect-product reports a caller may read: regulators all; others those on batches they may read. */
async function visibleReports(services: ApiServices, caller: Caller, rows: SuspectReportTable[]) {
  if (caller.role === "REGULATOR") return rows;
  const batches = new Map<string, boolean>();
  const visible: SuspectReportTable[] = [];
  for (const row of rows) {
    if (!batches.has(row.batch_id)) {
      const batch = await services.store.db
        .selectFrom("batches")
        .select(["id", "mah_id", "cmo_id"])
        .where("id", "=", row.batch_id)
        .executeTakeFirst();
      batches.set(row.batch_id, batch !== undefined && (await mayReadBatch(services, caller, batch)));
    }
    if (batches.get(row.batch_id) || row.filed_by === caller.organizationId) visible.push(row);
  }
  return visible;
}

/** Alert cases (owner, signed status, due date, history) and suspect-product reports; reasons' texts. */
export function supervisionRoutes(config: AlertConfig) {
  return [
    defineRoute({
      method: "get",
      path: "/v1/alerts/:alertId",
      summary: "One alert with its case: owner, signed status, due date, escalation and the signed history",
      tags: ["alerts"],
      access: "organization",
      params: z.object({ alertId: rowId }),
      response: z.object({ alert: z.record(z.string(), z.unknown()), case: caseSchema, history: z.array(historySchema) }),
      errors: { 403: "an alert neither about the caller nor sent to it", 404: "no such alert" },
      async handle({ params, caller, services }) {
        const { db } = services.store;
        const alert = await db.selectFrom("alerts").selectAll().where("id", "=", params.alertId).executeTakeFirst();
        if (!alert) throw notFound("NO_SUCH_ALERT", `no alert ${params.alertId}`);
        if (!(await maySeeAlert(services, caller!, alert))) throw notAllowed("NOT_YOUR_ALERT", `alert ${alert.id} is neither about nor sent to you`);
        const view = (await casesOf(db, [alert], config.caseDueSeconds, services.now())).get(Number(alert.id))!;
        const steps = await db.selectFrom("alert_case_history").selectAll().where("case_key", "=", view.caseKey).orderBy("revision").execute();
        const texts = await reasonTexts(
          db,
          steps.map((s) => s.reason_hash),
        );
        const names = await namesOf(
          services,
          steps.map((s) => s.organization_id),
        );
        return {
          alert: alertView(alert),
          case: view,
          history: steps.map((s) => ({
            revision: s.revision,
            organizationId: s.organization_id,
            organizationName: names.get(s.organization_id) ?? null,
            action: s.action,
            previousOwnerId: s.previous_owner_id,
            reasonHash: s.reason_hash,
            reason: s.reason_hash ? (texts.get(s.reason_hash) ?? null) : null,
            at: Number(s.at),
          })),
        };
      },
    }),
    defineRoute({
      method: "post",
      path: "/v1/reasons",
      summary: "Keeps a reason's text under its keccak-256 hash, the hash an attestation signs (case closures, reports)",
      tags: ["alerts"],
      access: "organization",
      body: z.object({ text: z.string().trim().min(1, { error: "a reason cannot be empty" }).max(MAX_REASON) }),
      response: z.object({ hash: z.string(), text: z.string() }),
      status: 201,
      async handle({ body, caller, services }) {
        return { hash: await keepReason(services.store.db, body.text, caller!.organizationId, services.now()), text: body.text };
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/suspect-reports",
      summary: "Suspect-product reports: regulators see all; others those on batches they may read or that they filed",
      tags: ["alerts"],
      access: "organization",
      query: z.object({ status: z.enum(["OPEN", "TERMINATED"]).optional(), batchId: bytes32.optional() }),
      response: z.object({ reports: z.array(suspectReportSchema) }),
      async handle({ query, caller, services }) {
        let select = services.store.db.selectFrom("suspect_reports").selectAll();
        if (query.status) select = select.where("status", "=", query.status);
        if (query.batchId) select = select.where("batch_id", "=", query.batchId);
        const rows = await select.orderBy("filed_at", "desc").orderBy("id").limit(500).execute();
        return { reports: await suspectViews(services, await visibleReports(services, caller!, rows)) };
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/suspect-reports/:reportId",
      summary: "One suspect-product report",
      tags: ["alerts"],
      access: "organization",
      params: z.object({ reportId: bytes32 }),
      response: suspectReportSchema,
      errors: { 403: "a report on a batch the caller may not read", 404: "no such report" },
      async handle({ params, caller, services }) {
        const row = await services.store.db.selectFrom("suspect_reports").selectAll().where("id", "=", params.reportId).executeTakeFirst();
        if (!row) throw notFound("NO_SUCH_SUSPECT_REPORT", `no suspect-product report ${params.reportId}`);
        if ((await visibleReports(services, caller!, [row])).length === 0)
          throw notAllowed("NOT_YOUR_BATCH", `organization ${caller!.organizationId} has no part in batch ${row.batch_id}`);
        return (await suspectViews(services, [row]))[0]!;
      },
    }),
  ];
}

/** The alerts of a list with their cases attached. */
export async function withCases(services: ApiServices, config: AlertConfig, rows: AlertTable[]) {
  const cases = await casesOf(services.store.db, rows, config.caseDueSeconds, services.now());
  return rows.map((row) => ({ ...alertView(row), case: cases.get(Number(row.id))! }));
}
