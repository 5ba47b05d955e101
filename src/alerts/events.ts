import type { Transaction } from "kysely";
import type { AgreementTable, Database, DeviationTable, LedgerEventTable } from "../store";
import type { Audience } from "./audience";
import type { AlertConfig } from "./config";
import type { AlertDraft } from "./rules";

type Trx = Transaction<Database>;
type Args = Record<string, unknown>;

const num = (args: Args, name: string) => Number(args[name]);

/**
 * What the rules of a chunk of events read from the store, loaded in a few queries for the whole chunk rather than
 * one per event: the agreements batches were recorded under, and the closed deviations of batches released.
 */
export type ChunkFacts = {
  agreements: Map<string, AgreementTable>;
  closedDeviations: Map<string, Pick<DeviationTable, "report_hash" | "kind" | "closed_at" | "closed_by">[]>;
};

function capaOf(trx: Trx, batchId: string, capaHash: string) {
  return trx
    .selectFrom("capas")
    .select(["owner_id", "report_hash"])
    .where("batch_id", "=", batchId)
    .where("capa_hash", "=", capaHash)
    .executeTakeFirst();
}

export async function loadChunkFacts(trx: Trx, events: { event: LedgerEventTable; args: Args }[]): Promise<ChunkFacts> {
  const agreementIds = [...new Set(events.filter((e) => e.event.name === "BatchRecorded").map((e) => String(e.args.agreementId)))];
  const released = [...new Set(events.filter((e) => e.event.name === "BatchMarketReleased" && e.event.batch_id).map((e) => e.event.batch_id!))];
  const facts: ChunkFacts = { agreements: new Map(), closedDeviations: new Map() };
  for (let i = 0; i < agreementIds.length; i += 500) {
    for (const a of await trx
      .selectFrom("agreements")
      .selectAll()
      .where("id", "in", agreementIds.slice(i, i + 500))
      .execute())
      facts.agreements.set(a.id, a);
  }
  for (let i = 0; i < released.length; i += 500) {
    const rows = await trx
      .selectFrom("deviations")
      .select(["batch_id", "report_hash", "kind", "closed_at", "closed_by"])
      .where("batch_id", "in", released.slice(i, i + 500))
      .where("closed_at", "is not", null)
      .execute();
    for (const { batch_id, ...deviation } of rows) facts.closedDeviations.set(batch_id, [...(facts.closedDeviations.get(batch_id) ?? []), deviation]);
  }
  return facts;
}

/** The key of the alert a rule raises from a ledger event: the same on every server that evaluates the event. */
export const eventAlertKey = (rule: string, blockHash: string, logIndex: number, suffix = "") =>
  `${rule}:${blockHash.toLowerCase()}:${logIndex}${suffix}`;

/** The rules a ledger event can trigger, judged by the event and the store as the engine reads it. */
export async function evaluateEvent(
  trx: Trx,
  event: LedgerEventTable,
  args: Args,
  audience: Audience,
  facts: ChunkFacts,
  config: AlertConfig,
): Promise<AlertDraft[]> {
  const rule = EVENT_RULES[event.name];
  if (!rule) return [];
  const source = { block: event.block_number, log: event.log_index, hash: event.block_hash };
  const keyOf = (name: string, suffix = "") => eventAlertKey(name, event.block_hash, event.log_index, suffix);
  const drafts = await rule({ trx, event, args, audience, facts, config, keyOf });
  return drafts.map((draft) => ({ ...draft, source }));
}

type RuleInput = {
  trx: Trx;
  event: LedgerEventTable;
  args: Args;
  audience: Audience;
  facts: ChunkFacts;
  config: AlertConfig;
  keyOf(rule: string, suffix?: string): string;
};

