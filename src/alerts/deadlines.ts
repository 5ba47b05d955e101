import { deadlinesOf, previousQuarter, quarterAt, quarterLabel, reviewQuarter } from "../ledger";
import type { ReviewQuarter } from "../ledger";
import type { Transaction } from "kysely";
import type { Database } from "../store";
import type { AlertConfig } from "./config";
import type { AlertDraft, Rule } from "./rules";

type Trx = Transaction<Database>;

/** Alerts whose condition no longer holds, to close as resolved. */
export type Resolution = { id: number; reason: string };

/** Deadline rules at `now`: what is overdue, and which overdue alerts are settled since. */
export async function evaluateDeadlines(trx: Trx, config: AlertConfig, now: number): Promise<{ drafts: AlertDraft[]; resolved: Resolution[] }> {
  const drafts = [
    ...(await overdueShipments(trx, config, now)),
    ...(await overdueAcknowledgements(trx, config, now)),
    ...(await overdueProgressReports(trx, config, now)),
    ...(await expiredAgreements(trx, now)),
    ...(await overdueCapas(trx, now)),
    ...(await overdueQualityReviews(trx, config, now)),
    ...(await overdueNoticeAcknowledgements(trx, now)),
    ...(await unreportedProductionStops(trx, config, now)),
  ];
  return { drafts, resolved: await settled(trx) };
}

async function overdueShipments(trx: Trx, config: AlertConfig, now: number): Promise<AlertDraft[]> {
  const late = await trx
    .selectFrom("shipments")
    .select(["id", "batch_id", "shipper_id", "recipient_id", "quantity", "shipped_at"])
    .where("status", "=", "IN_TRANSIT")
    .where("shipped_at", "<=", now - config.shipmentReceiptSeconds)
    .execute();
  return late.map((s) => ({
    key: `shipment_overdue:${s.id}`,
    rule: "shipment_overdue",
    organizationId: s.recipient_id,
    batchId: s.batch_id,
    subject: s.id,
    message: `shipment of ${s.quantity} units from organization ${s.shipper_id} not received ${Math.floor((now - s.shipped_at) / 86_400)} days after it shipped`,
    details: {
      shipmentId: s.id,
      shipperId: s.shipper_id,
      recipientId: s.recipient_id,
      shippedAt: s.shipped_at,
      dueAt: s.shipped_at + config.shipmentReceiptSeconds,
    },
    observedAt: s.shipped_at + config.shipmentReceiptSeconds,
    notify: [s.shipper_id],
  }));
}

async function overdueAcknowledgements(trx: Trx, config: AlertConfig, now: number): Promise<AlertDraft[]> {
  const owing = await trx
    .selectFrom("recalls")
    .innerJoin("holdings", "holdings.batch_id", "recalls.batch_id")
    .select(["recalls.batch_id", "recalls.level", "recalls.started_at", "holdings.organization_id", "holdings.quantity"])
    .where("recalls.status", "=", "OPEN")
    .where("holdings.quantity", ">", 0)
    .where("holdings.recall_acknowledged", "=", 0)
    .execute();
  return owing.flatMap((h) => {
    const deadline = deadlinesOf(config.recallDeadlines, h.level);
    if (!deadline || h.started_at + deadline.acknowledge > now) return [];
    const draft: AlertDraft = {
      key: `recall_acknowledgement_overdue:${h.batch_id}:${h.organization_id}:${h.started_at}`,
      rule: "recall_acknowledgement_overdue",
      organizationId: h.organization_id,
      batchId: h.batch_id,
      subject: null,
      message: `organization ${h.organization_id} holds ${h.quantity} units of a level ${h.level} recalled batch and has not acknowledged the recall`,
      details: { level: h.level, startedAt: h.started_at, dueAt: h.started_at + deadline.acknowledge, quantity: h.quantity },
      observedAt: h.started_at + deadline.acknowledge,
    };
    return [draft];
  });
}

