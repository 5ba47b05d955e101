import { payloadOf } from "../store";
import type { LedgerEventTable } from "../store";
import { isNmpaProductCode, parseCode } from "../codes";
import type { LedgerContract, PackStateName } from "../ledger";
import { DEVIATION_KINDS, PACK_STATES, PERSON_ROLES, RECALL_LEVELS, SUSPECT_OUTCOMES } from "../ledger";
import { attestationOf } from "../indexer/decode";
import type { LedgerEvent } from "../indexer/decode";
import { CHINA_OFFSET, chinaTime } from "../ledger/china-time";
import { expiryDate } from "../ledger/expiry";
import type { BatchRow } from "../store/queries";

/**
 * A batch's ledger history as a GS1 EPCIS 2.0 JSON-LD document, for partners' EPCIS repositories.
 *
 * Identifiers (CBV 2.0: a GS1 key where there is one, otherwise an HTTP URI under a domain of the party that
 * assigns it, so that no two deployments' identifiers can collide). The ledger records no GLNs and no GS1
 * company-prefix lengths, so it uses what it knows; `base` is the API's public URL (`--public-url`):
 * - the batch (lot) of a GTIN product: its GS1 Digital Link class-level URI, https://id.gs1.org/01/{GTIN}/10/{lot},
 *   the LGTIN in the web-URI form EPCIS 2.0 accepts (the urn:epc:class:lgtin form needs the company prefix's length);
 * - a pack of a GTIN product (epcList): its SGTIN as a GS1 Digital Link URI, https://id.gs1.org/01/{GTIN}/21/{serial}
 *   (urn:epc:id:sgtin needs the company prefix's length too);
 * - the batch and a pack of a product with a 7-digit NMPA drug code: {base}/v1/products/{code}/lots/{lot} and
 *   {base}/v1/codes/{20-digit code} (NMPA codes are no GS1 keys);
 * - an organization (a party in sourceList/destinationList): {base}/v1/organizations/{consortium id}, the API's
 *   own address of that organization;
 * - an organization's premises (readPoint, bizLocation): {base}/v1/organizations/{consortium id}#premises;
 * - a shipment (bizTransaction of type desadv): {base}/v1/shipments/{shipment id};
 * - an event (eventID): {base}/v1/events/{transaction hash}/{log index}.
 * Ledger facts without an EPCIS field travel as extensions in the namespace urn:trace:epcis: (prefix `trace`): a
 * vocabulary, the same in every deployment, not an identifier of anything.
 */

export const EPCIS_MEDIA_TYPE = "application/ld+json";
export const EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
export const TRACE_NAMESPACE = "urn:trace:epcis:";

/** Percent-encodes all but RFC 3986 unreserved characters, as GS1 Digital Link requires for a lot. */
const encodeSegment = (value: string) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The identifiers of one deployment's EPCIS documents, under the API's public URL. */
export function epcisNames(publicUrl: string) {
  const base = publicUrl.replace(/\/+$/, "");
  const party = (id: unknown) => `${base}/v1/organizations/${Number(id)}`;
  return {
    party,
    site: (id: unknown) => ({ id: `${party(id)}#premises` }),
    shipment: (id: unknown) => `${base}/v1/shipments/${String(id)}`,
    event: (txHash: string, logIndex: number) => `${base}/v1/events/${txHash}/${logIndex}`,
    /** The class-level identifier of a batch: its product and lot. */
    lotClass(productCode: string, batchNumber: string): string {
      if (isNmpaProductCode(productCode)) return `${base}/v1/products/${productCode}/lots/${encodeSegment(batchNumber)}`;
      return `https://id.gs1.org/01/${productCode}/10/${encodeSegment(batchNumber)}`;
    },
    /** The instance-level identifier of a pack, from its canonical key. */
    pack(canonicalKey: string): string {
      const code = parseCode(canonicalKey);
      if (code.scheme === "nmpa") return `${base}/v1/codes/${code.nmpa}`;
      if (code.kind !== "pack") throw new Error(`${canonicalKey} is not a pack`);
      return `https://id.gs1.org/01/${code.gtin}/21/${encodeSegment(code.serial)}`;
    },
  };
}
export type EpcisNames = ReturnType<typeof epcisNames>;

type Args = Record<string, unknown>;
/**
 * What a mapping knows besides the event: the deployment's identifiers, the batch's lot class and, for a reader
 * allowed to see them, the canonical keys of the batch's packs by pack id (absent: pack counts only).
 */