const EVENT_RULES: Record<string, (input: RuleInput) => Promise<AlertDraft[]>> = {
  async ShipmentReceived({ event, args, keyOf }) {
    const shipped = num(args, "shippedQuantity");
    const received = num(args, "receivedQuantity");
    if (shipped === received) return [];
    const shipper = num(args, "shipperId");
    const recipient = num(args, "recipientId");
    return [
      {
        key: keyOf("receipt_quantity_mismatch"),
        rule: "receipt_quantity_mismatch",
        organizationId: shipper,
        batchId: event.batch_id,
        subject: String(args.shipmentId),
        message: `organization ${recipient} received ${received} of the ${shipped} units organization ${shipper} shipped`,
        details: { shipmentId: args.shipmentId, shipperId: shipper, recipientId: recipient, shipped, received },
        observedAt: event.block_time,
        notify: [recipient],
      },
    ];
  },
  async CapaEffectivenessChecked({ trx, event, args, audience, keyOf }) {
    if (args.effective === true || !event.batch_id) return [];
    const batch = audience.batch(event.batch_id);
    const capa = await capaOf(trx, event.batch_id, String(args.capaHash));
    const owner = capa?.owner_id ?? batch?.cmoId ?? null;
    return [
      {
        key: keyOf("capa_ineffective"),
        rule: "capa_ineffective",
        organizationId: owner,
        batchId: event.batch_id,
        subject: String(args.capaHash),
        message: `the MAH found CAPA ${String(args.capaHash)} ineffective: the deviation needs a new CAPA`,
        details: {
          capaHash: args.capaHash,
          reportHash: capa?.report_hash ?? null,
          ownerId: owner,
          checkHash: args.checkHash,
          checkedBy: num(args, "mahId"),
        },
        observedAt: event.block_time,
        notify: batch ? [batch.mahId, batch.cmoId] : [],
      },
    ];
  },
  async BatchShipped({ event, args, audience, config, keyOf }) {
    const batch = event.batch_id ? audience.batch(event.batch_id) : undefined;
    if (!batch) return [];
    const remaining = batch.expiresAt - event.block_time;
    if (remaining >= config.nearExpirySeconds) return [];
    const shipper = num(args, "shipperId");
    return [
      {
        key: keyOf("shipped_near_expiry"),
        rule: "shipped_near_expiry",
        organizationId: shipper,
        batchId: event.batch_id,
        subject: String(args.shipmentId),
        message: `batch shipped ${Math.max(0, Math.floor(remaining / 86_400))} days before it expires`,
        details: { shipmentId: args.shipmentId, expiresAt: batch.expiresAt, shippedAt: event.block_time, remainingSeconds: remaining },
        observedAt: event.block_time,
        notify: [num(args, "recipientId")],
      },
    ];
  },
  async BatchMarketReleased({ event, audience, facts, config, keyOf }) {
    const batchId = event.batch_id!;
    const since = event.block_time - config.lateDeviationClosureSeconds;
    const late = (facts.closedDeviations.get(batchId) ?? []).filter((d) => d.closed_at! >= since && d.closed_at! <= event.block_time);
    if (late.length === 0) return [];
    const batch = audience.batch(batchId);
    return [
      {
        key: keyOf("deviation_closed_before_release"),
        rule: "deviation_closed_before_release",
        organizationId: batch?.mahId ?? event.organization_id,
        batchId,
        subject: null,
        message: `${late.length} deviation(s) closed within ${Math.round(config.lateDeviationClosureSeconds / 3600)} hours before market release`,
        details: {
          releasedAt: event.block_time,
          deviations: late.map((d) => ({ reportHash: d.report_hash, kind: d.kind, closedAt: d.closed_at, closedBy: d.closed_by })),
        },
        observedAt: event.block_time,
        notify: batch ? [batch.cmoId] : [],
      },
    ];
  },
  async RecallAcknowledged({ event, args, keyOf }) {
    const missing = num(args, "missingQuantity");
    if (missing === 0) return [];
    const holder = num(args, "holderId");
    const [quarantined, dispensed, destroyed] = [num(args, "quarantinedQuantity"), num(args, "dispensedQuantity"), num(args, "destroyedQuantity")];
    const held = quarantined + dispensed + destroyed + missing;
    return [
      {
        key: keyOf("recall_acknowledgement_shortfall"),
        rule: "recall_acknowledgement_shortfall",
        organizationId: holder,
        batchId: event.batch_id,
        subject: null,
        message: `organization ${holder} cannot find ${missing} of the ${held} units of the recalled batch it held (${quarantined} quarantined, ${dispensed} already dispensed, ${destroyed} destroyed)`,
        details: { holderId: holder, held, quarantined, dispensed, destroyed, missing },
        observedAt: event.block_time,
      },
    ];
  },
  BatchPlacedOnHold: async (input) => [batchOnHold(input, `placed by organization ${num(input.args, "organizationId")}`)],
  async DeviationOpened(input) {
    const held =
      input.args.placesOnHold === true
        ? [batchOnHold(input, `placed by the deviation report ${String(input.args.reportHash)} opened on the market-released batch`)]
        : [];
    return [...held, ...(await recurringDeviations(input))];
  },
  async BatchRecorded({ event, args, facts, keyOf }) {
    const agreementId = String(args.agreementId);
    const agreement = facts.agreements.get(agreementId);
    const t = event.block_time;
    const reason = !agreement
      ? "is unknown"
      : agreement.revoked_at !== null && agreement.revoked_at <= t
        ? "was revoked"
        : agreement.valid_until < t || agreement.valid_from > t
          ? "was not in force"
          : undefined;
    if (!reason) return [];
    const cmoId = num(args, "cmoId");
    return [
      {
        key: keyOf("agreement_not_in_force"),
        rule: "agreement_not_in_force",
        organizationId: cmoId,
        batchId: event.batch_id,
        subject: agreementId,
        message: `batch recorded under agreement ${agreementId}, which ${reason}`,
        details: { agreementId, recordedAt: t, validUntil: agreement?.valid_until ?? null, revokedAt: agreement?.revoked_at ?? null },
        observedAt: t,
      },
    ];
  },
  async AgreementRevoked({ trx, event, args, keyOf }) {
    const agreementId = String(args.agreementId);
    const pending = await trx
      .selectFrom("batches")
      .select(["id", "cmo_id", "state"])
      .where("agreement_id", "=", agreementId)
      .where("state", "!=", "MARKET_RELEASED")
      .execute();
    return pending.map((batch) => ({
      key: keyOf("agreement_not_in_force", `:${batch.id}`),
      rule: "agreement_not_in_force" as const,
      organizationId: batch.cmo_id,
      batchId: batch.id,
      subject: agreementId,
      message: `agreement ${agreementId} was revoked while batch ${batch.id} awaits market release (state ${batch.state})`,
      details: { agreementId, revokedAt: event.block_time, state: batch.state },
      observedAt: event.block_time,
    }));
  },
};

