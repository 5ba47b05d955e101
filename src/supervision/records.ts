import { z } from "zod";
import { checkOwnOrRegulator } from "../api/access";
import type { ApiServices, Caller } from "../api/context";
import { defineRoute } from "../api/routes";
import { organizationId } from "../api/schemas";
import { provinceOf } from "../ledger";
import { notAllowed, notFound, unauthenticated } from "../ledger/errors";
import type { Database } from "../store";
import { alertView } from "../alerts/engine";
import type { AlertConfig } from "../alerts/config";
import { withoutClosedCases } from "./cases";
import { currentRatings, RATING_LEVELS, RATING_SOURCES } from "./rating";
import type { Rating } from "./rating";

/** Regulators' reads: inspections, sampling, risk ratings with their contributions, and one file per enterprise. */

const contributionSchema = z.object({
  source: z.enum(RATING_SOURCES),
  points: z.number().int(),
  detail: z.string(),
});

const ratingSchema = z.object({
  organizationId: z.number().int(),
  name: z.string(),
  role: z.string(),
  region: z.number().int(),
  rating: z.enum(RATING_LEVELS),
  score: z.number().int().meta({ description: "the sum of the contributions' points" }),
  inspectionsPerYear: z.number().int().meta({ description: "the supervision frequency the rating suggests" }),
  contributions: z.array(contributionSchema).meta({ description: "every source of risk with its points and the facts behind them" }),
  alerts: z.array(z.record(z.string(), z.unknown())).meta({ description: "the open alerts about the organization" }),
});

const historySchema = z.object({
  ratedAt: z.number().int(),
  rating: z.enum(RATING_LEVELS),
  score: z.number().int(),
  inspectionsPerYear: z.number().int(),
  contributions: z.array(contributionSchema),
});

const inspectionSchema = z.object({
  id: z.string(),
  organization: z.object({ id: z.number().int(), name: z.string() }),
  regulator: z.object({ id: z.number().int(), name: z.string() }),
  province: z.number().int().meta({ description: "the inspecting regulator's province" }),
  site: z.string(),
  scope: z.string(),
  findings: z.object({ critical: z.number().int(), major: z.number().int(), minor: z.number().int() }),
  grade: z.string(),
  inspectedAt: z.number().int(),
  documentHash: z.string(),
  recordedAt: z.number().int(),
  recognisedBy: z
    .array(z.object({ province: z.number().int(), regulatorId: z.number().int(), recognisedAt: z.number().int() }))
    .meta({ description: "other provinces whose regulators recognised it as their own" }),
});

const samplingSchema = z.object({
  id: z.string(),
  batchId: z.string(),
  batchNumber: z.string(),
  regulatorId: z.number().int(),
  sampledAt: z.object({ id: z.number().int(), name: z.string() }),
  test: z.string(),
  passed: z.boolean(),
  reportHash: z.string(),
  recordedAt: z.number().int(),
});

function requireRegulator(caller: Caller | undefined) {
  if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in as an organization");
  if (caller.role !== "REGULATOR") throw notAllowed("REGULATORS_ONLY", "only regulators see every organization's records and risk rating");
}

type Db = ApiServices["store"]["db"];

async function ratingsWithAlerts(services: ApiServices, config: AlertConfig, organizationIds?: number[]) {
  const ratings = await currentRatings(services.store.db, config.rating, services.now(), organizationIds);
  const open = await openAlerts(
    services.store.db,
    config,
    services.now(),
    ratings.map((r) => r.organizationId),
  );
  return ratings.map((rating) =>
    ratingView(
      rating,
      open.filter((a) => a.organization_id === rating.organizationId),
    ),
  );
}

async function openAlerts(db: Db, config: AlertConfig, now: number, organizationIds: number[]) {
  if (organizationIds.length === 0) return [];
  const open = await db
    .selectFrom("alerts")
    .selectAll()
    .where("status", "=", "open")
    .where("organization_id", "in", organizationIds)
    .where("observed_at", ">=", now - config.rating.alertWindowSeconds)
    .orderBy("id")
    .execute();
  return withoutClosedCases(db, open);
}

function ratingView(rating: Rating, alerts: Database["alerts"][]) {
  const { level, ...rest } = rating;
  return { ...rest, rating: level, alerts: alerts.map(alertView) };
}

