import { z } from "zod";
import { NOTICE_CHANNELS, PERSON_ROLES, PersonRole, STERILE_RISK_CLASSES } from "../ledger";
import type { RiskClassName } from "../ledger";
import { notAllowed, notFound, unauthenticated } from "../ledger/errors";
import type { Database } from "../store";
import type { Kysely } from "kysely";
import { checkOwnOrRegulator } from "./access";
import { readableBatch } from "./batches";
import type { ApiServices, Caller } from "./context";
import { organizationsById } from "./read-model";
import { bytes32, organizationId } from "./schemas";
import { defineRoute } from "./routes";

/**
 * The MAH's quality duties as the read model holds them (contracts/QualityDuties.sol): a product's risk class, its
 * named responsible persons and quarterly quality reviews; a batch's sterile records, contract laboratory
 * certificate and the person who signed its market release.
 */

const person = z.object({
  key: z.string(),
  name: z.string(),
  role: z.string().meta({ description: "QUALIFIED_PERSON, QUALITY_HEAD, PRODUCTION_HEAD or PHARMACOVIGILANCE_HEAD" }),
  revoked: z.boolean(),
  appointedAt: z.number().int(),
  revokedAt: z.number().int().nullable(),
});

const productQuality = z.object({
  productId: z.string(),
  productName: z.string(),
  mahId: z.number().int(),
  riskClass: z.string().nullable().meta({ description: "BIOLOGIC, STERILE, TCM_INJECTION, VACCINE, OTHER; null until the MAH classifies it" }),
  sterileRecordsRequired: z
    .boolean()
    .meta({ description: "whether new batches need environmental-monitoring and cleaning records before factory release" }),
  responsiblePersons: z.array(person),
  qualityReviews: z.array(
    z.object({ year: z.number().int(), quarter: z.number().int(), riskLevel: z.string(), reviewHash: z.string(), filedAt: z.number().int() }),
  ),
  shortageListed: z.boolean().meta({ description: "on the shortage list: its MAH reports a stop of production before the stop" }),
  stopProductionReports: z.array(z.object({ stopAt: z.number().int(), reportHash: z.string(), reportedAt: z.number().int() })),
  capas: z.array(
    z.object({
      batchId: z.string(),
      batchNumber: z.string(),
      capaHash: z.string(),
      ownerId: z.number().int(),
      dueAt: z.number().int(),
      status: z.string().meta({ description: "OPEN, EFFECTIVE or INEFFECTIVE" }),
      overdue: z.boolean().meta({ description: "open past its due date" }),
    }),
  ),
});

const batchQuality = z.object({
  batchId: z.string(),
  riskClass: z.string().nullable(),
  sterileRecords: z.object({ environmentalMonitoringHash: z.string(), cleaningRecordHash: z.string(), referencedAt: z.number().int() }).nullable(),
  testCertificate: z
    .object({
      laboratory: z.object({ id: z.number().int(), name: z.string() }),
      testingAgreementId: z.string(),
      certificateHash: z.string(),
      passed: z.boolean(),
      issuedAt: z.number().int(),
    })
    .nullable(),
  marketReleasedBy: z
    .object({
      key: z.string(),
      signerName: z.string().meta({ description: "the signer's name as the release attestation states it (empty for the MAH's own key)" }),
      signerRole: z.string().meta({ description: "the signer's role as the attestation states it: QUALIFIED_PERSON, or ORGANIZATION" }),
      person: person.nullable().meta({ description: "the named responsible person whose key signed, if any" }),
    })
    .nullable(),
  retainedSamples: z
    .object({
      quantity: z.number().int(),
      location: z.string(),
      retainUntil: z.number().int(),
      recordedAt: z.number().int(),
      approvedBy: z.number().int().nullable(),
      approvedAt: z.number().int().nullable(),
    })
    .nullable()
    .meta({ description: "recorded by the CMO; approved by the MAH (a sterile-class batch is market-released only after)" }),
});

type PersonRow = Database["responsible_persons"];
const toPerson = (row: PersonRow) => ({
  key: row.person_key,
  name: row.name,
  role: row.role,
  revoked: row.revoked === 1,
  appointedAt: row.appointed_at,
  revokedAt: row.revoked_at,
});

