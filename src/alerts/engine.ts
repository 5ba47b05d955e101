import type { Kysely, Transaction } from "kysely";
import type { Logger } from "../log";
import type { AlertTable, Database, LedgerEventTable, Store } from "../store";
import { openOutbox } from "../notifications/outbox";
import type { Outbox } from "../notifications/outbox";
import { loadAudience } from "./audience";
import type { Audience } from "./audience";
import type { AlertConfig } from "./config";
import { evaluateDeadlines } from "./deadlines";
import type { Resolution } from "./deadlines";
import { evaluateEvent, loadChunkFacts } from "./events";
import { RULES } from "./rules";
import type { AlertDraft } from "./rules";
import { evaluateObservation } from "./scans";
import { overdueCases } from "../supervision/cases";
import { provinceOf } from "../ledger";
import { notifySubscribers } from "../epcis/subscriptions";
import { provinceRegulators, RATING_CHANGED, refreshRatings } from "../supervision/rating";
import type { RatingChange } from "../supervision/rating";

type Trx = Transaction<Database>;

/** What one pass of the engine did. */
export type EngineProgress = { events: number; observations: number; alerts: number; retracted: number; resolved: number };

export type AlertEngine = {
  /** Evaluates every ledger event and scan not evaluated yet (and rolls back what a reorg removed). */
  catchUp(): Promise<EngineProgress>;
  /** Evaluates the deadline rules at `now` (unix seconds; default the engine's clock). */
  evaluateDeadlines(now?: number): Promise<EngineProgress>;
  /** Runs both on their intervals until stop(). */
  start(): void;
  stop(): Promise<void>;
};

export type AlertEngineOptions = { store: Store; config: AlertConfig; log: Logger; now: () => number };

const EVENTS_CURSOR = "events";
const NO_LOG = 2_147_483_647;
const INDEXER_ACTIVE_MS = 1_000;
const MAX_REST_MS = 1_000;
const NOTIFIED = new Set(["verified", "bootstrap"]);
/** Verdicts of an attestation whose signature did not check out (undecodable logs carry none). */
const FAILED = new Set(["signature_mismatch", "unknown_key", "key_not_of_organization", "revoked_key"]);
/** Events every holder and addressee of stock in transit must hear of: recalls and holds. */
const HOLDER_EVENTS = new Set(["RecallStarted", "RecallAcknowledged", "RecallClosed", "BatchPlacedOnHold", "BatchHoldReleased"]);
const ORGANIZATION_EVENTS = new Set([
  "LicenceRecorded",
  "InspectionRecorded",
  "OrganizationOnboarded",
  "OrganizationSuspended",
  "OrganizationReinstated",
  "SigningKeyAdded",
  "SigningKeyRevoked",
]);

/** A second engine on the same database moved the cursor first: this pass's work is discarded, not doubled. */
class CursorMoved extends Error {}

/**
 * The alert engine: reads ledger events after the indexer committed them and authenticated scans, evaluates the
 * early-warning rules, and writes the alerts, the outbox's notifications and its own cursor in one transaction, so
 * a crash repeats a pass rather than losing or doubling one. The indexer is not touched: the engine follows the
 * store as the API does.
 */
