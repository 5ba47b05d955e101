import type { Kysely, Transaction } from "kysely";
import { provinceOf, RISK_CLASSES } from "../ledger";
import type { AlertSeverity, InspectionGradeName, RiskClassName, StartedRecallLevel } from "../ledger";
import type { Database } from "../store";
import { dueAtOf, withoutClosedCases } from "./cases";

type Db = Kysely<Database> | Transaction<Database>;

const DAY = 24 * 3600;

export const RATING_LEVELS = ["green", "yellow", "red"] as const;
export type RatingLevel = (typeof RATING_LEVELS)[number];

/** What makes up a score: one line per source, with its points and the facts behind them in words. */
export const RATING_SOURCES = ["licence", "inspections", "sampling", "openAlerts", "overdueAlerts", "recalls", "productRisk"] as const;
export type RatingSource = (typeof RATING_SOURCES)[number];
export type Contribution = { source: RatingSource; points: number; detail: string };

/**
 * How an organization's risk is scored and graded. Every weight is points per fact; a level starts at its
 * threshold; each level suggests how many inspections a year its organizations get.
 */
export type RatingConfig = {
  /** Open alerts observed within this window count (default 90 days). */
  alertWindowSeconds: number;
  /**
   * When an alert's case is due, by severity: an alert still open past it is overdue and counts again. Not a rating
   * setting of its own: the alert configuration's `caseDueSeconds`, the one definition of "overdue" the engine's
   * escalation and the alert pages use too.
   */
  caseDueSeconds: Record<AlertSeverity, number>;
  /** Failed samplings and recalls of the organization's batches within this window count (default 2 years). */
  historyWindowSeconds: number;
  /** The latest inspection within this window counts; none within it is "not inspected" (default 3 years). */
  inspectionWindowSeconds: number;
  /** A licence ending within this time is flagged (default 90 days). */
  licenceWarningSeconds: number;
  weights: {
    alert: Record<AlertSeverity, number>;
    overdueAlert: Record<AlertSeverity, number>;
    inspectionGrade: Record<Exclude<InspectionGradeName, "NONE">, number>;
    criticalFinding: number;
    majorFinding: number;
    notInspected: number;
    samplingFailure: number;
    licenceExpired: number;
    licenceExpiringSoon: number;
    suspended: number;
    recall: Record<StartedRecallLevel, number>;
    productRisk: number;
  };
  /** Yellow from `yellowAt` points, red from `redAt`. */
  yellowAt: number;
  redAt: number;
  /** Suggested routine inspections a year at each level. */
  inspectionsPerYear: Record<RatingLevel, number>;
};

/** The rating's own settings: everything but the case due dates, which come from the alert configuration. */
export type RatingSettings = Omit<RatingConfig, "caseDueSeconds">;

export const DEFAULT_RATING_CONFIG: RatingSettings = {
  alertWindowSeconds: 90 * DAY,
  historyWindowSeconds: 730 * DAY,
  inspectionWindowSeconds: 3 * 365 * DAY,
  licenceWarningSeconds: 90 * DAY,
  weights: {
    alert: { low: 1, medium: 2, high: 5 },
    overdueAlert: { low: 1, medium: 2, high: 3 },
    inspectionGrade: { COMPLIANT: 0, COMPLIANT_WITH_CORRECTIONS: 2, NON_COMPLIANT: 8 },
    criticalFinding: 3,
    majorFinding: 1,
    notInspected: 1,
    samplingFailure: 4,
    licenceExpired: 10,
    licenceExpiringSoon: 1,
    suspended: 10,
    recall: { I: 6, II: 4, III: 2 },
    productRisk: 1,
  },
  yellowAt: 4,
  redAt: 10,
  inspectionsPerYear: { green: 1, yellow: 2, red: 4 },
};

/** A rating setting that makes no sense: names the setting, so start-up stops saying which. */
export class RatingConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`alert setting rating.${setting} ${message}`);
    this.name = "RatingConfigError";
  }
}

type Overrides = Partial<Omit<RatingSettings, "weights">> & { weights?: Partial<RatingConfig["weights"]> };

/**
 * The defaults with `overrides` applied, with the alert configuration's case due dates (checked there), checked:
 * a bad setting throws a RatingConfigError naming it.
 */
