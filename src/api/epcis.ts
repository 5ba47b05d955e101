import { payloadOf } from "../store";
import type { RequestHandler } from "express";
import { z } from "zod";
import { isNmpaProductCode } from "../codes";
import type { LedgerContract } from "../ledger";
import { DEVIATION_KINDS, RECALL_LEVELS } from "../ledger";
import { attestationOf } from "../indexer/decode";
import type { LedgerEvent } from "../indexer/decode";
import type { LedgerEventTable } from "../store";
import { readableBatch } from "./batches";
import { CHINA_OFFSET, chinaTime } from "../ledger/china-time";
import { expiryDate } from "../ledger/expiry";
import { notAllowed } from "../ledger/errors";
import type { BatchRow } from "../store/queries";
import { defineRoute } from "./routes";
import { bytes32 } from "./schemas";

/**
 * A batch's ledger history as a GS1 EPCIS 2.0 JSON-LD document, for partners' EPCIS repositories.
 *
 * Identifiers (the ledger records no GLNs and no GS1 company-prefix lengths, so it uses what it knows):
 * - the batch (lot) of a GTIN product: its GS1 Digital Link class-level URI, https://id.gs1.org/01/{GTIN}/10/{lot},
 *   the LGTIN in the web-URI form EPCIS 2.0 accepts (the urn:epc:class:lgtin form needs the company prefix's length);
 * - the batch of a product with a 7-digit NMPA drug code: urn:trace:class:nmpa:{code}:{lot};
 * - an organization (a party in sourceList/destinationList): urn:trace:org:{consortium id};
 * - an organization's premises (readPoint, bizLocation): urn:trace:site:{consortium id};
 * - a shipment (bizTransaction of type desadv): urn:trace:shipment:{shipment id};
 * - an event (eventID): urn:trace:event:{transaction hash}:{log index}.
 * Ledger facts without an EPCIS field travel as extensions in the namespace urn:trace:epcis: (prefix `trace`).
 */

export const EPCIS_PATH = "/v1/batches/:batchId/epcis";
export const EPCIS_MEDIA_TYPE = "application/ld+json";
export const EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
export const TRACE_NAMESPACE = "urn:trace:epcis:";

const orgUrn = (id: unknown) => `urn:trace:org:${Number(id)}`;
const siteOf = (id: unknown) => ({ id: `urn:trace:site:${Number(id)}` });
const shipmentUrn = (id: unknown) => `urn:trace:shipment:${String(id)}`;

/** Percent-encodes all but RFC 3986 unreserved characters, as GS1 Digital Link requires for a lot. */
const encodeSegment = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The class-level identifier of a batch: its product and lot. */
export function lotClass(productCode: string, batchNumber: string): string {
  if (isNmpaProductCode(productCode)) return `urn:trace:class:nmpa:${productCode}:${encodeSegment(batchNumber)}`;
  return `https://id.gs1.org/01/${productCode}/10/${encodeSegment(batchNumber)}`;
}

type Args = Record<string, unknown>;
/** What a mapping decides: the EPCIS fields of one kind of ledger event, and its extensions. */
type EpcisEvent = Pick<z.input<typeof epcisEvent>, "action" | "quantityList"> & Record<string, unknown>;

/**
 * How each ledger event reads in EPCIS (CBV 2.0 business steps and dispositions). Every event is an ObjectEvent
 * about the batch's class; agreement events concern no object and are left out.
 */