export function createAlertEngine(options: AlertEngineOptions): AlertEngine {
  const { store, config, log, now } = options;
  const { db } = store;
  /** The next run of each periodic task. */
  const timers = new Map<string, NodeJS.Timeout>();
  let running: Promise<unknown> = Promise.resolve();
  let stopped = true;

  /** The indexer's checkpoint as last seen, and when it last moved (performance.now()). */
  let checkpoint: { block: number | undefined; movedAt: number } = { block: undefined, movedAt: -Infinity };

  /** Whether the indexer committed a range within the last second: a backfill is under way beside the engine. */
  async function indexerWriting() {
    const row = await db.selectFrom("sync_state").select("block_number").executeTakeFirst();
    if (row?.block_number !== checkpoint.block) checkpoint = { block: row?.block_number, movedAt: performance.now() };
    return performance.now() - checkpoint.movedAt < INDEXER_ACTIVE_MS;
  }

  /**
   * `paced`: while the indexer is writing, rest between chunks so that evaluating takes at most
   * config.maxBusyShare of the time (each rest at most a second, then look again); otherwise go at full speed.
   */
  async function catchUp(paced = false): Promise<EngineProgress> {
    const progress = emptyProgress();
    progress.retracted += await rollBackIfReorganized();
    for (;;) {
      const started = performance.now();
      const step = await evaluateEventChunk();
      add(progress, step);
      if (step.events < config.chunkSize || (paced && stopped)) break;
      if (paced && (await indexerWriting())) {
        await rest(Math.min(MAX_REST_MS, (performance.now() - started) * (1 / config.maxBusyShare - 1)));
      }
    }
    for (;;) {
      const step = await evaluateObservationChunk();
      add(progress, step);
      if (step.observations < config.chunkSize) break;
    }
    for (;;) {
      const step = await evaluateReadingChunk();
      add(progress, step);
      if (step.observations < config.chunkSize) break;
    }
    return progress;
  }

  async function readCursor(trx: Kysely<Database>) {
    const row = await trx.selectFrom("alert_cursors").select(["block_number", "log_index"]).where("name", "=", EVENTS_CURSOR).executeTakeFirst();
    return row ? { block: row.block_number, log: row.log_index } : { block: -1, log: -1 };
  }

  async function moveCursor(trx: Trx, from: { block: number; log: number }, to: { block: number; log: number }) {
    const at = now();
    if (from.block === -1 && from.log === -1) {
      const inserted = await trx
        .insertInto("alert_cursors")
        .values({ name: EVENTS_CURSOR, block_number: to.block, log_index: to.log, updated_at: at })
        .onConflict((c) => c.column("name").doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return;
    }
    const updated = await trx
      .updateTable("alert_cursors")
      .set({ block_number: to.block, log_index: to.log, updated_at: at })
      .where("name", "=", EVENTS_CURSOR)
      .where("block_number", "=", from.block)
      .where("log_index", "=", from.log)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) throw new CursorMoved();
  }

  async function evaluateEventChunk(): Promise<EngineProgress> {
    const progress = emptyProgress();
    try {
      await db.transaction().execute(async (trx) => {
        const cursor = await readCursor(trx);
        const events = await trx
          .selectFrom("ledger_events")
          .selectAll()
          .where((eb) =>
            eb.or([eb("block_number", ">", cursor.block), eb.and([eb("block_number", "=", cursor.block), eb("log_index", ">", cursor.log)])]),
          )
          .orderBy("block_number")
          .orderBy("log_index")
          .limit(config.chunkSize)
          .execute();
        // An event pending deferred verification is not judged yet: the engine waits for its verdict there.
        const pending = events.findIndex((e) => e.verification === "pending");
        if (pending !== -1) events.length = pending;
        if (events.length === 0) return;
        const at = now();
        const audience = await loadAudience(
          trx,
          events.flatMap((e) => (e.batch_id ? [e.batch_id] : [])),
          events.flatMap((e) => (e.agreement_id ? [e.agreement_id] : [])),
          // The inspected organization, whose partners' provinces hear of its inspection.
          events.flatMap((e) =>
            e.name === "InspectionRecorded" ? [Number((JSON.parse(e.payload) as { organizationId: number }).organizationId)] : [],
          ),
        );
        const outbox = await openOutbox(db, trx, at);
        const writer = await openAlertWriter(trx, outbox, audience, at);
        const judged = events
          .filter((e) => NOTIFIED.has(e.verification))
          .map((event) => ({ event, args: JSON.parse(event.payload) as Record<string, unknown> }));
        const facts = await loadChunkFacts(trx, judged);
        await writer.raise(events.filter((e) => FAILED.has(e.verification)).map(unverifiedAttestation));
        for (const { event, args } of judged) {
          notifyEvent(outbox, audience, event, args);
          await writer.raise(await evaluateEvent(trx, event, args, audience, facts, config));
        }
        await notifySubscribers(
          trx,
          outbox,
          judged.map(({ event }) => event),
          at,
        );
        progress.alerts = writer.raised;
        await outbox.flush();
        // The chunk's last block, by hash: enough to notice a reorg and to know what survived it.
        const last = events[events.length - 1]!;
        await trx
          .insertInto("alert_blocks")
          .values({ block_number: last.block_number, block_hash: last.block_hash })
          .onConflict((c) => c.column("block_number").doUpdateSet({ block_hash: last.block_hash }))
          .execute();
        await moveCursor(trx, cursor, { block: last.block_number, log: last.log_index });
        progress.events = events.length;
      });
    } catch (error) {
      if (!(error instanceof CursorMoved)) throw error;
      log.warn("another alert engine evaluated these events first; this pass was discarded");
    }
    return progress;
  }

  /**
   * A reorg deletes indexed events above the common ancestor. Alerts raised from events that are gone are retracted
   * (and their recipients told), and the cursor goes back to the last evaluated block still on the chain, so the
   * new branch's events are evaluated; events evaluated again raise nothing twice (alert keys and idempotency keys
   * name the block hash). Event notifications already sent stay sent: each names its block hash, and the new
   * branch's events come with new ones.
   */
  async function rollBackIfReorganized(): Promise<number> {
    const last = await db
      .selectFrom("alert_blocks")
      .select(["block_number", "block_hash"])
      .orderBy("block_number", "desc")
      .limit(1)
      .executeTakeFirst();
    if (!last) return 0;
    const indexed = await db.selectFrom("indexed_blocks").select("block_hash").where("block_number", "=", last.block_number).executeTakeFirst();
    if (indexed?.block_hash === last.block_hash) return 0;
    return db.transaction().execute(async (trx) => {
      const diverged = await trx
        .selectFrom("alert_blocks")
        .select("alert_blocks.block_number")
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom("indexed_blocks")
                .select("indexed_blocks.block_number")
                .whereRef("indexed_blocks.block_number", "=", "alert_blocks.block_number")
                .whereRef("indexed_blocks.block_hash", "=", "alert_blocks.block_hash"),
            ),
          ),
        )
        .orderBy("alert_blocks.block_number")
        .limit(1)
        .executeTakeFirstOrThrow();
      const from = diverged.block_number;
      const kept = await trx
        .selectFrom("alert_blocks")
        .select((eb) => eb.fn.max("block_number").as("n"))
        .where("block_number", "<", from)
        .executeTakeFirst();
      const survivor = kept?.n === null || kept?.n === undefined ? -1 : Number(kept.n);
      const at = now();
      const orphaned = await trx
        .selectFrom("alerts")
        .select("id")
        .where("source_block", ">", survivor)
        .where("status", "=", "open")
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom("ledger_events")
                .select("ledger_events.block_number")
                .whereRef("ledger_events.block_number", "=", "alerts.source_block")
                .whereRef("ledger_events.log_index", "=", "alerts.source_log")
                .whereRef("ledger_events.block_hash", "=", "alerts.source_block_hash"),
            ),
          ),
        )
        .execute();
      const outbox = await openOutbox(db, trx, at);
      await closeAlerts(
        trx,
        outbox,
        orphaned.map((a) => ({ id: a.id, reason: `its event was removed by a reorg after block ${survivor}` })),
        "retracted",
        at,
      );
      await outbox.flush();
      await trx.deleteFrom("alert_blocks").where("block_number", ">=", from).execute();
      const cursor = await readCursor(trx);
      await moveCursor(trx, cursor, { block: survivor, log: NO_LOG });
      log.warn({ fromBlock: from, retracted: orphaned.length }, "a reorg removed evaluated events; their alerts are retracted");
      return orphaned.length;
    });
  }

  /** Shipments' sensor readings (captured in EPCIS) against their products' storage ranges: the cold chain. */
  async function evaluateReadingChunk(): Promise<EngineProgress> {
    const progress = emptyProgress();
    await db.transaction().execute(async (trx) => {
      const readings = await trx
        .selectFrom("shipment_sensor_readings")
        .innerJoin("shipments", "shipments.id", "shipment_sensor_readings.shipment_id")
        .innerJoin("batches", "batches.id", "shipments.batch_id")
        .leftJoin("product_storage_ranges", "product_storage_ranges.product_id", "batches.product_id")
        .select([
          "shipment_sensor_readings.id",
          "shipment_sensor_readings.shipment_id",
          "shipment_sensor_readings.device_id",
          "shipment_sensor_readings.observed_at",
          "shipment_sensor_readings.millicelsius",
          "shipments.batch_id",
          "shipments.shipper_id",
          "shipments.recipient_id",
          "product_storage_ranges.min_millicelsius",
          "product_storage_ranges.max_millicelsius",
        ])
        .where("shipment_sensor_readings.evaluated", "=", 0)
        .orderBy("shipment_sensor_readings.observed_at")
        .orderBy("shipment_sensor_readings.id")
        .limit(config.chunkSize)
        .execute();
      if (readings.length === 0) return;
      const at = now();
      const outbox = await openOutbox(db, trx, at);
      const writer = await openAlertWriter(
        trx,
        outbox,
        await loadAudience(
          trx,
          readings.map((r) => r.batch_id),
        ),
        at,
      );
      for (const reading of readings) {
        const taken = await trx
          .updateTable("shipment_sensor_readings")
          .set({ evaluated: 1 })
          .where("id", "=", reading.id)
          .where("evaluated", "=", 0)
          .executeTakeFirst();
        if (Number(taken.numUpdatedRows) !== 1) continue;
        await writer.raise(coldChainExcursion(reading));
      }
      await outbox.flush();
      progress.observations = readings.length;
      progress.alerts = writer.raised;
    });
    return progress;
  }

  async function evaluateObservationChunk(): Promise<EngineProgress> {
    const progress = emptyProgress();
    await db.transaction().execute(async (trx) => {
      const scans = await trx
        .selectFrom("scan_observations")
        .selectAll()
        .where("evaluated", "=", 0)
        .orderBy("observed_at")
        .orderBy("id")
        .limit(config.chunkSize)
        .execute();
      if (scans.length === 0) return;
      const at = now();
      const audience = await loadAudience(
        trx,
        scans.flatMap((s) => (s.batch_id ? [s.batch_id] : [])),
      );
      const outbox = await openOutbox(db, trx, at);
      const writer = await openAlertWriter(trx, outbox, audience, at);
      for (const scan of scans) {
        // Marked first: a scan another engine took meanwhile updates nothing and is skipped.
        const taken = await trx
          .updateTable("scan_observations")
          .set({ evaluated: 1 })
          .where("id", "=", scan.id)
          .where("evaluated", "=", 0)
          .executeTakeFirst();
        if (Number(taken.numUpdatedRows) !== 1) continue;
        await writer.raise(await evaluateObservation(trx, scan, config));
      }
      await outbox.flush();
      progress.observations = scans.length;
      progress.alerts = writer.raised;
    });
    return progress;
  }

  async function deadlines(at = now()): Promise<EngineProgress> {
    const progress = emptyProgress();
    await db.transaction().execute(async (trx) => {
      const { drafts, resolved } = await evaluateDeadlines(trx, config, at);
      const overdue = await overdueCases(trx, config.caseDueSeconds, at);
      const audience = await loadAudience(trx, [
        ...drafts.flatMap((d) => (d.batchId ? [d.batchId] : [])),
        ...overdue.flatMap((o) => (o.alert.batch_id ? [o.alert.batch_id] : [])),
      ]);
      const outbox = await openOutbox(db, trx, at);
      const writer = await openAlertWriter(trx, outbox, audience, at);
      await writer.raise(drafts);
      await closeAlerts(trx, outbox, resolved, "resolved", at);
      await escalateCases(trx, outbox, audience, overdue, at);
      // Ratings weigh the alerts just raised and resolved: scored after them, in the same transaction.
      notifyRatingChanges(outbox, await refreshRatings(trx, config.rating, at), await provinceRegulators(trx), at);
      await outbox.flush();
      progress.alerts = writer.raised;
      progress.resolved = resolved.length;
    });
    return progress;
  }

  let wake: (() => void) | undefined;
  /** Waits `ms`, or less if the engine is stopped meanwhile. */
  function rest(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Runs `task` after whatever the engine is doing, so passes never overlap. */
  function serially<T>(task: () => Promise<T>): Promise<T> {
    const next = running.then(task);
    running = next.catch(() => undefined);
    return next;
  }

  function every(ms: number, task: () => Promise<unknown>, what: string) {
    const tick = () => {
      if (stopped) return;
      serially(task)
        .catch((error: unknown) => log.error({ err: error }, `alert engine: ${what} failed; retrying`))
        .finally(() => {
          if (!stopped) timers.set(what, setTimeout(tick, ms));
        });
    };
    tick();
  }

  return {
    catchUp: () => serially(() => catchUp()),
    evaluateDeadlines: (at?: number) => serially(() => deadlines(at)),
    start() {
      if (!stopped) return;
      stopped = false;
      every(config.pollMs, () => catchUp(true), "evaluating events");
      every(config.clockMs, () => deadlines(), "evaluating deadlines");
    },
    async stop() {
      stopped = true;
      wake?.();
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await running;
    },
  };
}

