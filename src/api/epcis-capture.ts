import { randomUUID } from "node:crypto";
import { z } from "zod";
import { attestationTypes, createNonceSequence, domainOf, typedDataDomain } from "../ledger";
import { badInput, LedgerError, notAllowed, notFound, refused, unauthenticated } from "../ledger/errors";
import { captureNames, planCapture } from "../epcis/capture";
import type { CaptureLedger, PlannedAttestation, RejectedEvent } from "../epcis/capture";
import type { ApiServices, Caller } from "./context";
import { defineRoute } from "./routes";

/**
 * GS1 EPCIS 2.0 capture (`POST /epcis/capture`): a signed-in organization posts a document from its own systems;
 * each event becomes the attestation the ledger models, prepared for the organization's own signer (unsigned,
 * with a fresh nonce, its EIP-712 domain and types). A document is taken whole or not at all: one event the ledger
 * cannot take rejects them all, each with its index and reason. Every capture is a job whose status its
 * organization reads at `GET /epcis/capture/{captureID}`.
 */

export const CAPTURE_PATH = "/epcis/capture";

function ledgerOf(services: ApiServices): CaptureLedger {
  const { db } = services.store;
  return {
    async batchOf(productCode, lot) {
      const row = await db
        .selectFrom("batches")
        .innerJoin("products", "products.id", "batches.product_id")
        .select(["batches.id", "batches.cmo_id", "batches.mah_id"])
        .where("products.product_code", "=", productCode)
        .where("batches.batch_number", "=", lot)
        .executeTakeFirst();
      return row && { id: row.id, cmoId: row.cmo_id, mahId: row.mah_id };
    },
    async shipment(id) {
      const row = await db
        .selectFrom("shipments")
        .select(["batch_id", "shipper_id", "recipient_id", "quantity"])
        .where("id", "=", id)
        .executeTakeFirst();
      return row && { batchId: row.batch_id, shipperId: row.shipper_id, recipientId: row.recipient_id, quantity: Number(row.quantity) };
    },
  };
}

const jsonSafe = (value: unknown): unknown => (typeof value === "bigint" ? value.toString() : Array.isArray(value) ? value.map(jsonSafe) : value);

/** An attestation as the organization's signer takes it: what to sign, where, and under which EIP-712 types. */
function toSign(services: ApiServices, nextNonce: () => bigint, planned: PlannedAttestation) {
  const deployment = services.deployment;
  if (!deployment) throw new LedgerError("internal", "NO_DEPLOYMENT", "this API serves no deployment to sign for");
  const domain = typedDataDomain(domainOf(deployment, planned.contract));
  const message = Object.fromEntries(Object.entries({ ...planned.message, nonce: nextNonce() }).map(([k, v]) => [k, jsonSafe(v)]));
  return {
    eventIndex: planned.eventIndex,
    contract: planned.contract,
    type: planned.type,
    message,
    domain: { ...domain, chainId: Number(domain.chainId) },
    types: { [planned.type]: (attestationTypes[planned.contract] as Record<string, unknown>)[planned.type] },
  };
}

const rejectedEvent = z.object({
  eventIndex: z.number().int().meta({ description: "the event's index in epcisBody.eventList; -1 for the document" }),
  reason: z.string(),
});
const preparedAttestation = z.object({
  eventIndex: z.number().int(),
  contract: z.string(),
  type: z.string(),
  message: z.record(z.string(), z.unknown()).meta({ description: "the attestation's fields, numbers as decimal strings, nonce included" }),
  domain: z.object({ name: z.string(), version: z.string(), chainId: z.number().int(), verifyingContract: z.string() }),
  types: z.record(z.string(), z.unknown()).meta({ description: "EIP-712 types: sign with eth_signTypedData_v4, then POST to /v1/attestations" }),
});
const captureJob = z.object({
  captureID: z.string(),
  status: z.enum(["ACCEPTED", "REJECTED"]),
  events: z.number().int(),
  errors: z.array(rejectedEvent),
  attestations: z.array(preparedAttestation),
  readings: z.number().int().meta({ description: "temperature readings recorded for shipments (sensorElementList), for the cold-chain alert" }),
  createdAt: z.number().int(),
});
type CaptureJob = z.input<typeof captureJob>;