async function overdueProgressReports(trx: Trx, config: AlertConfig, now: number): Promise<AlertDraft[]> {
  const open = await trx
    .selectFrom("recalls")
    .innerJoin("batches", "batches.id", "recalls.batch_id")
    .select((eb) => [
      "recalls.batch_id",
      "recalls.level",
      "recalls.started_at",
      "batches.mah_id",
      eb
        .selectFrom("recall_progress_reports")
        .select((r) => r.fn.max("reported_at").as("at"))
        .whereRef("recall_progress_reports.batch_id", "=", "recalls.batch_id")
        .whereRef("recall_progress_reports.reported_at", ">=", "recalls.started_at")
        .as("last_report"),
    ])
    .where("recalls.status", "=", "OPEN")
    .execute();
  return open.flatMap((r) => {
    const deadline = deadlinesOf(config.recallDeadlines, r.level);
    if (!deadline) return [];
    const dueAt = Number(r.last_report ?? r.started_at) + deadline.progressReport;
    if (dueAt > now) return [];
    const draft: AlertDraft = {
      key: `recall_progress_report_overdue:${r.batch_id}:${dueAt}`,
      rule: "recall_progress_report_overdue",
      organizationId: r.mah_id,
      batchId: r.batch_id,
      subject: null,
      message: `the level ${r.level} recall's progress report was due ${Math.floor((now - dueAt) / 3600)} hours ago`,
      details: { level: r.level, startedAt: r.started_at, lastReportAt: r.last_report ?? null, dueAt },
      observedAt: dueAt,
    };
    return [draft];
  });
}

/** Batches still awaiting market release under an agreement whose term ended (revocations are judged as they happen). */
async function expiredAgreements(trx: Trx, now: number): Promise<AlertDraft[]> {
  const stranded = await trx
    .selectFrom("batches")
    .innerJoin("agreements", "agreements.id", "batches.agreement_id")
    .select(["batches.id", "batches.cmo_id", "batches.state", "agreements.id as agreement_id", "agreements.valid_until"])
    .where("agreements.valid_until", "<=", now)
    .where("batches.state", "!=", "MARKET_RELEASED")
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom("alerts")
            .select("alerts.id")
            .where("alerts.rule", "=", "agreement_not_in_force")
            .where("alerts.status", "!=", "retracted")
            .whereRef("alerts.batch_id", "=", "batches.id"),
        ),
      ),
    )
    .execute();
  return stranded.map((b) => ({
    key: `agreement_not_in_force:${b.id}:${b.valid_until}`,
    rule: "agreement_not_in_force",
    organizationId: b.cmo_id,
    batchId: b.id,
    subject: b.agreement_id,
    message: `agreement ${b.agreement_id} expired while batch ${b.id} awaits market release (state ${b.state})`,
    details: { agreementId: b.agreement_id, validUntil: b.valid_until, state: b.state },
    observedAt: b.valid_until,
  }));
}

/** CAPA past their due date without an effectiveness check: about the owner, told to the batch's MAH and CMO. */
async function overdueCapas(trx: Trx, now: number): Promise<AlertDraft[]> {
  const late = await trx
    .selectFrom("capas")
    .innerJoin("batches", "batches.id", "capas.batch_id")
    .select(["capas.batch_id", "capas.capa_hash", "capas.report_hash", "capas.owner_id", "capas.due_at", "batches.mah_id", "batches.cmo_id"])
    .where("capas.status", "=", "OPEN")
    .where("capas.due_at", "<=", now)
    .execute();
  return late.map((c) => ({
    key: `capa_overdue:${c.batch_id}:${c.capa_hash}`,
    rule: "capa_overdue",
    organizationId: c.owner_id,
    batchId: c.batch_id,
    subject: c.capa_hash,
    message: `CAPA ${c.capa_hash} owned by organization ${c.owner_id} was due ${Math.floor((now - c.due_at) / 86_400)} days ago and has no effectiveness check`,
    details: { capaHash: c.capa_hash, reportHash: c.report_hash, ownerId: c.owner_id, dueAt: c.due_at },
    observedAt: c.due_at,
    notify: [c.mah_id, c.cmo_id],
  }));
}

/** How many past quarters the quality-review rule looks back over: two years of reviews. */
const REVIEW_LOOKBACK_QUARTERS = 8;

/**
 * Quarters a product's MAH owes a quality review for and has not filed one, once the quarter's due time has passed.
 * The duty runs from the product's registration, or from the first quarter the MAH reviewed if that is earlier (a
 * product on the market before the ledger knew it).
 */