function emptyProgress(): EngineProgress {
  return { events: 0, observations: 0, alerts: 0, retracted: 0, resolved: 0 };
}

function add(total: EngineProgress, step: EngineProgress) {
  for (const key of Object.keys(total) as (keyof EngineProgress)[]) total[key] += step[key];
}

/** The organizations a ledger event concerns get it as `ledger.<EventName>`. */
function notifyEvent(outbox: Outbox, audience: Audience, event: LedgerEventTable, args: Record<string, unknown>) {
  const direct = new Set<number>();
  if (event.organization_id !== null) direct.add(event.organization_id);
  for (const field of ["shipperId", "recipientId", "mahId", "cmoId", "counterpartyId", "holderId", "dispenserId"]) {
    if (args[field] !== undefined) direct.add(Number(args[field]));
  }
  if (ORGANIZATION_EVENTS.has(event.name) && args.organizationId !== undefined) direct.add(Number(args.organizationId));
  // Outsourcing agreements concern both parties and, through them, their provinces' regulators.
  if (event.agreement_id) for (const id of audience.agreementParties(event.agreement_id)) direct.add(id);
  // A deviation opened on a market-released batch holds it: its holders hear of the deviation as of a placed hold.
  const holders = HOLDER_EVENTS.has(event.name) || args.placesOnHold === true;
  if (event.batch_id) for (const id of audience.ofBatch(event.batch_id, { holders })) direct.add(id);
  const recipients = audience.withRegulators(direct, event.batch_id, event.block_time);
  // An inspection recorded in one province reaches the partner provinces' regulators, who may recognise it
  // instead of inspecting again.
  if (event.name === "InspectionRecorded")
    for (const id of audience.partnerRegulators(Number(args.organizationId), event.block_time)) recipients.add(id);
  // The payload is the same for every recipient: built once; the event's arguments are joined in when it is sent.
  const payload = JSON.stringify({
    event: {
      name: event.name,
      blockNumber: event.block_number,
      logIndex: event.log_index,
      blockHash: event.block_hash,
      blockTime: event.block_time,
      txHash: event.tx_hash,
      batchId: event.batch_id,
      organizationId: event.organization_id,
      verification: event.verification,
    },
  });
  const kind = `ledger.${event.name}`;
  const about = { event: { block: event.block_number, log: event.log_index } };
  for (const organizationId of recipients) {
    outbox.add(organizationId, kind, `ledger:${event.block_hash}:${event.log_index}:${organizationId}`, payload, about);
  }
}