async function inspectionsOf(db: Db, organizationIdFilter?: number) {
  let query = db
    .selectFrom("inspections")
    .innerJoin("organizations as o", "o.id", "inspections.organization_id")
    .innerJoin("organizations as r", "r.id", "inspections.regulator_id")
    .selectAll("inspections")
    .select(["o.name as organization_name", "r.name as regulator_name"]);
  if (organizationIdFilter !== undefined) query = query.where("inspections.organization_id", "=", organizationIdFilter);
  const rows = await query.orderBy("inspections.inspected_at", "desc").orderBy("inspections.id").limit(500).execute();
  const recognitions =
    rows.length === 0
      ? []
      : await db
          .selectFrom("inspection_recognitions")
          .selectAll()
          .where(
            "inspection_id",
            "in",
            rows.map((r) => r.id),
          )
          .orderBy("recognised_at")
          .execute();
  return rows.map((row) => ({
    id: row.id,
    organization: { id: row.organization_id, name: row.organization_name },
    regulator: { id: row.regulator_id, name: row.regulator_name },
    province: row.province,
    site: row.site,
    scope: row.scope,
    findings: { critical: row.critical_findings, major: row.major_findings, minor: row.minor_findings },
    grade: row.grade,
    inspectedAt: row.inspected_at,
    documentHash: row.document_hash,
    recordedAt: row.recorded_at,
    recognisedBy: recognitions
      .filter((r) => r.inspection_id === row.id)
      .map((r) => ({ province: r.province, regulatorId: r.regulator_id, recognisedAt: r.recognised_at })),
  }));
}

/** Samplings of the organization's batches (as MAH or CMO) or taken at it; every sampling without a filter. */
async function samplingsOf(db: Db, organizationIdFilter?: number) {
  let query = db
    .selectFrom("samplings")
    .innerJoin("batches", "batches.id", "samplings.batch_id")
    .innerJoin("organizations as at", "at.id", "samplings.sampled_at_id")
    .selectAll("samplings")
    .select(["batches.batch_number", "at.name as sampled_at_name"]);
  if (organizationIdFilter !== undefined) {
    const id = organizationIdFilter;
    query = query.where((eb) => eb.or([eb("batches.mah_id", "=", id), eb("batches.cmo_id", "=", id), eb("samplings.sampled_at_id", "=", id)]));
  }
  const rows = await query.orderBy("samplings.recorded_at", "desc").orderBy("samplings.id").limit(500).execute();
  return rows.map((row) => ({
    id: row.id,
    batchId: row.batch_id,
    batchNumber: row.batch_number,
    regulatorId: row.regulator_id,
    sampledAt: { id: row.sampled_at_id, name: row.sampled_at_name },
    test: row.test,
    passed: row.passed === 1,
    reportHash: row.report_hash,
    recordedAt: row.recorded_at,
  }));
}

async function ratingHistory(db: Db, id: number) {
  const rows = await db.selectFrom("risk_ratings").selectAll().where("organization_id", "=", id).orderBy("rated_at", "desc").limit(200).execute();
  return rows.map((row) => ({
    ratedAt: Number(row.rated_at),
    rating: row.level as (typeof RATING_LEVELS)[number],
    score: row.score,
    inspectionsPerYear: row.inspections_per_year,
    contributions: JSON.parse(row.contributions) as z.input<typeof contributionSchema>[],
  }));
}

/** The licence records of an organization, newest first, from its LicenceRecorded events (their regulator acts). */
async function licenceHistory(db: Db, id: number) {
  const events = await db
    .selectFrom("ledger_events")
    .select(["block_time", "payload"])
    .where("name", "=", "LicenceRecorded")
    .orderBy("block_number", "desc")
    .orderBy("log_index", "desc")
    .execute();
  return events
    .map((e) => ({ at: Number(e.block_time), args: JSON.parse(e.payload) as Record<string, string | number> }))
    .filter((e) => Number(e.args.organizationId) === id)
    .map((e) => ({
      recordedAt: e.at,
      regulatorId: Number(e.args.regulatorId),
      licenceHash: String(e.args.licenceHash),
      validUntil: Number(e.args.validUntil),
    }));
}