async function overdueQualityReviews(trx: Trx, config: AlertConfig, now: number): Promise<AlertDraft[]> {
  const products = await trx.selectFrom("products").select(["id", "name", "mah_id", "registered_at"]).execute();
  if (products.length === 0) return [];
  const reviews = await trx.selectFrom("quality_reviews").select(["product_id", "year", "quarter"]).execute();
  const filed = new Map<string, Set<string>>();
  const firstReviewed = new Map<string, number>();
  for (const r of reviews) {
    const quarter = reviewQuarter(r.year, r.quarter);
    (filed.get(r.product_id) ?? filed.set(r.product_id, new Set()).get(r.product_id)!).add(quarterLabel(quarter));
    firstReviewed.set(r.product_id, Math.min(firstReviewed.get(r.product_id) ?? Infinity, quarter.startsAt));
  }
  const owed: ReviewQuarter[] = [];
  for (let q = previousQuarter(quarterAt(now)), i = 0; i < REVIEW_LOOKBACK_QUARTERS; q = previousQuarter(q), i++) owed.push(q);
  return products.flatMap((p) => {
    const dutyFrom = Math.min(p.registered_at, firstReviewed.get(p.id) ?? Infinity);
    return owed
      .filter((q) => q.endsAt > dutyFrom && q.endsAt + config.qualityReviewDueSeconds <= now && !filed.get(p.id)?.has(quarterLabel(q)))
      .map((q) => ({
        key: `quality_review_overdue:${p.id}:${q.year}:${q.quarter}`,
        rule: "quality_review_overdue" as const,
        organizationId: p.mah_id,
        batchId: null,
        subject: p.id,
        message: `the ${quarterLabel(q)} quality review of ${p.name} (with its risk assessment) was due ${Math.floor((now - q.endsAt - config.qualityReviewDueSeconds) / 86_400)} days ago`,
        details: { productId: p.id, year: q.year, quarter: q.quarter, dueAt: q.endsAt + config.qualityReviewDueSeconds },
        observedAt: q.endsAt + config.qualityReviewDueSeconds,
      }));
  });
}

/** Notices between a quality agreement's parties whose acknowledgement is past the agreed response time. */
async function overdueNoticeAcknowledgements(trx: Trx, now: number): Promise<AlertDraft[]> {
  const late = await trx
    .selectFrom("quality_notices")
    .select(["id", "agreement_id", "sender_id", "recipient_id", "kind", "sent_at", "due_at"])
    .where("acknowledged_at", "is", null)
    .where("due_at", "<=", now)
    .execute();
  return late.map((n) => ({
    key: `notice_acknowledgement_overdue:${n.id}`,
    rule: "notice_acknowledgement_overdue" as const,
    organizationId: n.recipient_id,
    batchId: null,
    subject: n.id,
    message: `organization ${n.recipient_id} has not acknowledged the ${n.kind.toLowerCase().replaceAll("_", " ")} notice of organization ${n.sender_id} under quality agreement ${n.agreement_id}, due ${Math.floor((now - n.due_at) / 3600)} hours ago`,
    details: { noticeId: n.id, agreementId: n.agreement_id, senderId: n.sender_id, kind: n.kind, sentAt: n.sent_at, dueAt: n.due_at },
    observedAt: n.due_at,
    notify: [n.sender_id],
  }));
}

/**
 * Shortage-listed products whose production is planned to stop (their last quality agreement with a CMO ends: it
 * expires or was revoked) within `stopProductionReportLeadSeconds`, or has stopped, with no stop-production report
 * from the MAH since the listing. The report is due before the stop (the contract refuses a late one).
 */
async function unreportedProductionStops(trx: Trx, config: AlertConfig, now: number): Promise<AlertDraft[]> {
  const listed = await trx
    .selectFrom("shortage_listings")
    .innerJoin("products", "products.id", "shortage_listings.product_id")
    .select(["products.id", "products.name", "products.mah_id", "shortage_listings.changed_at"])
    .where("shortage_listings.listed", "=", 1)
    .execute();
  const drafts: AlertDraft[] = [];
  for (const product of listed) {
    const plannedStop = await plannedStopOf(trx, product);
    if (plannedStop === null || plannedStop - config.stopProductionReportLeadSeconds > now) continue;
    const report = await trx
      .selectFrom("stop_production_reports")
      .select("stop_at")
      .where("product_id", "=", product.id)
      .where("reported_at", ">=", product.changed_at)
      .executeTakeFirst();
    if (report) continue;
    drafts.push({
      key: `stop_production_unreported:${product.id}:${plannedStop}`,
      rule: "stop_production_unreported",
      organizationId: product.mah_id,
      batchId: null,
      subject: product.id,
      message: `${product.name} is shortage-listed and its production stops at ${plannedStop} (its last quality agreement ends) with no stop-production report from its MAH`,
      details: { productId: product.id, plannedStopAt: plannedStop },
      observedAt: Math.min(now, plannedStop - config.stopProductionReportLeadSeconds),
    });
  }
  return drafts;
}

/** When the last quality agreement covering the product (by id, or all of its MAH's products) ends; null if none. */
async function plannedStopOf(trx: Trx, product: { id: string; mah_id: number }): Promise<number | null> {
  const agreements = await trx
    .selectFrom("agreements")
    .select(["valid_until", "revoked_at"])
    .where("kind", "=", "QUALITY")
    .where("mah_id", "=", product.mah_id)
    .where("product_id", "in", [product.id, `0x${"0".repeat(64)}`])
    .execute();
  if (agreements.length === 0) return null;
  return Math.max(...agreements.map((a) => a.revoked_at ?? a.valid_until));
}