/** Tells the regulators of each organization's province that its rating changed, and how often to inspect it now. */
function notifyRatingChanges(outbox: Outbox, changes: RatingChange[], regulators: Map<number, number[]>, at: number) {
  for (const { rating, previous } of changes) {
    const payload = JSON.stringify({
      organizationId: rating.organizationId,
      name: rating.name,
      previous,
      rating: rating.level,
      score: rating.score,
      inspectionsPerYear: rating.inspectionsPerYear,
      contributions: rating.contributions,
    });
    for (const regulatorId of regulators.get(provinceOf(rating.region)) ?? []) {
      outbox.add(regulatorId, RATING_CHANGED, `rating:${rating.organizationId}:${at}:${regulatorId}`, payload);
    }
  }
}

/** An attestation whose signature failed verification, at once or behind the head: scans of its batch are withheld. */
function unverifiedAttestation(event: LedgerEventTable): AlertDraft {
  return {
    key: `attestation_unverified:${event.block_hash}:${event.log_index}`,
    rule: "attestation_unverified",
    organizationId: event.organization_id,
    batchId: event.batch_id,
    subject: event.tx_hash,
    message: `${event.name} at block ${event.block_number} (log ${event.log_index}) failed signature verification: ${event.verification}${event.problem ? ` (${event.problem})` : ""}`,
    details: { verification: event.verification, signer: event.signer, name: event.name },
    observedAt: event.block_time,
    source: { block: event.block_number, log: event.log_index, hash: event.block_hash },
  };
}