/**
 * Who reads a product's quality duties: regulators, its MAH, and the organizations under an agreement with the MAH
 * for the product (or for all its products): its CMOs and contract laboratories.
 */
async function checkProductAccess(db: Kysely<Database>, caller: Caller | undefined, product: { id: string; mah_id: number }) {
  if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in as an organization to read a product's quality duties");
  if (caller.role === "REGULATOR" || caller.organizationId === product.mah_id) return;
  const party = await db
    .selectFrom("agreements")
    .select("id")
    .where("mah_id", "=", product.mah_id)
    .where("counterparty_id", "=", caller.organizationId)
    .where("product_id", "in", [product.id, `0x${"0".repeat(64)}`])
    .executeTakeFirst();
  if (!party) {
    throw notAllowed(
      "NOT_YOUR_PRODUCT",
      `organization ${caller.organizationId} is neither the MAH of product ${product.id} nor under an agreement for it`,
    );
  }
}

async function riskClassOf(db: Kysely<Database>, productId: string): Promise<RiskClassName | null> {
  const row = await db.selectFrom("product_risk_classes").select("risk_class").where("product_id", "=", productId).executeTakeFirst();
  return row?.risk_class ?? null;
}

const qualityNotice = z.object({
  id: z.string(),
  senderId: z.number().int(),
  recipientId: z.number().int(),
  kind: z.string().meta({ description: "CHANGE_CONTROL, DEVIATION, COMPLAINT or AUDIT_FINDING" }),
  channel: z.string(),
  noticeHash: z.string(),
  sentAt: z.number().int(),
  dueAt: z.number().int(),
  acknowledgedAt: z.number().int().nullable(),
  responseHash: z.string().nullable(),
  overdue: z.boolean().meta({ description: "unacknowledged past the agreed response time" }),
});

const organizationQuality = z.object({
  organizationId: z.number().int(),
  products: z.array(
    z.object({
      productId: z.string(),
      productName: z.string(),
      mahId: z.number().int(),
      riskClass: z.string().nullable(),
      shortageListed: z.boolean(),
      qualifiedPersons: z.array(z.string()).meta({ description: "names of the product's current quality authorized persons" }),
      lastReview: z.object({ year: z.number().int(), quarter: z.number().int(), riskLevel: z.string() }).nullable(),
      openCapas: z.number().int(),
      overdueCapas: z.number().int(),
    }),
  ),
  agreements: z.array(
    z.object({
      agreementId: z.string(),
      mahId: z.number().int(),
      counterpartyId: z.number().int(),
      countersigned: z.boolean().meta({ description: "the CMO countersigned the communication terms" }),
      openNotices: z.number().int(),
      overdueNotices: z.number().int(),
    }),
  ),
});

/**
 * An organization's quality overview: the products it holds (MAH) or makes or tests under an agreement, each with
 * its risk class, shortage listing, QPs, last quarterly review and CAPAs; and its quality agreements' communication
 * state. For regulators and the organization itself.
 */