/**
 * A batch held short of a recall: every holder and addressee of stock in transit must stop selling, dispensing and
 * shipping it, and the regulators of every province it reached must know. About no single organization: a hold is
 * a quality decision, not a fault of whoever placed it. Resolved when the MAH releases the hold or a recall ends it.
 */
function batchOnHold({ event, args, audience, keyOf }: RuleInput, how: string): AlertDraft {
  const batchId = event.batch_id!;
  return {
    key: keyOf("batch_on_hold"),
    rule: "batch_on_hold",
    organizationId: null,
    batchId,
    subject: null,
    message: `batch ${batchId} is on hold (${how}): do not sell, dispense or ship it until its MAH decides`,
    details: { placedBy: num(args, "organizationId"), reasonHash: args.reasonHash ?? args.reportHash, heldAt: event.block_time },
    observedAt: event.block_time,
    notify: [...audience.ofBatch(batchId, { holders: true })],
  };
}

/** Recurring deviations at one CMO across its clients. */
async function recurringDeviations({ trx, event, audience, config, keyOf }: RuleInput): Promise<AlertDraft[]> {
  const batch = event.batch_id ? audience.batch(event.batch_id) : undefined;
  if (!batch) return [];
  const { count, clients, windowSeconds } = config.recurringDeviations;
  const since = event.block_time - windowSeconds;
  const recent = await trx
    .selectFrom("deviations")
    .innerJoin("batches", "batches.id", "deviations.batch_id")
    .select(["deviations.batch_id", "batches.mah_id"])
    .where("batches.cmo_id", "=", batch.cmoId)
    .where("deviations.opened_at", ">=", since)
    .where("deviations.opened_at", "<=", event.block_time)
    .execute();
  const mahs = new Set(recent.map((r) => r.mah_id));
  if (recent.length < count || mahs.size < clients) return [];
  // One warning per window: the CMO's rating already counts it, more would only repeat it.
  const raised = await trx
    .selectFrom("alerts")
    .select("id")
    .where("rule", "=", "cmo_recurring_deviations")
    .where("organization_id", "=", batch.cmoId)
    .where("status", "!=", "retracted")
    .where("observed_at", ">=", since)
    .executeTakeFirst();
  if (raised) return [];
  return [
    {
      key: keyOf("cmo_recurring_deviations"),
      rule: "cmo_recurring_deviations",
      organizationId: batch.cmoId,
      batchId: event.batch_id,
      subject: null,
      message: `CMO ${batch.cmoId} opened ${recent.length} deviations for ${mahs.size} clients within ${Math.round(windowSeconds / 86_400)} days`,
      details: { deviations: recent.length, clients: [...mahs].sort((a, b) => a - b), since },
      observedAt: event.block_time,
      notify: [...mahs],
    },
  ];
}