type AlertWriter = { raise(drafts: AlertDraft[]): Promise<void>; readonly raised: number };

/** Writes new alerts (a key already raised is skipped) and a notification to each organization concerned. */
async function openAlertWriter(trx: Trx, outbox: Outbox, audience: Audience, at: number): Promise<AlertWriter> {
  const last = await trx
    .selectFrom("alerts")
    .select((eb) => eb.fn.max("id").as("id"))
    .executeTakeFirst();
  let nextId = Number(last?.id ?? 0) + 1;
  let raised = 0;
  return {
    get raised() {
      return raised;
    },
    async raise(drafts) {
      if (drafts.length === 0) return;
      const keys = [...new Set(drafts.map((d) => d.key))];
      const existing = new Set((await trx.selectFrom("alerts").select("key").where("key", "in", keys).execute()).map((r) => r.key));
      for (const draft of drafts) {
        if (existing.has(draft.key)) continue;
        existing.add(draft.key);
        const row: AlertTable = {
          id: nextId++,
          key: draft.key,
          rule: draft.rule,
          severity: RULES[draft.rule],
          status: "open",
          organization_id: draft.organizationId,
          batch_id: draft.batchId,
          subject: draft.subject,
          message: draft.message,
          details: JSON.stringify(draft.details),
          source_block: draft.source?.block ?? null,
          source_log: draft.source?.log ?? null,
          source_block_hash: draft.source?.hash ?? null,
          observed_at: draft.observedAt,
          created_at: at,
          closed_at: null,
          closed_reason: null,
        };
        await trx.insertInto("alerts").values(row).execute();
        raised++;
        const direct = new Set<number>(draft.notify ?? []);
        if (draft.organizationId !== null) direct.add(draft.organizationId);
        if (draft.batchId) {
          const batch = audience.batch(draft.batchId);
          if (batch) direct.add(batch.mahId);
        }
        const payload = JSON.stringify({ alert: alertView(row) });
        for (const organizationId of audience.withRegulators(direct, draft.batchId)) {
          outbox.add(organizationId, `alert.${draft.rule}`, `alert:${row.id}:${organizationId}`, payload, { alertId: row.id });
        }
      }
    },
  };
}