async function organizationQualityOf(db: Kysely<Database>, organization: number, now: number) {
  const agreements = await db
    .selectFrom("agreements")
    .select(["id", "kind", "mah_id", "counterparty_id", "product_id"])
    .where((eb) => eb.or([eb("mah_id", "=", organization), eb("counterparty_id", "=", organization)]))
    .execute();
  const everyProductOf = agreements.filter((a) => a.product_id === `0x${"0".repeat(64)}`).map((a) => a.mah_id);
  const products = await db
    .selectFrom("products")
    .select(["id", "name", "mah_id"])
    .where((eb) => eb.or([eb("mah_id", "in", [organization, ...everyProductOf]), eb("id", "in", agreements.map((a) => a.product_id).concat([""]))]))
    .orderBy("name")
    .execute();
  const ids = products.map((p) => p.id).concat([""]);
  const [classes, listings, persons, reviews, capas] = await Promise.all([
    db.selectFrom("product_risk_classes").select(["product_id", "risk_class"]).where("product_id", "in", ids).execute(),
    db.selectFrom("shortage_listings").select(["product_id", "listed"]).where("product_id", "in", ids).execute(),
    db
      .selectFrom("responsible_persons")
      .select(["product_id", "name"])
      .where("product_id", "in", ids)
      .where("role", "=", "QUALIFIED_PERSON")
      .where("revoked", "=", 0)
      .execute(),
    db.selectFrom("quality_reviews").selectAll().where("product_id", "in", ids).orderBy("year", "desc").orderBy("quarter", "desc").execute(),
    db
      .selectFrom("capas")
      .innerJoin("batches", "batches.id", "capas.batch_id")
      .select(["batches.product_id", "capas.due_at"])
      .where("batches.product_id", "in", ids)
      .where("capas.status", "=", "OPEN")
      .execute(),
  ]);
  const quality = agreements.filter((a) => a.kind === "QUALITY");
  const qualityIds = quality.map((a) => a.id).concat([""]);
  const [terms, notices] = await Promise.all([
    db.selectFrom("communication_terms").select(["agreement_id", "countersigned_by"]).where("agreement_id", "in", qualityIds).execute(),
    db
      .selectFrom("quality_notices")
      .select(["agreement_id", "due_at"])
      .where("agreement_id", "in", qualityIds)
      .where("acknowledged_at", "is", null)
      .execute(),
  ]);
  return {
    organizationId: organization,
    products: products.map((p) => {
      const review = reviews.find((r) => r.product_id === p.id);
      const open = capas.filter((c) => c.product_id === p.id);
      return {
        productId: p.id,
        productName: p.name,
        mahId: p.mah_id,
        riskClass: classes.find((c) => c.product_id === p.id)?.risk_class ?? null,
        shortageListed: listings.find((l) => l.product_id === p.id)?.listed === 1,
        qualifiedPersons: persons.filter((q) => q.product_id === p.id).map((q) => q.name),
        lastReview: review ? { year: review.year, quarter: review.quarter, riskLevel: review.risk_level } : null,
        openCapas: open.length,
        overdueCapas: open.filter((c) => c.due_at <= now).length,
      };
    }),
    agreements: quality.map((a) => {
      const open = notices.filter((n) => n.agreement_id === a.id);
      return {
        agreementId: a.id,
        mahId: a.mah_id,
        counterpartyId: a.counterparty_id,
        countersigned: terms.find((t) => t.agreement_id === a.id)?.countersigned_by != null,
        openNotices: open.length,
        overdueNotices: open.filter((n) => n.due_at <= now).length,
      };
    }),
  };
}