export function ratingConfig(overrides: Overrides, caseDueSeconds: Record<AlertSeverity, number>): RatingConfig {
  if ("overdueAfterSeconds" in overrides) {
    throw new RatingConfigError(
      "overdueAfterSeconds",
      "is no longer a setting: an alert is overdue past its case's due date, set by caseDueSeconds (by severity)",
    );
  }
  const config: RatingConfig = {
    ...DEFAULT_RATING_CONFIG,
    ...overrides,
    weights: { ...DEFAULT_RATING_CONFIG.weights, ...overrides.weights },
    caseDueSeconds,
  };
  const check = (setting: string, value: unknown, positive: boolean) => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < (positive ? 1 : 0)) {
      throw new RatingConfigError(setting, `must be a ${positive ? "positive" : "non-negative"} integer, not ${JSON.stringify(value)}`);
    }
  };
  const walk = (prefix: string, value: unknown, positive: boolean) => {
    if (typeof value === "object" && value !== null) for (const [k, v] of Object.entries(value)) walk(`${prefix}.${k}`, v, positive);
    else check(prefix, value, positive);
  };
  for (const key of [
    "alertWindowSeconds",
    "historyWindowSeconds",
    "inspectionWindowSeconds",
    "licenceWarningSeconds",
    "yellowAt",
    "redAt",
  ] as const) {
    check(key, config[key], true);
  }
  const complete = <T extends object>(setting: string, value: T, keys: readonly string[]) => {
    for (const key of keys) if (!(key in value)) throw new RatingConfigError(`${setting}.${key}`, "is missing");
  };
  complete("weights.alert", config.weights.alert, ["low", "medium", "high"]);
  complete("weights.overdueAlert", config.weights.overdueAlert, ["low", "medium", "high"]);
  complete("weights.inspectionGrade", config.weights.inspectionGrade, ["COMPLIANT", "COMPLIANT_WITH_CORRECTIONS", "NON_COMPLIANT"]);
  complete("weights.recall", config.weights.recall, ["I", "II", "III"]);
  walk("weights", config.weights, false);
  complete("inspectionsPerYear", config.inspectionsPerYear, RATING_LEVELS);
  walk("inspectionsPerYear", config.inspectionsPerYear, true);
  if (config.redAt <= config.yellowAt) throw new RatingConfigError("redAt", `must be above yellowAt (${config.yellowAt}), not ${config.redAt}`);
  const { green, yellow, red } = config.inspectionsPerYear;
  if (!(green <= yellow && yellow <= red))
    throw new RatingConfigError("inspectionsPerYear", "must not fall as the level rises (green ≤ yellow ≤ red)");
  return config;
}

/** One organization's rating: its level, score, what makes it up, and how often to inspect it. */
export type Rating = {
  organizationId: number;
  name: string;
  role: string;
  region: number;
  level: RatingLevel;
  score: number;
  contributions: Contribution[];
  inspectionsPerYear: number;
};

/** What the ledger knows of an organization that bears on its risk. */
type Facts = {
  organization: { id: number; name: string; role: string; region: number; status: string; licence_valid_until: number | null };
  latestInspection?: { grade: InspectionGradeName; critical_findings: number; major_findings: number; inspected_at: number; province: number };
  failedSamplings: number;
  openAlerts: Record<AlertSeverity, number>;
  overdueAlerts: Record<AlertSeverity, number>;
  recalls: Record<StartedRecallLevel, number>;
  productRisk: ProductRisk;
};

/**
 * Points of inherent risk by a product's risk class (QualityDuties.classifyProduct): vaccines, biologics and
 * traditional Chinese medicine injections most, then other sterile products; an unclassified product adds none.
 */
const RISK_CLASS_POINTS: Record<RiskClassName, number> = { NONE: 0, OTHER: 1, STERILE: 2, TCM_INJECTION: 3, BIOLOGIC: 3, VACCINE: 3 };

/**
 * The inherent risk of an organization's products, in points: the riskiest class among the products it holds the
 * marketing authorization of or makes batches of. The weight `weights.productRisk` multiplies what it returns.
 */
type ProductRisk = { points: number; detail: string };
async function inherentProductRisk(db: Db, organizationIds: number[]): Promise<Map<number, ProductRisk>> {
  const ids = organizationIds.length > 0 ? organizationIds : [-1];
  const held = db
    .selectFrom("products")
    .select(["products.mah_id as organization_id", "products.id as product_id"])
    .where("products.mah_id", "in", ids);
  const made = db.selectFrom("batches").select(["batches.cmo_id as organization_id", "batches.product_id"]).where("batches.cmo_id", "in", ids);
  const rows = await db
    .selectFrom(held.union(made).as("theirs"))
    .innerJoin("product_risk_classes", "product_risk_classes.product_id", "theirs.product_id")
    .select(["theirs.organization_id", "product_risk_classes.risk_class"])
    .execute();
  const riskiest = new Map<number, RiskClassName>();
  for (const row of rows) {
    const known = riskiest.get(row.organization_id);
    if (known === undefined || RISK_CLASS_POINTS[row.risk_class] > RISK_CLASS_POINTS[known]) riskiest.set(row.organization_id, row.risk_class);
  }
  return new Map(
    organizationIds.map((id) => {
      const riskClass = riskiest.get(id);
      if (riskClass === undefined) return [id, { points: 0, detail: "none of its products has a risk class on the ledger" }];
      return [
        id,
        { points: RISK_CLASS_POINTS[riskClass], detail: `its riskiest product is ${RISK_CLASSES.words[RISK_CLASSES.names.indexOf(riskClass)]}` },
      ];
    }),
  );
}

