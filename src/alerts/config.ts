import { DEFAULT_RECALL_DEADLINES, STARTED_RECALL_LEVELS } from "../ledger";
import type { AlertSeverity, RecallDeadlines } from "../ledger";
import { DEFAULT_RATING_CONFIG, ratingConfig } from "../supervision/rating";
import type { RatingConfig } from "../supervision/rating";

const HOUR = 3_600;
const DAY = 24 * HOUR;

/** How grave an alert is: it weighs on its organization's risk rating. */
export type Severity = AlertSeverity;

/**
 * Thresholds of the early-warning rules. Every field has a default (DEFAULT_ALERT_CONFIG); a deployment overrides
 * the ones it wants with `alertConfig({...})`, which refuses nonsense by naming the setting.
 */
export type AlertConfig = {
  /** A shipment still in transit this long after it shipped is overdue (default 7 days). */
  shipmentReceiptSeconds: number;
  /** Recall deadlines by level: acknowledgement by each holder, and the interval of progress reports. */
  recallDeadlines: RecallDeadlines;
  /** A batch shipped with less than this left before expiry is flagged (default 90 days). */
  nearExpirySeconds: number;
  /** Deviations closed less than this before market release are flagged (default 48 hours). */
  lateDeviationClosureSeconds: number;
  /** A CMO with at least `count` deviations across at least `clients` MAHs within `windowSeconds` is flagged. */
  recurringDeviations: { count: number; clients: number; windowSeconds: number };
  /** A product's quarterly quality review is overdue this long after its quarter ends (default 30 days). */
  qualityReviewDueSeconds: number;
  /** How long before a shortage-listed product's planned stop its MAH's stop-production report is expected (default 180 days). */
  stopProductionReportLeadSeconds: number;
  /** At least `count` unknown serials under one registered product from one organization within `windowSeconds`. */
  unknownSerials: { count: number; windowSeconds: number };
  /** Risk rating: how inspections, sampling, licences, alerts, recalls and products weigh (src/supervision/rating.ts). */
  rating: RatingConfig;
  /**
   * How long an alert's case may stay open, by the alert's severity, from when its condition arose: past it the engine
   * escalates the case and tells its owner, the organization and its regulators (defaults 3, 14 and 30 days).
   */
  caseDueSeconds: Record<Severity, number>;
  /** Ledger events (and scans) evaluated per transaction. */
  chunkSize: number;
  /**
   * While the indexer is writing (a backfill beside the engine, in the same process and database), the engine
   * spends at most this share of the time evaluating its backlog and rests the remainder, so the backfill keeps
   * most of the machine; once the indexer is idle the engine catches up at full speed. At the chain's head a pass
   * takes milliseconds and the share never binds.
   */
  maxBusyShare: number;
  /** How often the engine looks for new events, and how often it evaluates deadlines (milliseconds). */
  pollMs: number;
  clockMs: number;
};

/** The defaults, documented in the README's early-warning section. */
export const DEFAULT_ALERT_CONFIG: AlertConfig = {
  shipmentReceiptSeconds: 7 * DAY,
  recallDeadlines: DEFAULT_RECALL_DEADLINES,
  nearExpirySeconds: 90 * DAY,
  lateDeviationClosureSeconds: 48 * HOUR,
  recurringDeviations: { count: 3, clients: 2, windowSeconds: 180 * DAY },
  unknownSerials: { count: 3, windowSeconds: 1 * DAY },
  qualityReviewDueSeconds: 30 * DAY,
  stopProductionReportLeadSeconds: 180 * DAY,
  rating: DEFAULT_RATING_CONFIG,
  caseDueSeconds: { high: 3 * DAY, medium: 14 * DAY, low: 30 * DAY },
  chunkSize: 1_000,
  maxBusyShare: 0.1,
  pollMs: 500,
  clockMs: 60_000,
};

/** The defaults with `overrides` applied; a non-positive or non-integer threshold stops start-up with its name. */
export function alertConfig(overrides: Partial<AlertConfig> = {}): AlertConfig {
  const config = { ...DEFAULT_ALERT_CONFIG, ...overrides, rating: ratingConfig(overrides.rating) };
  const positive: [string, number][] = [
    ["shipmentReceiptSeconds", config.shipmentReceiptSeconds],
    ["nearExpirySeconds", config.nearExpirySeconds],
    ["lateDeviationClosureSeconds", config.lateDeviationClosureSeconds],
    ["recurringDeviations.count", config.recurringDeviations.count],
    ["recurringDeviations.clients", config.recurringDeviations.clients],
    ["recurringDeviations.windowSeconds", config.recurringDeviations.windowSeconds],
    ["unknownSerials.count", config.unknownSerials.count],
    ["unknownSerials.windowSeconds", config.unknownSerials.windowSeconds],
    ["qualityReviewDueSeconds", config.qualityReviewDueSeconds],
    ["stopProductionReportLeadSeconds", config.stopProductionReportLeadSeconds],
    ["chunkSize", config.chunkSize],
    ["pollMs", config.pollMs],
    ["clockMs", config.clockMs],
    ...Object.entries(config.caseDueSeconds).map(([severity, seconds]): [string, number] => [`caseDueSeconds.${severity}`, seconds]),
  ];
  for (const level of STARTED_RECALL_LEVELS) {
    positive.push([`recallDeadlines.${level}.acknowledge`, config.recallDeadlines[level].acknowledge]);
    positive.push([`recallDeadlines.${level}.progressReport`, config.recallDeadlines[level].progressReport]);
  }
  for (const [name, value] of positive) {
    if (!Number.isInteger(value) || value <= 0) throw new Error(`alert setting ${name} must be a positive integer, not ${value}`);
  }
  if (!(config.maxBusyShare > 0 && config.maxBusyShare <= 1))
    throw new Error(`alert setting maxBusyShare must be in (0, 1], not ${config.maxBusyShare}`);
  return config;
}