export const qualityDutyRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/organizations/:organizationId/quality",
    summary:
      "An organization's quality overview: its products (held, made or tested under an agreement) with risk class, shortage listing, QPs, last quarterly review and open/overdue CAPAs, and its quality agreements' communication state",
    tags: ["quality"],
    access: "organization",
    params: z.object({ organizationId }),
    response: organizationQuality,
    errors: { 403: "the caller is neither a regulator nor the organization", 404: "no such organization" },
    async handle({ params, caller, services }) {
      checkOwnOrRegulator(caller, params.organizationId);
      const { db } = services.store;
      const known = await db.selectFrom("organizations").select("id").where("id", "=", params.organizationId).executeTakeFirst();
      if (!known) throw notFound("UNKNOWN_ORGANIZATION", `no organization ${params.organizationId} is in the consortium`);
      return organizationQualityOf(db, params.organizationId, services.now());
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/agreements/:agreementId/communications",
    summary: "A quality agreement's communication log: its agreed channels and response time, and every notice with its acknowledgement",
    tags: ["quality"],
    access: "organization",
    params: z.object({ agreementId: bytes32 }),
    response: z.object({
      agreementId: z.string(),
      terms: z
        .object({
          channels: z.array(z.string()),
          responseSeconds: z.number().int(),
          termsHash: z.string(),
          recordedBy: z.number().int(),
          recordedAt: z.number().int(),
          countersignedBy: z.number().int().nullable().meta({ description: "the CMO, once it countersigned; notices wait for it" }),
          countersignedAt: z.number().int().nullable(),
        })
        .nullable(),
      notices: z.array(qualityNotice),
    }),
    errors: { 403: "the caller is neither a regulator nor a party to the agreement", 404: "no such quality agreement" },
    async handle({ params, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in as an organization to read a communication log");
      const { db } = services.store;
      const agreement = await db.selectFrom("agreements").selectAll().where("id", "=", params.agreementId).executeTakeFirst();
      if (!agreement || agreement.kind !== "QUALITY")
        throw notFound("UNKNOWN_AGREEMENT", `no quality agreement ${params.agreementId} is on the ledger`);
      if (caller.role !== "REGULATOR" && caller.organizationId !== agreement.mah_id && caller.organizationId !== agreement.counterparty_id) {
        throw notAllowed("NOT_AGREEMENT_PARTY", `organization ${caller.organizationId} is not a party to quality agreement ${agreement.id}`);
      }
      const [terms, notices] = await Promise.all([
        db.selectFrom("communication_terms").selectAll().where("agreement_id", "=", agreement.id).executeTakeFirst(),
        db.selectFrom("quality_notices").selectAll().where("agreement_id", "=", agreement.id).orderBy("sent_at").orderBy("id").execute(),
      ]);
      const now = services.now();
      return {
        agreementId: agreement.id,
        terms: terms
          ? {
              channels: NOTICE_CHANNELS.names.filter((_, bit) => bit > 0 && (terms.channels & (1 << bit)) !== 0),
              responseSeconds: terms.response_seconds,
              termsHash: terms.terms_hash,
              recordedBy: terms.recorded_by,
              recordedAt: terms.recorded_at,
              countersignedBy: terms.countersigned_by,
              countersignedAt: terms.countersigned_at,
            }
          : null,
        notices: notices.map((n) => ({
          id: n.id,
          senderId: n.sender_id,
          recipientId: n.recipient_id,
          kind: n.kind,
          channel: NOTICE_CHANNELS.nameOf(n.channel),
          noticeHash: n.notice_hash,
          sentAt: n.sent_at,
          dueAt: n.due_at,
          acknowledgedAt: n.acknowledged_at,
          responseHash: n.response_hash,
          overdue: n.acknowledged_at === null && n.due_at <= now,
        })),
      };
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/products/:productId/quality",
    summary: "A product's quality duties: risk class, named responsible persons (the QP who signs release) and quarterly quality reviews",
    tags: ["quality"],
    access: "organization",
    params: z.object({ productId: bytes32 }),
    response: productQuality,
    errors: { 403: "the caller is not a regulator, the product's MAH, nor under an agreement for it", 404: "no such product" },
    async handle({ params, caller, services }) {
      const { db } = services.store;
      const product = await db.selectFrom("products").selectAll().where("id", "=", params.productId).executeTakeFirst();
      if (!product) throw notFound("UNKNOWN_PRODUCT", `no product ${params.productId} is on the ledger`);
      await checkProductAccess(db, caller, product);
      const [riskClass, persons, reviews, listing, stops, capas] = await Promise.all([
        riskClassOf(db, product.id),
        db.selectFrom("responsible_persons").selectAll().where("product_id", "=", product.id).orderBy("appointed_at").execute(),
        db
          .selectFrom("quality_reviews")
          .selectAll()
          .where("product_id", "=", product.id)
          .orderBy("year", "desc")
          .orderBy("quarter", "desc")
          .execute(),
        db.selectFrom("shortage_listings").select("listed").where("product_id", "=", product.id).executeTakeFirst(),
        db.selectFrom("stop_production_reports").selectAll().where("product_id", "=", product.id).orderBy("reported_at").execute(),
        db
          .selectFrom("capas")
          .innerJoin("batches", "batches.id", "capas.batch_id")
          .select(["capas.batch_id", "batches.batch_number", "capas.capa_hash", "capas.owner_id", "capas.due_at", "capas.status"])
          .where("batches.product_id", "=", product.id)
          .orderBy("capas.due_at")
          .execute(),
      ]);
      const now = services.now();
      return {
        productId: product.id,
        productName: product.name,
        mahId: product.mah_id,
        riskClass,
        sterileRecordsRequired: riskClass !== null && STERILE_RISK_CLASSES.includes(riskClass),
        responsiblePersons: persons.map(toPerson),
        qualityReviews: reviews.map((r) => ({
          year: r.year,
          quarter: r.quarter,
          riskLevel: r.risk_level,
          reviewHash: r.review_hash,
          filedAt: r.filed_at,
        })),
        shortageListed: listing?.listed === 1,
        stopProductionReports: stops.map((r) => ({ stopAt: r.stop_at, reportHash: r.report_hash, reportedAt: r.reported_at })),
        capas: capas.map((c) => ({
          batchId: c.batch_id,
          batchNumber: c.batch_number,
          capaHash: c.capa_hash,
          ownerId: c.owner_id,
          dueAt: c.due_at,
          status: c.status,
          overdue: c.status === "OPEN" && c.due_at <= now,
        })),
      };
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/batches/:batchId/quality",
    summary: "A batch's quality records: sterile records, its contract laboratory's certificate, and who signed its market release",
    tags: ["quality"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    response: batchQuality,
    errors: { 403: "the caller has no part in the batch", 404: "no such batch" },
    async handle({ params, caller, services }) {
      const batch = await readableBatch(services, caller, params.batchId);
      return batchQualityOf(services, batch);
    },
  }),
];

async function batchQualityOf(services: ApiServices, batch: { id: string; product_id: string }) {
  const { db } = services.store;
  const [riskClass, records, release, samples] = await Promise.all([
    riskClassOf(db, batch.product_id),
    db.selectFrom("batch_quality_records").selectAll().where("batch_id", "=", batch.id).executeTakeFirst(),
    db
      .selectFrom("ledger_events")
      .select(["signer", "payload"])
      .where("batch_id", "=", batch.id)
      .where("name", "=", "BatchMarketReleased")
      .orderBy("block_number", "desc")
      .executeTakeFirst(),
    db.selectFrom("retained_samples").selectAll().where("batch_id", "=", batch.id).executeTakeFirst(),
  ]);
  const signer = release?.signer ?? null;
  const releasedBy = signer
    ? await db
        .selectFrom("responsible_persons")
        .selectAll()
        .where("product_id", "=", batch.product_id)
        .where("person_key", "=", signer)
        .executeTakeFirst()
    : undefined;
  const laboratory = records?.laboratory_id ? (await organizationsById(db, [records.laboratory_id])).get(records.laboratory_id) : undefined;
  return {
    batchId: batch.id,
    riskClass,
    sterileRecords:
      records?.sterile_records_at != null
        ? {
            environmentalMonitoringHash: records.environmental_monitoring_hash!,
            cleaningRecordHash: records.cleaning_record_hash!,
            referencedAt: records.sterile_records_at,
          }
        : null,
    testCertificate:
      records?.certified_at != null
        ? {
            laboratory: { id: records.laboratory_id!, name: laboratory?.name ?? `organization ${records.laboratory_id}` },
            testingAgreementId: records.testing_agreement_id!,
            certificateHash: records.certificate_hash!,
            passed: records.certificate_passed === 1,
            issuedAt: records.certified_at,
          }
        : null,
    marketReleasedBy:
      release && signer ? { key: signer, ...releaseSignerOf(release.payload), person: releasedBy ? toPerson(releasedBy) : null } : null,
    retainedSamples: samples
      ? {
          quantity: samples.quantity,
          location: samples.location,
          retainUntil: samples.retain_until,
          recordedAt: samples.recorded_at,
          approvedBy: samples.approved_by,
          approvedAt: samples.approved_at,
        }
      : null,
  };
}

/** Who the market release attestation says signed it (its payload, as the indexer stored the event's arguments). */
export function releaseSignerOf(payload: string): { signerName: string; signerRole: string } {
  const args = JSON.parse(payload) as { signerName?: string; signerRole?: string };
  return { signerName: args.signerName ?? "", signerRole: PERSON_ROLES.nameOf(Number(args.signerRole ?? PersonRole.Organization)) };
}
