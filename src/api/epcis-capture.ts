import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { TypedDataField, Wallet } from "ethers";
import { attestationTypes, createNonceSequence, domainOf, relayBody, typedDataDomain } from "../ledger";
import type { RelayedTransaction, SignedAttestation } from "../ledger";
import { badInput, LedgerError, notAllowed, notFound, refused, unauthenticated } from "../ledger/errors";
import { captureNames, planCapture } from "../epcis/capture";
import type { CaptureLedger, PlannedAttestation, RejectedEvent } from "../epcis/capture";
import type { ApiServices, Caller } from "./context";
import { caseReads } from "../store/case-reads";
import { registeredAggregates, treeOf } from "./cases";
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
    async batchOfUnit(key) {
      const pack = await db.selectFrom("batch_codes").select("batch_id").where("canonical_key", "=", key).executeTakeFirst();
      return pack?.batch_id ?? (await caseReads(db).batchOfContainer(key));
    },
    async batch(id) {
      const row = await db.selectFrom("batches").select(["id", "cmo_id", "mah_id"]).where("id", "=", id).executeTakeFirst();
      return row && { id: row.id, cmoId: row.cmo_id, mahId: row.mah_id };
    },
    packProof: (batchId, keys) => services.codes.multiProof(batchId, keys),
    async unpackProof(batchId, container, units) {
      if ((await registeredAggregates(services, batchId)).length === 0) return undefined;
      return (await treeOf(services, batchId)).multiProof(container, units);
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
    ...(planned.proof ?? {}),
    domain: { ...domain, chainId: Number(domain.chainId) },
    types: { [planned.type]: (attestationTypes[planned.contract] as Record<string, unknown>)[planned.type] },
  };
}
type Prepared = ReturnType<typeof toSign>;

/**
 * Custody: signs every prepared attestation with the organization's custody key and relays them as one transaction
 * (the relay bundle when they span contracts), so the document is applied whole or not at all. A refusal names
 * the event whose attestation the ledger refused; nothing was sent.
 */
async function signAndSend(
  services: ApiServices,
  signer: Wallet,
  prepared: Prepared[],
): Promise<{ sent?: RelayedTransaction[]; rejected?: RejectedEvent[] }> {
  if (!services.relay)
    throw new LedgerError(
      "retry_later",
      "RELAY_NOT_CONFIGURED",
      "this server relays no attestations, so it cannot send a custody capture; capture without custody and sign yourself",
    );
  const attestations = [];
  for (const p of prepared) {
    const signature = await signer.signTypedData(p.domain, p.types as Record<string, TypedDataField[]>, p.message);
    const { eventIndex: _e, domain: _d, types: _t, ...attestation } = p;
    attestations.push({ ...attestation, signature });
  }
  try {
    const { attestations: parsed } = relayBody.parse({ attestations });
    const result = await services.relay.relay(parsed as SignedAttestation[]);
    return { sent: result.transactions };
  } catch (error) {
    if (!(error instanceof LedgerError) || !REFUSALS.includes(error.kind)) throw error;
    const index = Number(/^attestations\.(\d+)/.exec(error.field ?? "")?.[1] ?? /^attestation (\d+)/.exec(error.message)?.[1] ?? -1);
    const eventIndex = prepared[index]?.eventIndex ?? -1;
    return { rejected: [{ eventIndex, reason: `${error.code}: ${error.message.replace(/^attestation \d+ /, "its attestation ")}` }] };
  }
}
const REFUSALS: readonly string[] = ["bad_input", "not_allowed", "conflict", "refused"];