const LICENCE_STATES = ["VALID", "EXPIRING", "EXPIRED", "NOT_RECORDED"] as const;
function licenceState(validUntil: number | null, now: number, warning: number): (typeof LICENCE_STATES)[number] {
  if (validUntil === null) return "NOT_RECORDED";
  if (validUntil <= now) return "EXPIRED";
  return validUntil - now <= warning ? "EXPIRING" : "VALID";
}

export function supervisionRecordRoutes(config: AlertConfig) {
  return [
    defineRoute({
      method: "get",
      path: "/v1/inspections",
      summary: "Inspections of every province, newest first, with the provinces that recognise each (regulators: all; others: their own)",
      tags: ["supervision"],
      access: "organization",
      query: z.object({ organizationId: organizationId.optional() }),
      response: z.object({ inspections: z.array(inspectionSchema) }),
      errors: { 403: "another organization's inspections" },
      async handle({ query, caller, services }) {
        if (caller!.role !== "REGULATOR") checkOwnOrRegulator(caller, query.organizationId ?? caller!.organizationId);
        const own = caller!.role === "REGULATOR" ? query.organizationId : caller!.organizationId;
        return { inspections: await inspectionsOf(services.store.db, own) };
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/samplings",
      summary: "Sampling results, newest first (regulators: all; others: of their batches or taken at them)",
      tags: ["supervision"],
      access: "organization",
      query: z.object({ organizationId: organizationId.optional() }),
      response: z.object({ samplings: z.array(samplingSchema) }),
      errors: { 403: "another organization's samplings" },
      async handle({ query, caller, services }) {
        if (caller!.role !== "REGULATOR") checkOwnOrRegulator(caller, query.organizationId ?? caller!.organizationId);
        const own = caller!.role === "REGULATOR" ? query.organizationId : caller!.organizationId;
        return { samplings: await samplingsOf(services.store.db, own) };
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/risk-ratings",
      summary: "Every supervised organization's risk rating with its contributions and suggested inspections a year; regulators only",
      tags: ["supervision"],
      access: "organization",
      query: z.object({ rating: z.enum(RATING_LEVELS).optional() }),
      response: z.object({ ratings: z.array(ratingSchema) }),
      errors: { 403: "not a regulator" },
      async handle({ query, caller, services }) {
        requireRegulator(caller);
        const ratings = await ratingsWithAlerts(services, config);
        return { ratings: query.rating ? ratings.filter((r) => r.rating === query.rating) : ratings };
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/risk-ratings/:organizationId",
      summary: "One organization's risk rating with its contributions (regulators, and the organization itself)",
      tags: ["supervision"],
      access: "organization",
      params: z.object({ organizationId }),
      response: ratingSchema,
      errors: { 403: "another organization's rating", 404: "no such supervised organization" },
      async handle({ params, caller, services }) {
        checkOwnOrRegulator(caller, params.organizationId);
        const [rating] = await ratingsWithAlerts(services, config, [params.organizationId]);
        if (!rating) throw notFound("NO_SUCH_ORGANIZATION", `no supervised organization ${params.organizationId} (regulators are not rated)`);
        return rating;
      },
    }),
    defineRoute({
      method: "get",
      path: "/v1/organizations/:organizationId/file",
      summary:
        "One file per enterprise (一企一档): licence, agreements with their cross-province review, inspections, samplings, batches, alerts and rating history",
      tags: ["supervision"],
      access: "organization",
      params: z.object({ organizationId }),
      response: z.object({
        organization: z.object({
          id: z.number().int(),
          name: z.string(),
          role: z.string(),
          region: z.number().int(),
          province: z.number().int(),
          status: z.string(),
          licence: z.object({
            hash: z.string(),
            validUntil: z.number().int().nullable(),
            state: z.enum(LICENCE_STATES),
            history: z.array(
              z.object({ recordedAt: z.number().int(), regulatorId: z.number().int(), licenceHash: z.string(), validUntil: z.number().int() }),
            ),
          }),
        }),
        agreements: z.array(
          z.object({
            id: z.string(),
            kind: z.string(),
            mah: z.object({ id: z.number().int(), name: z.string() }),
            counterparty: z.object({ id: z.number().int(), name: z.string() }),
            productId: z.string(),
            validFrom: z.number().int(),
            validUntil: z.number().int(),
            revoked: z.boolean(),
            approval: z.string().meta({ description: "NOT_REQUIRED, AWAITING_OPINION, AWAITING_APPROVAL or APPROVED (cross-province review)" }),
            opinion: z.object({ by: z.number().int(), at: z.number().int(), documentHash: z.string() }).nullable(),
            approved: z.object({ by: z.number().int(), at: z.number().int(), documentHash: z.string() }).nullable(),
          }),
        ),
        inspections: z.array(inspectionSchema),
        samplings: z.array(samplingSchema),
        batches: z.array(
          z.object({
            id: z.string(),
            batchNumber: z.string(),
            productId: z.string(),
            role: z.enum(["MAH", "CMO"]),
            state: z.string(),
            recallStatus: z.string(),
            holdStatus: z.string(),
            recordedAt: z.number().int(),
          }),
        ),
        alerts: z.array(z.record(z.string(), z.unknown())),
        rating: ratingSchema.nullable(),
        ratingHistory: z.array(historySchema),
      }),
      errors: { 403: "another organization's file", 404: "no such organization" },
      async handle({ params, caller, services }) {
        checkOwnOrRegulator(caller, params.organizationId);
        const { db } = services.store;
        const id = params.organizationId;
        const org = await db.selectFrom("organizations").selectAll().where("id", "=", id).executeTakeFirst();
        if (!org) throw notFound("UNKNOWN_ORGANIZATION", `no organization ${id} is on the ledger`);
        const now = services.now();
        const agreements = await db
          .selectFrom("agreements")
          .innerJoin("organizations as m", "m.id", "agreements.mah_id")
          .innerJoin("organizations as p", "p.id", "agreements.counterparty_id")
          .selectAll("agreements")
          .select(["m.name as mah_name", "p.name as counterparty_name"])
          .where((eb) => eb.or([eb("agreements.mah_id", "=", id), eb("agreements.counterparty_id", "=", id)]))
          .orderBy("agreements.signed_at", "desc")
          .execute();
        const batches = await db
          .selectFrom("batches")
          .select(["id", "batch_number", "product_id", "mah_id", "state", "recall_status", "hold_status", "recorded_at"])
          .where((eb) => eb.or([eb("mah_id", "=", id), eb("cmo_id", "=", id)]))
          .orderBy("recorded_at", "desc")
          .limit(200)
          .execute();
        const alerts = await db.selectFrom("alerts").selectAll().where("organization_id", "=", id).orderBy("id", "desc").limit(200).execute();
        const [rating] = org.role === "REGULATOR" ? [] : await ratingsWithAlerts(services, config, [id]);
        return {
          organization: {
            id: org.id,
            name: org.name,
            role: org.role,
            region: org.region,
            province: provinceOf(org.region),
            status: org.status,
            licence: {
              hash: org.licence_hash,
              validUntil: org.licence_valid_until === null ? null : Number(org.licence_valid_until),
              state: licenceState(org.licence_valid_until, now, config.rating.licenceWarningSeconds),
              history: await licenceHistory(db, id),
            },
          },
          agreements: agreements.map((a) => ({
            id: a.id,
            kind: a.kind,
            mah: { id: a.mah_id, name: a.mah_name },
            counterparty: { id: a.counterparty_id, name: a.counterparty_name },
            productId: a.product_id,
            validFrom: Number(a.valid_from),
            validUntil: Number(a.valid_until),
            revoked: a.revoked === 1,
            approval: a.approval,
            opinion: a.opinion_by === null ? null : { by: a.opinion_by, at: Number(a.opinion_at), documentHash: a.opinion_hash! },
            approved: a.approved_by === null ? null : { by: a.approved_by, at: Number(a.approved_at), documentHash: a.approval_hash! },
          })),
          inspections: await inspectionsOf(db, id),
          samplings: await samplingsOf(db, id),
          batches: batches.map((b) => ({
            id: b.id,
            batchNumber: b.batch_number,
            productId: b.product_id,
            role: b.mah_id === id ? ("MAH" as const) : ("CMO" as const),
            state: b.state,
            recallStatus: b.recall_status,
            holdStatus: b.hold_status,
            recordedAt: Number(b.recorded_at),
          })),
          alerts: alerts.map(alertView),
          rating: rating ?? null,
          ratingHistory: await ratingHistory(db, id),
        };
      },
    }),
  ];
}