type EventContext = EpcisNames & { lot: string; packKeys?: ReadonlyMap<string, string> };
/** What a mapping decides: the EPCIS fields of one kind of ledger event, and its extensions. */
type EpcisEvent = {
  action: "ADD" | "OBSERVE" | "DELETE";
  quantityList: { epcClass: string; quantity?: number }[];
  epcList?: string[];
} & Record<string, unknown>;

/**
 * How each ledger event reads in EPCIS (CBV 2.0 business steps and dispositions). Every event is an ObjectEvent
 * about the batch's class; agreement events concern no object and are left out.
 */
const MAPPINGS: Record<string, (args: Args, x: EventContext) => EpcisEvent> = {
  BatchRecorded: (a, x) => ({
    action: "ADD",
    bizStep: "commissioning",
    disposition: "active",
    quantityList: [{ epcClass: x.lot, quantity: Number(a.quantity) }],
    readPoint: x.site(a.cmoId),
    bizLocation: x.site(a.cmoId),
    ilmd: { "cbvmda:lotNumber": String(a.batchNumber), "cbvmda:itemExpirationDate": expiryDate(Number(a.expiresAt)) },
    "trace:manufacturedAt": chinaTime(Number(a.manufacturedAt)),
    "trace:mah": x.party(a.mahId),
    "trace:agreementId": a.agreementId,
    "trace:codesRoot": a.codesRoot,
    "trace:batchRecordHash": a.batchRecordHash,
  }),
  // A deviation opened on a market-released batch holds the whole lot: it may not be sold until the MAH decides.
  DeviationOpened: (a, x) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    ...(a.placesOnHold === true ? { disposition: "non_sellable_other", "trace:hold": "placed" } : {}),
    quantityList: [{ epcClass: x.lot }],
    "trace:deviationKind": DEVIATION_KINDS.names[Number(a.kind)] ?? String(a.kind),
    "trace:deviationStatus": "open",
    "trace:reportHash": a.reportHash,
  }),
  DeviationClosed: (a, x) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    quantityList: [{ epcClass: x.lot }],
    "trace:deviationStatus": "closed",
    "trace:reportHash": a.reportHash,
    "trace:closureHash": a.closureHash,
  }),
  // The CMO's QA finds the batch conforms; it may not be sold until the MAH's QA releases it to the market.
  BatchFactoryReleased: (a, x) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    disposition: "conformant",
    quantityList: [{ epcClass: x.lot }],
    readPoint: x.site(a.cmoId),
    "trace:release": "factory",
    "trace:certificateHash": a.certificateHash,
  }),
  BatchMarketReleased: (a, x) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    disposition: "sellable_not_accessible",
    quantityList: [{ epcClass: x.lot }],
    "trace:release": "market",
    "trace:decisionHash": a.decisionHash,
    "trace:signerName": a.signerName,
    "trace:signerRole": PERSON_ROLES.nameOf(Number(a.signerRole)),
  }),
  // The MAH's QA refuses the lot market release: rejected, to be destroyed, never sold.
  BatchReleaseRefused: (a, x) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    disposition: "non_conformant",
    quantityList: [{ epcClass: x.lot }],
    "trace:release": "refused",
    "trace:reasonHash": a.reasonHash,
  }),
  BatchShipped: (a, x) => ({
    action: "OBSERVE",
    bizStep: "shipping",
    disposition: "in_transit",
    quantityList: [{ epcClass: x.lot, quantity: Number(a.quantity) }],
    readPoint: x.site(a.shipperId),
    ...parties(a, x),
    "trace:shipmentId": a.shipmentId,
  }),
  ShipmentReceived: (a, x) => ({
    action: "OBSERVE",
    bizStep: "receiving",
    disposition: "in_progress",
    quantityList: [{ epcClass: x.lot, quantity: Number(a.receivedQuantity) }],
    readPoint: x.site(a.recipientId),
    bizLocation: x.site(a.recipientId),
    ...parties(a, x),
    "trace:shipmentId": a.shipmentId,
    "trace:shippedQuantity": Number(a.shippedQuantity),
    "trace:receivedQuantity": Number(a.receivedQuantity),
  }),
  PacksDispensed: (a, x) => ({
    action: "OBSERVE",
    bizStep: "dispensing",
    disposition: "dispensed",
    ...packsOf(a.packs as string[], x),
    readPoint: x.site(a.dispenserId),
    bizLocation: x.site(a.dispenserId),
  }),
  PackStatesChanged: (a, x) => {
    const state = PACK_STATES.nameOf(Number(a.state));
    return {
      action: state === "DESTROYED" ? "DELETE" : "OBSERVE",
      ...PACK_STATE_STEPS[state],
      ...packsOf(a.packs as string[], x),
      readPoint: x.site(a.organizationId),
      bizLocation: x.site(a.organizationId),
      "trace:packState": state,
      "trace:reasonHash": a.reasonHash,
    };
  },
  StockDestroyed: (a, x) => ({
    action: "DELETE",
    bizStep: "destroying",
    disposition: "destroyed",
    quantityList: [{ epcClass: x.lot, quantity: Number(a.quantity) }],
    readPoint: x.site(a.holderId),
    bizLocation: x.site(a.holderId),
    "trace:reasonHash": a.reasonHash,
  }),
  // A hold stops the whole lot short of a recall; its release makes it sellable again.
  BatchPlacedOnHold: (a, x) => ({
    action: "OBSERVE",
    bizStep: "holding",
    disposition: "non_sellable_other",
    quantityList: [{ epcClass: x.lot }],
    "trace:hold": "placed",
    "trace:reasonHash": a.reasonHash,
  }),
  BatchHoldReleased: (a, x) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    disposition: "sellable_not_accessible",
    quantityList: [{ epcClass: x.lot }],
    "trace:hold": "released",
    "trace:reasonHash": a.reasonHash,
  }),
  // The whole lot is recalled: a quantity element without a quantity names the class, not a count.
  RecallStarted: (a, x) => ({
    action: "OBSERVE",
    bizStep: "holding",
    disposition: "recalled",
    quantityList: [{ epcClass: x.lot }],
    "trace:recallLevel": RECALL_LEVELS.names[Number(a.level)] ?? String(a.level),
    "trace:reasonHash": a.reasonHash,
  }),
  RecallAcknowledged: (a, x) => ({
    action: "OBSERVE",
    bizStep: "holding",
    disposition: "recalled",
    quantityList: [{ epcClass: x.lot, quantity: Number(a.quarantinedQuantity) }],
    readPoint: x.site(a.holderId),
    bizLocation: x.site(a.holderId),
    "trace:quarantinedQuantity": Number(a.quarantinedQuantity),
    // The rest of the holder's account: no longer there, so outside the quarantined quantity.
    "trace:dispensedQuantity": Number(a.dispensedQuantity),
    "trace:destroyedQuantity": Number(a.destroyedQuantity),
    "trace:missingQuantity": Number(a.missingQuantity),
  }),
  // A suspect-product report takes the reported packs (or, naming none, the lot) off sale until a regulator ends it.
  SuspectReportFiled: (a, x) => ({
    action: "OBSERVE",
    bizStep: "holding",
    disposition: "non_sellable_other",
    ...((a.packs as string[]).length > 0 ? packsOf(a.packs as string[], x) : { quantityList: [{ epcClass: x.lot }] }),
    readPoint: x.site(a.organizationId),
    "trace:suspectReport": "filed",
    "trace:reportId": a.reportId,
    "trace:reasonHash": a.reasonHash,
  }),
  SuspectReportTerminated: (a, x) => ({
    action: "OBSERVE",
    bizStep: "inspecting",
    quantityList: [{ epcClass: x.lot }],
    "trace:suspectReport": "terminated",
    "trace:reportId": a.reportId,
    "trace:suspectOutcome": SUSPECT_OUTCOMES.names[Number(a.outcome)] ?? String(a.outcome),
    "trace:reasonHash": a.reasonHash,
  }),
  RecallClosed: (a, x) => ({
    action: "OBSERVE",
    quantityList: [{ epcClass: x.lot }],
    "trace:recallStatus": "closed",
    "trace:reportHash": a.reportHash,
  }),
};