const rejectedEvent = z.object({
  eventIndex: z.number().int().meta({ description: "the event's index in epcisBody.eventList; -1 for the document" }),
  reason: z.string(),
});
const preparedAttestation = z.object({
  eventIndex: z.number().int(),
  contract: z.string(),
  type: z.string(),
  message: z.record(z.string(), z.unknown()).meta({ description: "the attestation's fields, numbers as decimal strings, nonce included" }),
  proof: z
    .array(z.string())
    .optional()
    .meta({ description: "dispensing and unpacking: the multiproof the call carries (send it with the signature)" }),
  proofFlags: z.array(z.boolean()).optional(),
  domain: z.object({ name: z.string(), version: z.string(), chainId: z.number().int(), verifyingContract: z.string() }),
  types: z.record(z.string(), z.unknown()).meta({ description: "EIP-712 types: sign with eth_signTypedData_v4, then POST to /v1/attestations" }),
});
const captureJob = z.object({
  captureID: z.string(),
  status: z.enum(["ACCEPTED", "SUBMITTED", "REJECTED"]).meta({
    description:
      "ACCEPTED: the attestations await the organization's signer; SUBMITTED: signed with its custody key and sent; REJECTED: nothing applied",
  }),
  events: z.number().int(),
  errors: z.array(rejectedEvent),
  attestations: z.array(preparedAttestation),
  transactions: z
    .array(z.object({ hash: z.string(), contract: z.string(), attestations: z.array(z.number().int()) }))
    .meta({ description: "with custody: the one transaction that carries every attestation of the document" }),
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
    transactions: [],
    readings: plan.readings.length,
    createdAt: services.now(),
  };
  const signer = job.status === "ACCEPTED" && job.attestations.length > 0 ? await services.custody?.signerOf(caller.organizationId) : undefined;
  if (signer) {
    const { sent, rejected } = await signAndSend(services, signer, job.attestations as Prepared[]);
    if (rejected) Object.assign(job, { status: "REJECTED", errors: rejected, attestations: [] });
    else
      Object.assign(job, { status: "SUBMITTED", transactions: sent!.map(({ hash, contract, attestations }) => ({ hash, contract, attestations })) });
  }
  const readings = job.status === "REJECTED" ? [] : plan.readings;
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
        transactions: JSON.stringify(job.transactions),
        created_at: job.createdAt,
      })
      .execute();
    for (const reading of readings) {
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

const custodyView = z.object({
  organizationId: z.number().int(),
  address: z.string().meta({ description: "the custody key's address: register it as a signing key (SigningKeyAddition) before capturing" }),
  createdAt: z.number().int(),
  registered: z.boolean().meta({ description: "whether the ledger lists it as an unrevoked signing key of the organization" }),
});

function custodyOf(services: ApiServices, caller: Caller | undefined) {
  if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to manage the organization's custody key");
  if (!services.custody) throw new LedgerError("internal", "CUSTODY_NOT_CONFIGURED", "this server keeps no custody keys");
  return services.custody;
}

async function custodyAnswer(services: ApiServices, organizationId: number, key: { address: string; createdAt: number }) {
  const row = await services.store.db.selectFrom("signing_keys").selectAll().where("address", "=", key.address).executeTakeFirst();
  return { organizationId, ...key, registered: row?.organization_id === organizationId && !row.revoked };
}

/**
 * Custody is an explicit choice of the organization: `PUT /epcis/custody` makes a key the server keeps for it (sealed
 * at rest) and answers its address, which the organization registers on the ledger with a key it holds; from then
 * on its captures are signed and sent by the server. `DELETE` erases the key (revoke it on the ledger too).
 */
const custodyRoutes = [
  defineRoute({
    method: "put",
    path: "/epcis/custody",
    summary:
      "Choose custody: the server makes and keeps (sealed at rest) a signing key for the organization, so EPCIS capture signs and sends its " +
      "attestations itself once the key is registered on the ledger. Idempotent: an existing key is kept",
    tags: ["epcis"],
    access: "organization",
    body: z.strictObject({
      keepSigningKey: z.literal(true).meta({ description: "the organization's explicit consent that the server keeps a signing key for it" }),
    }),
    response: custodyView,
    async handle({ caller, services }) {
      const custody = custodyOf(services, caller);
      return custodyAnswer(services, caller!.organizationId, await custody.enrol(caller!.organizationId, services.now()));
    },
  }),
  defineRoute({
    method: "get",
    path: "/epcis/custody",
    summary: "The organization's custody key, if it chose custody, and whether the ledger lists it as one of its signing keys",
    tags: ["epcis"],
    access: "organization",
    response: custodyView,
    errors: { 404: "the organization has not chosen custody (NO_CUSTODY_KEY)" },
    async handle({ caller, services }) {
      const key = await custodyOf(services, caller).describe(caller!.organizationId);
      if (!key)
        throw notFound("NO_CUSTODY_KEY", `organization ${caller!.organizationId} has not chosen custody: captures answer unsigned attestations`);
      return custodyAnswer(services, caller!.organizationId, key);
    },
  }),
  defineRoute({
    method: "delete",
    path: "/epcis/custody",
    summary: "Withdraw from custody: the server erases the organization's custody key (revoke it on the ledger too); captures then answer unsigned",
    tags: ["epcis"],
    access: "organization",
    response: z.object({ organizationId: z.number().int(), erased: z.boolean() }),
    errors: { 404: "the organization has not chosen custody (NO_CUSTODY_KEY)" },
    async handle({ caller, services }) {
      const erased = await custodyOf(services, caller).withdraw(caller!.organizationId);
      if (!erased) throw notFound("NO_CUSTODY_KEY", `organization ${caller!.organizationId} has not chosen custody`);
      return { organizationId: caller!.organizationId, erased };
    },
  }),
];

export const epcisCaptureRoutes = [
  ...custodyRoutes,
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
        transactions: JSON.parse(row.transactions),
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