/** Closes alerts as resolved or retracted and tells everyone who was told about them. */
async function closeAlerts(trx: Trx, outbox: Outbox, closing: Resolution[], status: "resolved" | "retracted", at: number) {
  for (const { id, reason } of closing) {
    await trx.updateTable("alerts").set({ status, closed_at: at, closed_reason: reason }).where("id", "=", id).execute();
    const alert = await trx.selectFrom("alerts").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    const told = await trx.selectFrom("notifications").select("organization_id").distinct().where("alert_id", "=", id).execute();
    const payload = JSON.stringify({ alert: alertView(alert) });
    for (const { organization_id } of told)
      outbox.add(organization_id, `alert.${status}`, `${status}:${id}:${organization_id}`, payload, { alertId: id });
  }
}

/**
 * Escalates open cases past their due date (ageing open items escalate): recorded once per alert, and told to the
 * case's owner, the organization it concerns and, through them and the batch, their provinces' regulators.
 */
async function escalateCases(trx: Trx, outbox: Outbox, audience: Audience, overdue: Awaited<ReturnType<typeof overdueCases>>, at: number) {
  for (const { alert, case: view } of overdue) {
    await trx.insertInto("alert_escalations").values({ alert_id: alert.id, due_at: view.dueAt, escalated_at: at }).execute();
    const direct = new Set<number>();
    if (alert.organization_id !== null) direct.add(alert.organization_id);
    if (view.ownerId !== null) direct.add(view.ownerId);
    const payload = JSON.stringify({ alert: alertView(alert), case: { ...view, escalatedAt: at } });
    for (const organizationId of audience.withRegulators(direct, alert.batch_id)) {
      outbox.add(organizationId, "alert.case_overdue", `case_overdue:${alert.id}:${organizationId}`, payload, { alertId: alert.id });
    }
  }
}