/**
 * A pack state in CBV 2.0 terms. Theft and export end the pack's life in this market as the EU system's
 * decommissioning does; a sample or a lock keeps the pack but takes it off sale; ACTIVE (an undone state) puts it
 * back on sale. `trace:packState` carries the ledger's own state.
 */
const PACK_STATE_STEPS: Record<PackStateName, { bizStep: string; disposition: string }> = {
  ACTIVE: { bizStep: "stocking", disposition: "sellable_accessible" },
  DISPENSED: { bizStep: "dispensing", disposition: "dispensed" },
  DESTROYED: { bizStep: "destroying", disposition: "destroyed" },
  STOLEN: { bizStep: "decommissioning", disposition: "stolen" },
  SAMPLE: { bizStep: "sampling", disposition: "non_sellable_other" },
  EXPORTED: { bizStep: "decommissioning", disposition: "inactive" },
  LOCKED: { bizStep: "holding", disposition: "non_sellable_other" },
};

/**
 * The packs of an event: by serial (epcList) for a reader allowed to see them, whose codes are registered; by count
 * (quantityList) otherwise. A pack's id on the chain is a hash, never exported: it would identify the pack to anyone
 * holding its code, without telling anyone else anything.
 */
function packsOf(packs: string[], x: EventContext) {
  const keys = packs.map((pack) => x.packKeys?.get(pack.toLowerCase()));
  const epcList = keys.filter((key): key is string => key !== undefined).map((key) => x.pack(key));
  const uncounted = packs.length - epcList.length;
  return {
    ...(epcList.length > 0 ? { epcList } : {}),
    quantityList: uncounted > 0 ? [{ epcClass: x.lot, quantity: uncounted }] : [],
  };
}