const zero = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
const SEVERITIES = ["low", "medium", "high"] as const;
const LEVELS = ["I", "II", "III"] as const;

/** Loads the facts of every supervised organization (all but regulators), or of `organizationIds`. */
async function loadFacts(db: Db, config: RatingConfig, now: number, organizationIds?: number[]): Promise<Facts[]> {
  let query = db
    .selectFrom("organizations")
    .select(["id", "name", "role", "region", "status", "licence_valid_until"])
    .where("role", "!=", "REGULATOR");
  if (organizationIds) query = query.where("id", "in", organizationIds.length > 0 ? organizationIds : [-1]);
  const organizations = await query.orderBy("id").execute();
  if (organizations.length === 0) return [];
  const ids = organizations.map((o) => o.id);
  const facts = new Map<number, Facts>();
  const productRisk = await inherentProductRisk(db, ids);
  for (const organization of organizations) {
    facts.set(organization.id, {
      organization,
      failedSamplings: 0,
      openAlerts: zero(SEVERITIES),
      overdueAlerts: zero(SEVERITIES),
      recalls: zero(LEVELS),
      productRisk: productRisk.get(organization.id)!,
    });
  }
  const inspections = await db
    .selectFrom("inspections")
    .select(["organization_id", "grade", "critical_findings", "major_findings", "inspected_at", "province"])
    .where("organization_id", "in", ids)
    .where("inspected_at", ">=", now - config.inspectionWindowSeconds)
    .orderBy("inspected_at")
    .execute();
  for (const inspection of inspections) facts.get(inspection.organization_id)!.latestInspection = inspection;

  const historySince = now - config.historyWindowSeconds;
  const failed = await db
    .selectFrom("samplings")
    .innerJoin("batches", "batches.id", "samplings.batch_id")
    .select(["batches.mah_id", "batches.cmo_id"])
    .where("samplings.passed", "=", 0)
    .where("samplings.recorded_at", ">=", historySince)
    .execute();
  // A failed sample speaks to how the batch was made and released: it counts against its MAH and its CMO.
  for (const sample of failed) {
    for (const id of new Set([sample.mah_id, sample.cmo_id])) {
      const f = facts.get(id);
      if (f) f.failedSamplings += 1;
    }
  }
  const recalls = await db
    .selectFrom("recalls")
    .innerJoin("batches", "batches.id", "recalls.batch_id")
    .select(["batches.mah_id", "batches.cmo_id", "recalls.level"])
    .where("recalls.started_at", ">=", historySince)
    .execute();
  for (const recall of recalls) {
    for (const id of new Set([recall.mah_id, recall.cmo_id])) {
      const f = facts.get(id);
      if (f && recall.level) f.recalls[recall.level as StartedRecallLevel] += 1;
    }
  }
  // A case closed with a reason stops counting toward the rating.
  const alerts = await withoutClosedCases(
    db,
    await db
      .selectFrom("alerts")
      .select(["key", "organization_id", "severity", "observed_at"])
      .where("status", "=", "open")
      .where("organization_id", "in", ids)
      .where("observed_at", ">=", now - config.alertWindowSeconds)
      .execute(),
  );
  for (const alert of alerts) {
    const f = facts.get(alert.organization_id!)!;
    const severity = alert.severity as AlertSeverity;
    f.openAlerts[severity] += 1;
    if (now > dueAtOf(alert, config.caseDueSeconds)) f.overdueAlerts[severity] += 1;
  }
  return [...facts.values()];
}

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
const bySeverity = (counts: Record<AlertSeverity, number>) =>
  SEVERITIES.filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(", ") || "none";