async function capture(services: ApiServices, caller: Caller, document: unknown): Promise<CaptureJob> {
  const publicUrl = services.config.publicUrl ?? "";
  const plan = await planCapture(document, { organizationId: caller.organizationId, names: captureNames(publicUrl), ledger: ledgerOf(services) });
  const nextNonce = createNonceSequence();
  const events = Array.isArray((document as { epcisBody?: { eventList?: unknown } })?.epcisBody?.eventList)
    ? (document as { epcisBody: { eventList: unknown[] } }).epcisBody.eventList.length
    : 0;
  const job: CaptureJob = {
    captureID: randomUUID(),
    status: plan.rejected.length > 0 ? "REJECTED" : "ACCEPTED",
    events,
    errors: plan.rejected,
    attestations: plan.attestations.map((planned) => toSign(services, nextNonce, planned)),
    readings: plan.readings.length,
    createdAt: services.now(),
  };
  // The job and its readings together: a rejected document records nothing but its verdict.
  await services.store.db.transaction().execute(async (trx) => {
    await trx
      .insertInto("epcis_captures")
      .values({
        id: job.captureID,
        organization_id: caller.organizationId,
        status: job.status,
        event_count: events,
        errors: JSON.stringify(job.errors),
        attestations: JSON.stringify(job.attestations),
        created_at: job.createdAt,
      })
      .execute();
    for (const reading of plan.readings) {
      await trx
        .insertInto("shipment_sensor_readings")
        .values({
          id: randomUUID(),
          shipment_id: reading.shipmentId,
          capture_id: job.captureID,
          organization_id: caller.organizationId,
          device_id: reading.deviceId,
          observed_at: reading.observedAt,
          millicelsius: reading.millicelsius,
          evaluated: 0,
        })
        .execute();
    }
  });
  return job;
}

function rejection(job: CaptureJob): LedgerError {
  const reasons = job.errors
    .map((e: z.input<typeof rejectedEvent>) => (e.eventIndex < 0 ? e.reason : `event ${e.eventIndex}: ${e.reason}`))
    .join("; ");
  const first = job.errors[0]!;
  const field = first.eventIndex < 0 ? "epcisBody" : `epcisBody.eventList.${first.eventIndex}`;
  const schema = job.errors.some((e: RejectedEvent) => e.reason.startsWith("/"));
  const message = `capture ${job.captureID} rejected, nothing applied: ${reasons}`;
  return schema ? badInput("EPCIS_SCHEMA_INVALID", message, field) : refused("EPCIS_EVENTS_REJECTED", message, field);
}

export const epcisCaptureRoutes = [
  defineRoute({
    method: "post",
    path: CAPTURE_PATH,
    summary:
      "Capture an EPCIS 2.0 document (JSON or JSON-LD) from the organization's own systems: validated against GS1's official EPCIS " +
      "2.0 JSON schema, then each event becomes the attestation the ledger models, prepared unsigned for the organization's signer. " +
      "Whole or nothing: one event the ledger cannot take rejects the document, each reason with its event's index",
    tags: ["epcis"],
    access: "organization",
    body: z.record(z.string(), z.unknown()).meta({ description: "an EPCISDocument" }),
    response: captureJob,
    status: 202,
    errors: { 400: "not a valid EPCIS 2.0 document (EPCIS_SCHEMA_INVALID)", 422: "an event the ledger cannot take (EPCIS_EVENTS_REJECTED)" },
    async handle({ body, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to capture EPCIS events");
      const job = await capture(services, caller, body);
      if (job.status === "REJECTED") throw rejection(job);
      return job;
    },
  }),
  defineRoute({
    method: "get",
    path: `${CAPTURE_PATH}/:captureID`,
    summary: "A capture job: accepted with the attestations to sign, or rejected with each event's reason (its organization only)",
    tags: ["epcis"],
    access: "organization",
    params: z.object({ captureID: z.uuid() }),
    response: captureJob,
    errors: { 403: "another organization's capture", 404: "no such capture" },
    async handle({ params, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to read a capture");
      const row = await services.store.db.selectFrom("epcis_captures").selectAll().where("id", "=", params.captureID).executeTakeFirst();
      if (!row) throw notFound("UNKNOWN_CAPTURE", `no capture ${params.captureID}`);
      if (row.organization_id !== caller.organizationId) throw notAllowed("NOT_YOUR_CAPTURE", `capture ${row.id} is another organization's`);
      return {
        captureID: row.id,
        status: row.status,
        events: row.event_count,
        errors: JSON.parse(row.errors) as RejectedEvent[],
        attestations: JSON.parse(row.attestations),
        readings: Number(
          (
            await services.store.db
              .selectFrom("shipment_sensor_readings")
              .select((eb) => eb.fn.countAll().as("n"))
              .where("capture_id", "=", row.id)
              .executeTakeFirstOrThrow()
          ).n,
        ),
        createdAt: Number(row.created_at),
      };
    },
  }),
];