/** The ledger records custody; it does not tell ownership apart, so the holder is named as both. */
function parties(a: Args, x: EventContext) {
  return {
    sourceList: [
      { type: "owning_party", source: x.party(a.shipperId) },
      { type: "possessing_party", source: x.party(a.shipperId) },
    ],
    destinationList: [
      { type: "owning_party", destination: x.party(a.recipientId) },
      { type: "possessing_party", destination: x.party(a.recipientId) },
    ],
    bizTransactionList: [{ type: "desadv", bizTransaction: x.shipment(a.shipmentId) }],
  };
}

/**
 * The EPCIS document of a batch's ledger events (in chain order). `packKeys` (pack id to canonical key) is given
 * only for a reader allowed to see the batch's serials.
 */
export function toEpcisDocument(
  batch: Pick<BatchRow, "product_code" | "batch_number">,
  events: LedgerEventTable[],
  createdAt: number,
  names: EpcisNames,
  packKeys?: ReadonlyMap<string, string>,
) {
  return { ...epcisEnvelope(createdAt), epcisBody: { eventList: toEpcisEvents(batch, events, names, packKeys) } };
}

/** Everything of a batch's EPCIS document but its events. */
function epcisEnvelope(createdAt: number) {
  return {
    "@context": [EPCIS_CONTEXT, { trace: TRACE_NAMESPACE, cbvmda: "urn:epcglobal:cbv:mda:" }] as [typeof EPCIS_CONTEXT, Record<string, string>],
    type: "EPCISDocument" as const,
    schemaVersion: "2.0" as const,
    creationDate: new Date(createdAt * 1000).toISOString(),
  };
}

/** The EPCIS events of some of a batch's ledger events (in chain order); the ledger events EPCIS has no step for are left out. */
export function toEpcisEvents(
  batch: Pick<BatchRow, "product_code" | "batch_number">,
  events: LedgerEventTable[],
  names: EpcisNames,
  packKeys?: ReadonlyMap<string, string>,
) {
  const context: EventContext = { ...names, lot: names.lotClass(batch.product_code, batch.batch_number), packKeys };
  return events.flatMap((event) => {
    const mapping = MAPPINGS[event.name];
    if (!mapping) return [];
    const args = payloadOf(event) as Args;
    // The attesting organization, by the attestation's own actor field (a receipt names its shipper too).
    const attester = attestationOf({ name: event.name, contract: event.contract as LedgerContract, args } as LedgerEvent)?.organizationId;
    return [
      {
        type: "ObjectEvent" as const,
        eventID: names.event(event.tx_hash, event.log_index),
        eventTime: chinaTime(event.block_time),
        eventTimeZoneOffset: CHINA_OFFSET,
        ...mapping(args, context),
        "trace:ledgerEvent": event.name,
        "trace:txHash": event.tx_hash,
        "trace:blockNumber": event.block_number,
        "trace:logIndex": event.log_index,
        "trace:organization": attester === undefined ? null : names.party(attester),
        "trace:signer": event.signer,
        "trace:verification": event.verification,
        ...(event.problem ? { "trace:problem": event.problem } : {}),
      },
    ];
  });
}

/**
 * The same document as `toEpcisDocument`, as the text of its JSON, a page of ledger events at a time: a batch's
 * whole history is written out as it is read, never held whole.
 */
export async function* epcisDocumentText(
  batch: Pick<BatchRow, "product_code" | "batch_number">,
  pages: AsyncIterable<LedgerEventTable[]>,
  createdAt: number,
  names: EpcisNames,
  packKeys?: ReadonlyMap<string, string>,
): AsyncGenerator<string> {
  // The envelope's text without its closing brace, then the event list: the keys in toEpcisDocument's order.
  yield `${JSON.stringify(epcisEnvelope(createdAt)).slice(0, -1)},"epcisBody":{"eventList":[`;
  let first = true;
  for await (const page of pages) {
    const events = toEpcisEvents(batch, page, names, packKeys);
    if (events.length === 0) continue;
    yield `${first ? "" : ","}${events.map((event) => JSON.stringify(event)).join(",")}`;
    first = false;
  }
  yield "]}}";
}