/** An alert as the API and notifications show it. */
export function alertView(row: AlertTable) {
  return {
    id: Number(row.id),
    rule: row.rule,
    severity: row.severity,
    status: row.status,
    organizationId: row.organization_id,
    batchId: row.batch_id,
    subject: row.subject,
    message: row.message,
    details: JSON.parse(row.details) as Record<string, unknown>,
    observedAt: Number(row.observed_at),
    createdAt: Number(row.created_at),
    closedAt: row.closed_at === null ? null : Number(row.closed_at),
    closedReason: row.closed_reason,
    source: row.source_block === null ? null : { blockNumber: Number(row.source_block), logIndex: row.source_log, blockHash: row.source_block_hash },
  };
}

type Reading = {
  shipment_id: string;
  device_id: string | null;
  observed_at: number;
  millicelsius: number;
  batch_id: string;
  shipper_id: number;
  recipient_id: number;
  min_millicelsius: number | null;
  max_millicelsius: number | null;
};

/** One alert per shipment whose product's storage range a reading broke, about the shipper that had it in transit. */
function coldChainExcursion(r: Reading): AlertDraft[] {
  if (r.min_millicelsius === null || r.max_millicelsius === null) return [];
  const [value, min, max] = [Number(r.millicelsius), Number(r.min_millicelsius), Number(r.max_millicelsius)];
  if (value >= min && value <= max) return [];
  const celsius = (m: number) => `${m / 1000} °C`;
  return [
    {
      key: `cold_chain_excursion:${r.shipment_id}`,
      rule: "cold_chain_excursion",
      organizationId: r.shipper_id,
      batchId: r.batch_id,
      subject: r.shipment_id,
      message: `shipment ${r.shipment_id} read ${celsius(value)} in transit, outside its product's storage range ${celsius(min)} to ${celsius(max)}`,
      details: {
        shipmentId: r.shipment_id,
        celsius: value / 1000,
        minCelsius: min / 1000,
        maxCelsius: max / 1000,
        deviceId: r.device_id,
        observedAt: Number(r.observed_at),
      },
      observedAt: Number(r.observed_at),
      notify: [r.recipient_id],
    },
  ];
}