/** Scores one organization's facts: each source's points and words, their sum, the level and the frequency. */
export function rate(facts: Facts, config: RatingConfig, now: number): Rating {
  const { weights } = config;
  const { organization: org } = facts;
  const contributions: Contribution[] = [];
  const add = (source: RatingSource, points: number, detail: string) => contributions.push({ source, points, detail });

  const until = org.licence_valid_until;
  if (org.status === "SUSPENDED") add("licence", weights.suspended, "suspended by a regulator");
  else if (until !== null && until <= now) add("licence", weights.licenceExpired, `licence expired at ${until}`);
  else if (until !== null && until - now <= config.licenceWarningSeconds)
    add("licence", weights.licenceExpiringSoon, `licence expires within ${Math.ceil((until - now) / DAY)} days`);
  else add("licence", 0, until === null ? "no licence expiry recorded" : "licence valid");

  const inspection = facts.latestInspection;
  if (!inspection) add("inspections", weights.notInspected, "not inspected within the inspection window");
  else {
    const points =
      weights.inspectionGrade[inspection.grade as keyof RatingConfig["weights"]["inspectionGrade"]] +
      inspection.critical_findings * weights.criticalFinding +
      inspection.major_findings * weights.majorFinding;
    add(
      "inspections",
      points,
      `latest inspection ${inspection.grade} with ${plural(inspection.critical_findings, "critical finding")} and ${plural(inspection.major_findings, "major finding")}`,
    );
  }
  add("sampling", facts.failedSamplings * weights.samplingFailure, `${plural(facts.failedSamplings, "failed sampling")} of its batches`);
  const severityPoints = (counts: Record<AlertSeverity, number>, w: Record<AlertSeverity, number>) =>
    SEVERITIES.reduce((sum, s) => sum + counts[s] * w[s], 0);
  add("openAlerts", severityPoints(facts.openAlerts, weights.alert), `open alerts: ${bySeverity(facts.openAlerts)}`);
  add("overdueAlerts", severityPoints(facts.overdueAlerts, weights.overdueAlert), `overdue alerts: ${bySeverity(facts.overdueAlerts)}`);
  const recallPoints = LEVELS.reduce((sum, l) => sum + facts.recalls[l] * weights.recall[l], 0);
  const recallWords = LEVELS.filter((l) => facts.recalls[l] > 0).map((l) => `${facts.recalls[l]} level ${l}`);
  add("recalls", recallPoints, `recalls of its batches: ${recallWords.join(", ") || "none"}`);
  add("productRisk", facts.productRisk.points * weights.productRisk, facts.productRisk.detail);

  const score = contributions.reduce((sum, c) => sum + c.points, 0);
  const level: RatingLevel = score >= config.redAt ? "red" : score >= config.yellowAt ? "yellow" : "green";
  return {
    organizationId: org.id,
    name: org.name,
    role: org.role,
    region: org.region,
    level,
    score,
    contributions,
    inspectionsPerYear: config.inspectionsPerYear[level],
  };
}

/** The current rating of every supervised organization, or of `organizationIds`. */
export async function currentRatings(db: Db, config: RatingConfig, now: number, organizationIds?: number[]): Promise<Rating[]> {
  return (await loadFacts(db, config, now, organizationIds)).map((facts) => rate(facts, config, now));
}

/** The notification kind a rating change sends the regulators of the organization's province. */
export const RATING_CHANGED = "rating.changed";

/** What a rating refresh changed: the organizations whose level or score moved, with the previous level. */
export type RatingChange = { rating: Rating; previous: RatingLevel | null };

/**
 * Records each organization's rating where its level or score changed since the last one recorded (the rating
 * history), and answers those changes, so the caller tells the regulators of each organization's province.
 */
export async function refreshRatings(trx: Transaction<Database>, config: RatingConfig, now: number): Promise<RatingChange[]> {
  const ratings = await currentRatings(trx, config, now);
  const latest = await trx
    .selectFrom("risk_ratings as r")
    .select(["r.organization_id", "r.level", "r.score", "r.contributions"])
    .where((eb) =>
      eb(
        "r.rated_at",
        "=",
        eb
          .selectFrom("risk_ratings as l")
          .select((l) => l.fn.max("l.rated_at").as("m"))
          .whereRef("l.organization_id", "=", "r.organization_id"),
      ),
    )
    .execute();
  const last = new Map(latest.map((row) => [row.organization_id, row]));
  const changes: RatingChange[] = [];
  for (const rating of ratings) {
    const before = last.get(rating.organizationId);
    if (before && before.level === rating.level && before.score === rating.score) continue;
    await trx
      .insertInto("risk_ratings")
      .values({
        organization_id: rating.organizationId,
        rated_at: now,
        level: rating.level,
        score: rating.score,
        contributions: JSON.stringify(rating.contributions),
        inspections_per_year: rating.inspectionsPerYear,
      })
      .onConflict((c) => c.columns(["organization_id", "rated_at"]).doNothing())
      .execute();
    changes.push({ rating, previous: (before?.level as RatingLevel | undefined) ?? null });
  }
  return changes;
}

/** The regulators of an organization's province, who supervise it and hear of its rating changing. */
export async function provinceRegulators(db: Db): Promise<Map<number, number[]>> {
  const rows = await db.selectFrom("organizations").select(["id", "region"]).where("role", "=", "REGULATOR").execute();
  const regulators = new Map<number, number[]>();
  for (const row of rows) regulators.set(provinceOf(row.region), [...(regulators.get(provinceOf(row.region)) ?? []), row.id]);
  return regulators;
}
