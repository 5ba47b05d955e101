import { z } from "zod";
import {
  AGREEMENT_KINDS,
  DEVIATION_KINDS,
  DEVIATION_SEVERITIES,
  DEVIATION_STATUSES,
  releasable,
  releaseGates,
  RELEASE_GATES,
  STERILE_RISK_CLASSES,
} from "../ledger";
import type { ReleaseFacts } from "../ledger";
import type { BatchRow } from "../store/queries";
import { notAllowed } from "../ledger/errors";
import { payloadOf } from "../store";
import { readableBatch } from "./batches";
import type { ApiServices } from "./context";
import { toBatchView } from "./read-model";
import { batchView, bytes32 } from "./schemas";
import { defineRoute } from "./routes";

const releaseReview = z.object({
  batch: batchView,
  gates: z
    .array(z.object({ gate: z.enum(RELEASE_GATES), passed: z.boolean() }))
    .meta({ description: "each check before market release, in reading order; the release waits for every one" }),
  releasable: z.boolean().meta({ description: "the market release can be signed now: factory-released and every gate passed" }),
  factoryRelease: z
    .object({ certificateHash: z.string(), at: z.number().int(), signer: z.string().nullable() })
    .nullable()
    .meta({ description: "the CMO's factory release certificate, as signed" }),
  deviations: z.array(
    z.object({
      reportHash: z.string(),
      kind: z.enum(DEVIATION_KINDS.names),
      status: z.enum(DEVIATION_STATUSES.names),
      severity: z
        .enum(DEVIATION_SEVERITIES.names)
        .meta({ description: "as signed in the deviation report (DeviationReport.severity); NONE for one reported on an earlier ledger" }),
      openedBy: z.number().int(),
      openedAt: z.number().int(),
      closureHash: z.string().nullable(),
      closedAt: z.number().int().nullable(),
    }),
  ),
  agreement: z
    .object({
      id: z.string(),
      kind: z.enum(AGREEMENT_KINDS.names),
      validFrom: z.number().int(),
      validUntil: z.number().int(),
      revoked: z.boolean(),
      releaseTester: z.string(),
    })
    .nullable()
    .meta({ description: "the quality agreement the batch was made under" }),
  qualityDuties: z
    .object({
      riskClass: z.string().nullable(),
      sterileRecordsRequired: z.boolean(),
      sterileRecorded: z.boolean(),
      certificateRequired: z.boolean().meta({ description: "the quality agreement has a contract laboratory test release" }),
      certificatePassed: z.boolean().nullable().meta({ description: "the laboratory's verdict; null while it issued none" }),
      retainedSamplesApproved: z
        .boolean()
        .meta({ description: "the MAH approved the batch's retained samples (needed before a sterile-class batch's market release)" }),
      qualifiedPersonSigns: z
        .boolean()
        .meta({ description: "the market release must be signed by a current quality authorized person of the product" }),
      qualifiedPersons: z.array(z.object({ key: z.string(), name: z.string() })).meta({ description: "the product's current ones" }),
      signerKey: z
        .string()
        .nullable()
        .meta({ description: "the key the qualifiedPerson gate was judged for: the caller's, when it signs for the batch's MAH" }),
    })
    .meta({ description: "what QualityDuties checks at factory and market release" }),
  now: z.number().int().meta({ description: "the moment the gates were judged at, unix seconds" }),
});

async function reviewFacts(services: ApiServices, row: BatchRow) {
  const batchId = row.id;
  const { db } = services.store;
  const [deviations, release, batch, mah, riskClass, records, persons, samples] = await Promise.all([
    db.selectFrom("deviations").selectAll().where("batch_id", "=", batchId).orderBy("opened_at").orderBy("report_hash").execute(),
    db
      .selectFrom("ledger_events")
      .select(["payload", "block_time", "signer"])
      .where("batch_id", "=", batchId)
      .where("name", "=", "BatchFactoryReleased")
      .executeTakeFirst(),
    db.selectFrom("batches").select("agreement_id").where("id", "=", batchId).executeTakeFirstOrThrow(),
    db.selectFrom("organizations").select(["status", "licence_valid_until"]).where("id", "=", row.mah_id).executeTakeFirst(),
    db.selectFrom("product_risk_classes").select(["risk_class", "classified_at"]).where("product_id", "=", row.product_id).executeTakeFirst(),
    db.selectFrom("batch_quality_records").selectAll().where("batch_id", "=", batchId).executeTakeFirst(),
    db
      .selectFrom("responsible_persons")
      .selectAll()
      .where("product_id", "=", row.product_id)
      .where("role", "=", "QUALIFIED_PERSON")
      .orderBy("appointed_at")
      .execute(),
    db.selectFrom("retained_samples").select("approved_at").where("batch_id", "=", batchId).executeTakeFirst(),
  ]);
  const agreement = await db.selectFrom("agreements").selectAll().where("id", "=", batch.agreement_id).executeTakeFirst();
  return { deviations, release, agreement, mah, riskClass, records, persons, samples };
}