const MAPPINGS: Record<string, (args: Args, lot: string) => EpcisEvent> = {
  BatchRecorded: (a, lot) => ({
    action: "ADD",
    bizStep: "commissioning",
    disposition: "active",
    quantityList: [{ epcClass: lot, quantity: Number(a.quantity) }],
    readPoint: siteOf(a.cmoId),
    bizLocation: siteOf(a.cmoId),
    ilmd: { "cbvmda:lotNumber": String(a.batchNumber), "cbvmda:itemExpirationDate": expiryDate(Number(a.expiresAt)) },
    "trace:manufacturedAt": chinaTime(Number(a.manufacturedAt)),
    "trace:mah": orgUrn(a.mahId),
    "trace:agreementId": a.agreementId,
    "trace:codesRoot": a.codesRoot,
    "trace:batchRecordHash": a.batchRecordHash,
  }),
  // A deviation opened on a market-released batch holds the whole lot: it may not be sold until the MAH decides.
  DeviationOpened: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    ...(a.placesOnHold === true ? { disposition: "non_sellable_other", "trace:hold": "placed" } : {}),
    quantityList: [{ epcClass: lot }],
    "trace:deviationKind": DEVIATION_KINDS.names[Number(a.kind)] ?? String(a.kind),
    "trace:deviationStatus": "open",
    "trace:reportHash": a.reportHash,
  }),
  DeviationClosed: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    quantityList: [{ epcClass: lot }],
    "trace:deviationStatus": "closed",
    "trace:reportHash": a.reportHash,
    "trace:closureHash": a.closureHash,
  }),
  // The CMO's QA finds the batch conforms; it may not be sold until the MAH's QA releases it to the market.
  BatchFactoryReleased: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    disposition: "conformant",
    quantityList: [{ epcClass: lot }],
    readPoint: siteOf(a.cmoId),
    "trace:release": "factory",
    "trace:certificateHash": a.certificateHash,
  }),
  BatchMarketReleased: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    disposition: "sellable_not_accessible",
    quantityList: [{ epcClass: lot }],
    "trace:release": "market",
    "trace:decisionHash": a.decisionHash,
  }),
  BatchShipped: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "shipping",
    disposition: "in_transit",
    quantityList: [{ epcClass: lot, quantity: Number(a.quantity) }],
    readPoint: siteOf(a.shipperId),
    ...parties(a),
    "trace:shipmentId": a.shipmentId,
  }),
  ShipmentReceived: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "receiving",
    disposition: "in_progress",
    quantityList: [{ epcClass: lot, quantity: Number(a.receivedQuantity) }],
    readPoint: siteOf(a.recipientId),
    bizLocation: siteOf(a.recipientId),
    ...parties(a),
    "trace:shipmentId": a.shipmentId,
    "trace:shippedQuantity": Number(a.shippedQuantity),
    "trace:receivedQuantity": Number(a.receivedQuantity),
  }),
  PacksDispensed: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "dispensing",
    disposition: "dispensed",
    quantityList: [{ epcClass: lot, quantity: (a.packs as unknown[]).length }],
    readPoint: siteOf(a.dispenserId),
    bizLocation: siteOf(a.dispenserId),
    "trace:packs": a.packs,
  }),
  StockDestroyed: (a, lot) => ({
    action: "DELETE",
    bizStep: "destroying",
    disposition: "destroyed",
    quantityList: [{ epcClass: lot, quantity: Number(a.quantity) }],
    readPoint: siteOf(a.holderId),
    bizLocation: siteOf(a.holderId),
    "trace:reasonHash": a.reasonHash,
  }),
  // A hold stops the whole lot short of a recall; its release makes it sellable again.
  BatchPlacedOnHold: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "holding",
    disposition: "non_sellable_other",
    quantityList: [{ epcClass: lot }],
    "trace:hold": "placed",
    "trace:reasonHash": a.reasonHash,
  }),
  BatchHoldReleased: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    disposition: "sellable_not_accessible",
    quantityList: [{ epcClass: lot }],
    "trace:hold": "released",
    "trace:reasonHash": a.reasonHash,
  }),
  // The whole lot is recalled: a quantity element without a quantity names the class, not a count.
  RecallStarted: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "holding",
    disposition: "recalled",
    quantityList: [{ epcClass: lot }],
    "trace:recallLevel": RECALL_LEVELS.names[Number(a.level)] ?? String(a.level),
    "trace:reasonHash": a.reasonHash,
  }),
  RecallAcknowledged: (a, lot) => ({
    action: "OBSERVE",
    bizStep: "holding",
    disposition: "recalled",
    quantityList: [{ epcClass: lot, quantity: Number(a.quarantinedQuantity) }],
    readPoint: siteOf(a.holderId),
    bizLocation: siteOf(a.holderId),
    "trace:quarantinedQuantity": Number(a.quarantinedQuantity),
  }),
  RecallClosed: (a, lot) => ({
    action: "OBSERVE",
    quantityList: [{ epcClass: lot }],
    "trace:recallStatus": "closed",
    "trace:reportHash": a.reportHash,
  }),
};

/** The ledger records custody; it does not tell ownership apart, so the holder is named as both. */
function parties(a: Args) {
  return {
    sourceList: [
      { type: "owning_party", source: orgUrn(a.shipperId) },
      { type: "possessing_party", source: orgUrn(a.shipperId) },
    ],
    destinationList: [
      { type: "owning_party", destination: orgUrn(a.recipientId) },
      { type: "possessing_party", destination: orgUrn(a.recipientId) },
    ],
    bizTransactionList: [{ type: "desadv", bizTransaction: shipmentUrn(a.shipmentId) }],
  };
}