const SETTLED: Partial<Record<Rule, string>> = {
  capa_overdue: "the CAPA's effectiveness was checked",
  notice_acknowledgement_overdue: "the addressee acknowledged the notice",
  quality_review_overdue: "the MAH filed the quarter's quality review",
  stop_production_unreported: "the MAH filed the stop-production report, or the product left the shortage list",
  shipment_overdue: "the shipment was received",
  recall_acknowledgement_overdue: "the holder acknowledged the recall or the recall closed",
  recall_progress_report_overdue: "a progress report arrived or the recall closed",
  batch_on_hold: "the MAH released the hold or the batch was recalled",
};

/** Open deadline alerts whose subject has since been dealt with. */
async function settled(trx: Trx): Promise<Resolution[]> {
  const open = await trx
    .selectFrom("alerts")
    .select(["id", "key", "rule", "batch_id", "subject", "organization_id", "observed_at"])
    .where("status", "=", "open")
    .where("rule", "in", Object.keys(SETTLED))
    .execute();
  const resolved: Resolution[] = [];
  for (const alert of open) {
    if (await isSettled(trx, alert)) resolved.push({ id: alert.id, reason: SETTLED[alert.rule as Rule]! });
  }
  return resolved;
}

async function isSettled(
  trx: Trx,
  alert: { key: string; rule: string; batch_id: string | null; subject: string | null; organization_id: number | null; observed_at: number },
) {
  if (alert.rule === "notice_acknowledgement_overdue") {
    const sent = await trx.selectFrom("quality_notices").select("acknowledged_at").where("id", "=", alert.subject!).executeTakeFirst();
    return sent?.acknowledged_at != null;
  }
  if (alert.rule === "quality_review_overdue") {
    const [, productId, year, quarter] = alert.key.split(":");
    const review = await trx
      .selectFrom("quality_reviews")
      .select("filed_at")
      .where("product_id", "=", productId!)
      .where("year", "=", Number(year))
      .where("quarter", "=", Number(quarter))
      .executeTakeFirst();
    return review !== undefined;
  }
  if (alert.rule === "stop_production_unreported") {
    const listing = await trx
      .selectFrom("shortage_listings")
      .select(["listed", "changed_at"])
      .where("product_id", "=", alert.subject!)
      .executeTakeFirst();
    if (listing?.listed !== 1) return true;
    const report = await trx
      .selectFrom("stop_production_reports")
      .select("stop_at")
      .where("product_id", "=", alert.subject!)
      .where("reported_at", ">=", listing.changed_at)
      .executeTakeFirst();
    return report !== undefined;
  }
  if (alert.rule === "shipment_overdue") {
    const shipment = await trx.selectFrom("shipments").select("status").where("id", "=", alert.subject!).executeTakeFirst();
    return shipment?.status !== "IN_TRANSIT";
  }
  if (alert.rule === "capa_overdue") {
    const capa = await trx
      .selectFrom("capas")
      .select("status")
      .where("batch_id", "=", alert.batch_id!)
      .where("capa_hash", "=", alert.subject!)
      .executeTakeFirst();
    return capa?.status !== "OPEN";
  }
  if (alert.rule === "batch_on_hold") {
    const hold = await trx.selectFrom("batch_holds").select(["status", "placed_at"]).where("batch_id", "=", alert.batch_id!).executeTakeFirst();
    return hold?.status !== "ON_HOLD" || hold.placed_at > alert.observed_at;
  }
  const recall = await trx.selectFrom("recalls").select(["status", "started_at"]).where("batch_id", "=", alert.batch_id!).executeTakeFirst();
  if (recall?.status !== "OPEN") return true;
  if (alert.rule === "recall_acknowledgement_overdue") {
    const holding = await trx
      .selectFrom("holdings")
      .select(["quantity", "recall_acknowledged"])
      .where("batch_id", "=", alert.batch_id!)
      .where("organization_id", "=", alert.organization_id!)
      .executeTakeFirst();
    return !holding || holding.quantity === 0 || holding.recall_acknowledged === 1;
  }
  const report = await trx
    .selectFrom("recall_progress_reports")
    .select("id")
    .where("batch_id", "=", alert.batch_id!)
    .where("reported_at", ">=", alert.observed_at)
    .executeTakeFirst();
  return report !== undefined;
}