type Facts = Awaited<ReturnType<typeof reviewFacts>>;

/**
 * QualityDuties fixes a batch's duties when the batch is recorded, from the product's risk class and named quality
 * authorized persons at that moment and its agreement's release tester. The read model keeps times to the second,
 * so an appointment or revocation in the batch's own second counts as in place (the gate then errs red).
 */
function batchDuties(row: BatchRow, facts: Facts, signerKey: string | null) {
  const { riskClass, records, persons, agreement, samples } = facts;
  const classedSterile = riskClass !== undefined && riskClass.classified_at <= row.recorded_at && STERILE_RISK_CLASSES.includes(riskClass.risk_class);
  const current = persons.filter((p) => p.revoked === 0);
  return {
    riskClass: riskClass?.risk_class ?? null,
    sterileRecordsRequired: classedSterile,
    sterileRecorded: records?.sterile_records_at != null,
    certificateRequired: agreement?.release_tester === "CONTRACT_LABORATORY",
    certificatePassed: records?.certified_at != null ? records.certificate_passed === 1 : null,
    retainedSamplesApproved: samples?.approved_at != null,
    qualifiedPersonSigns: persons.some((p) => p.appointed_at <= row.recorded_at && (p.revoked_at === null || p.revoked_at >= row.recorded_at)),
    // Anyone but the MAH's own signer sees whether some current one could sign.
    signerIsQualifiedPerson: signerKey === null ? current.length > 0 : current.some((p) => p.person_key === signerKey),
    qualifiedPersons: current.map((p) => ({ key: p.person_key, name: p.name })),
    signerKey,
  };
}

/**
 * The MAH's release review: every gate before market release, from the read model, judged by the same rules the
 * page shows (src/ledger/release-gates.ts). For the batch's MAH and CMO and regulators.
 */
export const releaseReviewRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/batches/:batchId/release-review",
    summary:
      "A batch's market release review: factory release certificate, sterile records, test certificate, retained samples, deviations, " +
      "quality agreement, hold, recall, expiry, the MAH's licence and the quality authorized person",
    tags: ["batches"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    response: releaseReview,
    errors: { 403: "the caller is not a regulator, nor the batch's MAH or CMO", 404: "no such batch" },
    async handle({ params, caller, services }) {
      const row = await readableBatch(services, caller, params.batchId);
      if (caller!.role !== "REGULATOR" && caller!.organizationId !== row.mah_id && caller!.organizationId !== row.cmo_id) {
        throw notAllowed("RELEASE_REVIEW_RESTRICTED", "a batch's release review is for regulators and the batch's MAH and CMO");
      }
      const found = await reviewFacts(services, row);
      const { deviations, release, agreement, mah } = found;
      const duties = batchDuties(row, found, caller!.organizationId === row.mah_id ? caller!.key.toLowerCase() : null);
      const factoryRelease = release
        ? { certificateHash: String(payloadOf(release).certificateHash), at: release.block_time, signer: release.signer }
        : null;
      const agreementView = agreement
        ? {
            id: agreement.id,
            kind: agreement.kind,
            validFrom: agreement.valid_from,
            validUntil: agreement.valid_until,
            revoked: agreement.revoked !== 0,
            releaseTester: agreement.release_tester,
          }
        : null;
      const facts: ReleaseFacts = {
        state: row.state,
        recallStatus: row.recall_status,
        holdStatus: row.hold_status,
        expiresAt: row.expires_at,
        factoryRelease,
        deviations,
        agreement: agreementView,
        duties,
        mah: { active: mah?.status === "ACTIVE", licenceValidUntil: mah?.licence_valid_until ?? null },
      };
      const now = services.now();
      return {
        batch: toBatchView(row),
        gates: releaseGates(facts, now),
        releasable: releasable(facts, now),
        factoryRelease,
        deviations: deviations.map((d) => ({
          reportHash: d.report_hash,
          kind: d.kind,
          status: d.status,
          severity: d.severity,
          openedBy: d.opened_by,
          openedAt: d.opened_at,
          closureHash: d.closure_hash,
          closedAt: d.closed_at,
        })),
        agreement: agreementView,
        qualityDuties: {
          riskClass: duties.riskClass,
          sterileRecordsRequired: duties.sterileRecordsRequired,
          sterileRecorded: duties.sterileRecorded,
          certificateRequired: duties.certificateRequired,
          certificatePassed: duties.certificatePassed,
          retainedSamplesApproved: duties.retainedSamplesApproved,
          qualifiedPersonSigns: duties.qualifiedPersonSigns,
          qualifiedPersons: duties.qualifiedPersons,
          signerKey: duties.signerKey,
        },
        now,
      };
    },
  }),
];