/** The EPCIS document of a batch's ledger events (in chain order). */
export function toEpcisDocument(batch: Pick<BatchRow, "product_code" | "batch_number">, events: LedgerEventTable[], createdAt: number) {
  const lot = lotClass(batch.product_code, batch.batch_number);
  const eventList = events.flatMap((event) => {
    const mapping = MAPPINGS[event.name];
    if (!mapping) return [];
    const args = payloadOf(event) as Args;
    // The attesting organization, by the attestation's own actor field (a receipt names its shipper too).
    const attester = attestationOf({ name: event.name, contract: event.contract as LedgerContract, args } as LedgerEvent)?.organizationId;
    return [
      {
        type: "ObjectEvent" as const,
        eventID: `urn:trace:event:${event.tx_hash}:${event.log_index}`,
        eventTime: chinaTime(event.block_time),
        eventTimeZoneOffset: CHINA_OFFSET,
        ...mapping(args, lot),
        "trace:ledgerEvent": event.name,
        "trace:txHash": event.tx_hash,
        "trace:blockNumber": event.block_number,
        "trace:logIndex": event.log_index,
        "trace:organization": attester === undefined ? null : orgUrn(attester),
        "trace:signer": event.signer,
        "trace:verification": event.verification,
        ...(event.problem ? { "trace:problem": event.problem } : {}),
      },
    ];
  });
  return {
    "@context": [EPCIS_CONTEXT, { trace: TRACE_NAMESPACE, cbvmda: "urn:epcglobal:cbv:mda:" }] as [typeof EPCIS_CONTEXT, Record<string, string>],
    type: "EPCISDocument" as const,
    schemaVersion: "2.0" as const,
    creationDate: new Date(createdAt * 1000).toISOString(),
    epcisBody: { eventList },
  };
}

const identified = z.object({ id: z.string() });
const epcisEvent = z.looseObject({
  type: z.literal("ObjectEvent"),
  eventID: z.string(),
  eventTime: z.string().meta({ description: "block time, ISO 8601 in China Standard Time" }),
  eventTimeZoneOffset: z.string(),
  action: z.enum(["ADD", "OBSERVE", "DELETE"]),
  bizStep: z.string().optional().meta({ description: "CBV business step" }),
  disposition: z.string().optional().meta({ description: "CBV disposition" }),
  quantityList: z.array(z.object({ epcClass: z.string(), quantity: z.number().optional() })),
  readPoint: identified.optional(),
  bizLocation: identified.optional(),
  sourceList: z.array(z.object({ type: z.string(), source: z.string() })).optional(),
  destinationList: z.array(z.object({ type: z.string(), destination: z.string() })).optional(),
  bizTransactionList: z.array(z.object({ type: z.string(), bizTransaction: z.string() })).optional(),
  ilmd: z.record(z.string(), z.string()).optional(),
  "trace:ledgerEvent": z.string(),
  "trace:txHash": z.string(),
  "trace:signer": z.string().nullable(),
  "trace:verification": z.string(),
});

export const epcisDocument = z.object({
  "@context": z.tuple([z.literal(EPCIS_CONTEXT), z.record(z.string(), z.string())]),
  type: z.literal("EPCISDocument"),
  schemaVersion: z.literal("2.0"),
  creationDate: z.string(),
  epcisBody: z.object({ eventList: z.array(epcisEvent) }),
});

export const epcisRoutes = [
  defineRoute({
    method: "get",
    path: EPCIS_PATH,
    summary: `A batch's ledger history as a GS1 EPCIS 2.0 JSON-LD document (served as ${EPCIS_MEDIA_TYPE})`,
    tags: ["batches"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    response: epcisDocument,
    errors: { 403: "the caller is not a regulator, nor the batch's MAH or CMO", 404: "no such batch" },
    async handle({ params, caller, services }) {
      const batch = await readableBatch(services, caller, params.batchId);
      // The export is the batch's whole history, so it is read as its provenance is: by regulators, its MAH and CMO.
      if (caller!.role !== "REGULATOR" && caller!.organizationId !== batch.mah_id && caller!.organizationId !== batch.cmo_id) {
        throw notAllowed("PROVENANCE_RESTRICTED", "a batch's EPCIS history is for regulators and the batch's MAH and CMO; scan a pack for its custody path");
      }
      const events = await services.store.db
        .selectFrom("ledger_events")
        .selectAll()
        .where("batch_id", "=", batch.id)
        .orderBy("block_number")
        .orderBy("log_index")
        .execute();
      return toEpcisDocument(batch, events, services.now());
    },
  }),
];

/**
 * Serves a successful EPCIS answer as JSON-LD; errors keep application/json. (Route definitions answer with
 * res.json, which only sets a content type when none is set.) Mounted on EPCIS_PATH before the routes.
 */
export const epcisMediaType: RequestHandler = (_req, res, next) => {
  const json = res.json.bind(res);
  res.json = (body: unknown) => {
    if (res.statusCode < 300) res.type(EPCIS_MEDIA_TYPE);
    return json(body);
  };
  next();
};
