import { id as hashText, ZeroHash } from "ethers";
import { aggregationTree, CodeError, packId, parseCode } from "../codes";
import type { Aggregate } from "../codes";
import type { AttestationName, LedgerContract } from "../ledger";
import { ATTESTATIONS, PersonRole, RECALL_LEVELS } from "../ledger";
import { endOfChinaDay } from "../ledger/expiry";
import { validateEpcis } from "./validate";

/**
 * EPCIS 2.0 capture: which attestation each event of a partner's document becomes. The inverse of export.ts's
 * mappings for the events the ledger models; the capturing organization is the one that attests, so an event must
 * be its own act (its shipment, its receipt, its batch). Pure: what the ledger holds is asked through `CaptureLedger`.
 */

/** What capture asks of the ledger's read model. */
export type CaptureLedger = {
  /** The batch of a product code and lot, if recorded. */
  batchOf(productCode: string, lot: string): Promise<{ id: string; cmoId: number; mahId: number } | undefined>;
  shipment(id: string): Promise<{ batchId: string; shipperId: number; recipientId: number; quantity: number } | undefined>;
  /** The batch a registered pack (canonical key) is of, or a registered case or pallet (SSCC key) holds. */
  batchOfUnit(canonicalKey: string): Promise<string | undefined>;
  batch(id: string): Promise<{ id: string; cmoId: number; mahId: number } | undefined>;
  /** One multiproof of packs against the batch's registered codes, pack ids in its order; undefined: codes not here. */
  packProof(batchId: string, keys: string[]): Promise<{ packs: string[]; proof: string[]; proofFlags: boolean[] } | undefined>;
  /** One multiproof of units directly inside a container in the batch's registered aggregation; undefined: not registered. */
  unpackProof(batchId: string, container: string, units: string[]): Promise<{ units: string[]; proof: string[]; proofFlags: boolean[] } | undefined>;
};

/** An attestation to sign, as its organization's signer (or its custody key) will: contract, type and message. */
export type PlannedAttestation = {
  eventIndex: number;
  contract: LedgerContract;
  type: AttestationName;
  message: Record<string, unknown>;
  /** For attestations about packs or units (dispensing, unpacking): the multiproof the call carries beside the signature. */
  proof?: { proof: string[]; proofFlags: boolean[] };
};
export type RejectedEvent = { eventIndex: number; reason: string };
/** A temperature reading of a shipment's sensor (EPCIS sensorElementList), in thousandths of a degree Celsius. */
export type PlannedReading = { eventIndex: number; shipmentId: string; deviceId: string | null; observedAt: number; millicelsius: number };
export type CapturePlan = { attestations: PlannedAttestation[]; readings: PlannedReading[]; rejected: RejectedEvent[] };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EpcisEvent = Record<string, any>;

class Rejection extends Error {}
const reject = (reason: string): never => {
  throw new Rejection(reason);
};

/** Reads the identifiers export.ts writes, under the deployment's public URL. */
export function captureNames(publicUrl: string) {
  const base = publicUrl.replace(/\/+$/, "");
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const party = new RegExp(`^${escape(base)}/v1/organizations/(\\d+)(?:#premises)?$`);
  const nmpaLot = new RegExp(`^${escape(base)}/v1/products/(\\d{7})/lots/([^/]+)$`);
  const shipment = new RegExp(`^${escape(base)}/v1/shipments/(0x[0-9a-fA-F]{64})$`);
  const nmpaPack = new RegExp(`^${escape(base)}/v1/codes/(\\d{20})$`);
  return {
    party(uri: unknown): number {
      const match = typeof uri === "string" ? party.exec(uri) : null;
      return match ? Number(match[1]) : reject(`${String(uri)} is not an organization of this ledger (${base}/v1/organizations/{id})`);
    },
    lot(uri: unknown): { productCode: string; lot: string } {
      const text = String(uri);
      const gs1 = /^https:\/\/id\.gs1\.org\/01\/(\d{14})\/10\/([^/?#]+)$/.exec(text);
      const match = gs1 ?? nmpaLot.exec(text);
      if (!match)
        return reject(`${text} is not a lot this ledger names (https://id.gs1.org/01/{GTIN}/10/{lot} or ${base}/v1/products/{code}/lots/{lot})`);
      return { productCode: match[1]!, lot: decodeURIComponent(match[2]!) };
    },
    /** A pack's (or a case's or pallet's SSCC) canonical key from its EPC: a GS1 Digital Link URI, or an NMPA code under the API. */
    unit(uri: unknown): string {
      const text = String(uri);
      try {
        return parseCode(nmpaPack.exec(text)?.[1] ?? text).key;
      } catch (error) {
        if (!(error instanceof CodeError)) throw error;
        return reject(
          `${text} is not a pack, case or pallet this ledger reads (a GS1 Digital Link URI or ${base}/v1/codes/{code}): ${error.message}`,
        );
      }
    },
    shipment(uri: unknown): string {
      const match = typeof uri === "string" ? shipment.exec(uri) : null;
      return match ? match[1]!.toLowerCase() : reject(`${String(uri)} is not a shipment of this ledger (${base}/v1/shipments/{id})`);
    },
  };
}
type CaptureNames = ReturnType<typeof captureNames>;

type Context = { organizationId: number; names: CaptureNames; ledger: CaptureLedger };

const hashOr = (value: unknown, fallback: string) => (typeof value === "string" && /^0x[0-9a-fA-F]{64}$/.test(value) ? value : hashText(fallback));

async function batchOfEvent(event: EpcisEvent, x: Context) {
  const epcClass = event.quantityList?.[0]?.epcClass ?? reject("the event names no lot (quantityList[0].epcClass)");
  const { productCode, lot } = x.names.lot(epcClass);
  return (await x.ledger.batchOf(productCode, lot)) ?? reject(`no batch ${lot} of product ${productCode} is on the ledger`);
}

const quantityOf = (event: EpcisEvent): bigint => {
  const quantity = event.quantityList?.[0]?.quantity;
  return Number.isInteger(quantity) && quantity >= 0 ? BigInt(quantity) : reject("the event counts no quantity (quantityList[0].quantity)");
};

const partyOf = (list: unknown, key: "source" | "destination", x: Context) => {
  const entries = Array.isArray(list) ? (list as Record<string, unknown>[]) : [];
  const entry = entries.find((e) => e.type === "possessing_party") ?? entries.find((e) => e.type === "owning_party");
  return entry ? x.names.party(entry[key]) : reject(`the event names no ${key} party (${key}List)`);
};

/** The organization must act for itself: an event that is another party's act is that party's to capture. */
const mustBe = (who: number, x: Context, what: string) => {
  if (who !== x.organizationId) reject(`${what} is organization ${who}'s act; organization ${x.organizationId} cannot capture it`);
};

type Planned = { type: AttestationName; message: Record<string, unknown>; proof?: PlannedAttestation["proof"] };

const TEMPERATURE_TYPES = new Set(["gs1:MT-Temperature", "https://gs1.org/voc/MT-Temperature", "MT-Temperature", "Temperature"]);
const TO_MILLICELSIUS: Record<string, (value: number) => number> = {
  CEL: (v) => Math.round(v * 1000),
  KEL: (v) => Math.round((v - 273.15) * 1000),
  FAH: (v) => Math.round(((v - 32) * 5000) / 9),
};

/**
 * The temperature readings an event carries for a shipment (its desadv): the cold chain's evidence in transit. Only
 * the shipment's shipper or addressee (or their carrier's system, under their sign-in) attaches readings to it.
 */
async function readingsOf(event: EpcisEvent, eventIndex: number, x: Context): Promise<PlannedReading[]> {
  const elements = (event.sensorElementList ?? []) as EpcisEvent[];
  if (elements.length === 0) return [];
  const desadv =
    (event.bizTransactionList ?? []).find((t: Record<string, unknown>) => t.type === "desadv") ??
    reject("sensor readings name their shipment (bizTransactionList desadv)");
  const shipmentId = x.names.shipment(desadv.bizTransaction);
  const shipment = (await x.ledger.shipment(shipmentId)) ?? reject(`no shipment ${shipmentId} is on the ledger`);
  if (x.organizationId !== shipment.shipperId && x.organizationId !== shipment.recipientId) {
    reject(`only the shipper or the addressee of shipment ${shipmentId} attaches sensor readings to it`);
  }
  const readings: PlannedReading[] = [];
  for (const element of elements) {
    for (const report of (element.sensorReport ?? []) as EpcisEvent[]) {
      if (!TEMPERATURE_TYPES.has(String(report.type))) continue;
      const convert = TO_MILLICELSIUS[String(report.uom ?? "CEL")] ?? reject(`temperature unit ${report.uom} is not CEL, KEL or FAH`);
      if (typeof report.value !== "number") reject("a temperature reading needs a numeric value");
      const time = Date.parse(report.time ?? element.sensorMetadata?.time ?? event.eventTime);
      readings.push({
        eventIndex,
        shipmentId,
        deviceId: report.deviceID ?? element.sensorMetadata?.deviceID ?? null,
        observedAt: Math.floor(time / 1000),
        millicelsius: convert(report.value),
      });
    }
  }
  return readings;
}

/** How each business step the ledger models becomes an attestation. */
const OBJECT_EVENTS: Record<string, (event: EpcisEvent, x: Context) => Promise<Planned>> = {
  async commissioning(e, x) {
    const { lot } = x.names.lot(e.quantityList?.[0]?.epcClass);
    const expiry = e.ilmd?.["cbvmda:itemExpirationDate"] ?? reject("commissioning needs ilmd cbvmda:itemExpirationDate");
    const required = (name: string) =>
      e[`trace:${name}`] ??
      reject(`commissioning a batch on the ledger needs trace:${name} (the quality agreement and codes root are not EPCIS fields)`);
    return {
      type: "BatchRecord",
      message: {
        agreementId: required("agreementId"),
        batchNumber: e.ilmd?.["cbvmda:lotNumber"] ?? lot,
        quantity: quantityOf(e),
        manufacturedAt: Math.floor(Date.parse(required("manufacturedAt")) / 1000),
        expiresAt: endOfChinaDay(String(expiry)),
        batchRecordHash: hashOr(e["trace:batchRecordHash"], String(e.eventID ?? "")),
        codesRoot: required("codesRoot"),
      },
    };
  },
  async inspecting(e, x) {
    const batch = await batchOfEvent(e, x);
    if (e["trace:release"] === "factory")
      return { type: "FactoryRelease", message: { batchId: batch.id, certificateHash: hashOr(e["trace:certificateHash"], e.eventID) } };
    if (e["trace:release"] === "market")
      return {
        type: "MarketRelease",
        message: { batchId: batch.id, decisionHash: hashOr(e["trace:decisionHash"], e.eventID), ...releaseSignerOf(e) },
      };
    return reject("an inspecting event is captured as a factory or market release (trace:release); deviations are opened with trace deviations");
  },
  async shipping(e, x) {
    const batch = await batchOfEvent(e, x);
    mustBe(partyOf(e.sourceList, "source", x), x, "this shipment");
    return {
      type: "Shipment",
      message: { batchId: batch.id, recipientId: partyOf(e.destinationList, "destination", x), quantity: quantityOf(e), codesRoot: ZeroHash },
    };
  },
  async receiving(e, x) {
    const desadv =
      (e.bizTransactionList ?? []).find((t: Record<string, unknown>) => t.type === "desadv") ??
      reject("a receipt names its shipment (bizTransactionList desadv)");
    const shipmentId = x.names.shipment(desadv.bizTransaction);
    const shipment = (await x.ledger.shipment(shipmentId)) ?? reject(`no shipment ${shipmentId} is on the ledger`);
    mustBe(shipment.recipientId, x, `receiving shipment ${shipmentId}`);
    const received = quantityOf(e);
    if (received > BigInt(shipment.quantity)) reject(`${received} received is more than the ${shipment.quantity} shipped`);
    return {
      type: "Receipt",
      message: {
        shipmentId,
        batchId: shipment.batchId,
        shipperId: shipment.shipperId,
        shippedQuantity: BigInt(shipment.quantity),
        receivedQuantity: received,
      },
    };
  },
  /** Dispensing by serial: the packs handed to patients, proven among the batch's registered codes. */
  async dispensing(e, x) {
    const keys = ((e.epcList ?? []) as unknown[]).map((uri) => x.names.unit(uri));
    if (keys.length === 0) reject("dispensing is captured by serial: the event names its packs (epcList)");
    const batchId = await oneBatch(keys, x);
    const proved =
      (await proving(() => x.ledger.packProof(batchId, keys))) ??
      reject(`batch ${batchId} has no codes registered on this server to prove its packs`);
    return { type: "Dispensing", message: { batchId, packs: proved.packs }, proof: { proof: proved.proof, proofFlags: proved.proofFlags } };
  },
  async destroying(e, x) {
    const batch = await batchOfEvent(e, x);
    return { type: "Destruction", message: { batchId: batch.id, quantity: quantityOf(e), reasonHash: hashOr(e["trace:reasonHash"], e.eventID) } };
  },
  async holding(e, x) {
    if (e.disposition !== "recalled")
      return reject("a holding event is captured as a recall (disposition recalled); holds are placed with trace holds");
    const batch = await batchOfEvent(e, x);
    if (e.quantityList[0].quantity === undefined) {
      const level = (RECALL_LEVELS.names as readonly string[]).indexOf(String(e["trace:recallLevel"] ?? ""));
      if (level <= 0) reject("a recall needs its level (trace:recallLevel I, II or III)");
      return { type: "RecallStart", message: { batchId: batch.id, level, reasonHash: hashOr(e["trace:reasonHash"], e.eventID) } };
    }
    const count = (name: string) => BigInt(Number.isInteger(e[`trace:${name}`]) ? e[`trace:${name}`] : 0);
    return {
      type: "RecallAcknowledgement",
      message: {
        batchId: batch.id,
        quarantinedQuantity: quantityOf(e),
        dispensedQuantity: count("dispensedQuantity"),
        destroyedQuantity: count("destroyedQuantity"),
        missingQuantity: count("missingQuantity"),
      },
    };
  },
};

/** A proof the codes module refuses (a unit not in its container, a pack not of the batch) rejects the event. */
async function proving<T>(prove: () => Promise<T>): Promise<T> {
  try {
    return await prove();
  } catch (error) {
    if (error instanceof CodeError) return reject(error.message);
    throw error;
  }
}

/** The one batch every unit (pack, case or pallet) of an event belongs to, as registered on this server. */
async function oneBatch(keys: string[], x: Context): Promise<string> {
  let batchId: string | undefined;
  for (const key of keys) {
    const of = (await x.ledger.batchOfUnit(key)) ?? reject(`${key} is not registered on this server as a pack, case or pallet of a batch`);
    if (batchId !== undefined && of !== batchId)
      reject(`${key} is of batch ${of}, the event's other units of batch ${batchId}: one event, one batch`);
    batchId = of;
  }
  return batchId!;
}

/** A packing event's container and contents, for the batch's aggregation commitment (made once per batch). */
type Packing = { aggregate: Aggregate; batchId: string };

/**
 * AggregationEvents: ADD (packing packs into cases, cases onto pallets) is gathered into the batch's one
 * aggregation commitment; DELETE (taking units out at picking) becomes an unpacking, proven against the
 * registered aggregation.
 */
async function planAggregation(e: EpcisEvent, x: Context): Promise<Planned | Packing> {
  const container = x.names.unit(e.parentID ?? reject("an AggregationEvent names its case or pallet (parentID)"));
  const units = ((e.childEPCs ?? []) as unknown[]).map((uri) => x.names.unit(uri));
  if (units.length === 0) reject("an AggregationEvent names the units inside its case or pallet (childEPCs)");
  if (e.action === "ADD") {
    const packs = units.filter((key) => !key.startsWith("(00)"));
    // A pallet of cases is of the batch its cases' packs are: told once the document's case packings are read.
    const batchId = packs.length > 0 ? await oneBatch(packs, x) : "";
    return { aggregate: { container, contents: units, contentsRoot: "" }, batchId };
  }
  if (e.action === "DELETE") {
    const batchId = await oneBatch([container], x);
    const proved =
      (await proving(() => x.ledger.unpackProof(batchId, container, units))) ??
      reject(`the cases and pallets of batch ${batchId} are not registered on this server (POST /v1/batches/{id}/aggregation)`);
    return {
      type: "Unpacking",
      message: { batchId, containerId: packId(container), units: proved.units },
      proof: { proof: proved.proof, proofFlags: proved.proofFlags },
    };
  }
  return reject(
    "an AggregationEvent is captured as ADD (packing, the batch's aggregation commitment) or DELETE (unpacking); OBSERVE changes nothing on the ledger",
  );
}

async function planEvent(event: EpcisEvent, x: Context): Promise<Planned | Packing | undefined> {
  // Readings in transit: evidence for the cold chain, not an attestation.
  if (event.type === "ObjectEvent" && /(^|[:-])transporting$/.test(String(event.bizStep ?? "")) && event.sensorElementList) return undefined;
  if (event.type === "AggregationEvent") return planAggregation(event, x);
  if (event.type === "TransactionEvent") {
    return reject(
      "a TransactionEvent is not captured: the ledger records a change of custody only with the goods, as a shipment " +
        "(ObjectEvent shipping, its bizTransactionList naming the order) and its receipt (receiving); capture those",
    );
  }
  if (event.type !== "ObjectEvent") {
    return reject(
      `${event.type} is not captured here: the ledger models ObjectEvents of ${Object.keys(OBJECT_EVENTS).join(", ")} and AggregationEvents`,
    );
  }
  if (event["trace:recallStatus"] === "closed")
    return {
      type: "RecallClosure",
      message: { batchId: (await batchOfEvent(event, x)).id, reportHash: hashOr(event["trace:reportHash"], event.eventID) },
    };
  const bizStep = String(event.bizStep ?? "").replace(/^urn:epcglobal:cbv:bizstep:|^https:\/\/ref\.gs1\.org\/cbv\/BizStep-/, "");
  const plan = OBJECT_EVENTS[bizStep];
  if (!plan) return reject(`business step ${event.bizStep ?? "(none)"} is not one the ledger models (${Object.keys(OBJECT_EVENTS).join(", ")})`);
  return plan(event, x);
}

/** A batch's packing events as its one aggregation commitment, signed by its CMO. */
async function commitmentOf(batchId: string, aggregates: Aggregate[], x: Context): Promise<Planned> {
  const batch = (await x.ledger.batch(batchId)) ?? reject(`no batch ${batchId} is on the ledger`);
  mustBe(batch.cmoId, x, `packing batch ${batchId}`);
  let tree;
  try {
    tree = aggregationTree(aggregates);
  } catch (error) {
    if (error instanceof CodeError) return reject(`the packing events of batch ${batchId} do not form cases and pallets: ${error.message}`);
    throw error;
  }
  return {
    type: "AggregationCommitment",
    message: { batchId, aggregationRoot: tree.root, containers: BigInt(tree.containers), packs: BigInt(tree.packs) },
  };
}

/**
 * Validates a document against the official schema, then plans each event; any problem rejects the whole document
 * (nothing is planned), each reason with its event's index.
 */
export async function planCapture(document: unknown, x: Context): Promise<CapturePlan> {
  const problems = validateEpcis(document);
  if (problems.length > 0) {
    return { attestations: [], readings: [], rejected: problems.map((p) => ({ eventIndex: p.eventIndex ?? -1, reason: `${p.path}: ${p.message}` })) };
  }
  const events = ((document as EpcisEvent).epcisBody?.eventList ?? []) as EpcisEvent[];
  if (events.length === 0) return { attestations: [], readings: [], rejected: [{ eventIndex: -1, reason: "the document has no events" }] };
  const attestations: PlannedAttestation[] = [];
  const readings: PlannedReading[] = [];
  const rejected: RejectedEvent[] = [];
  const packings = new Map<string, { eventIndex: number; aggregates: Aggregate[] }>();
  const attest = (eventIndex: number, { type, message, proof }: Planned) => {
    const contract = ATTESTATIONS[type].contract;
    const actor = ATTESTATIONS[type].fields[0]!.name;
    attestations.push({ eventIndex, contract, type, message: { [actor]: x.organizationId, ...message }, ...(proof ? { proof } : {}) });
  };
  for (const [eventIndex, event] of events.entries()) {
    try {
      readings.push(...(await readingsOf(event, eventIndex, x)));
      const planned = await planEvent(event, x);
      if (!planned) continue;
      if ("aggregate" in planned) {
        const packing = packings.get(planned.batchId) ?? { eventIndex, aggregates: [] };
        packings.set(planned.batchId, { ...packing, aggregates: [...packing.aggregates, planned.aggregate] });
      } else attest(eventIndex, planned);
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      rejected.push({ eventIndex, reason: error.message });
    }
  }
  // Pallets (cases only) join the batch whose case packings hold their cases.
  const pallets = packings.get("");
  packings.delete("");
  for (const aggregate of pallets?.aggregates ?? []) {
    const batch = [...packings.values()].find((p) => p.aggregates.some((a) => aggregate.contents.includes(a.container)));
    if (batch) batch.aggregates.push(aggregate);
    else
      rejected.push({ eventIndex: pallets!.eventIndex, reason: `pallet ${aggregate.container}: its cases are packed in no event of the document` });
  }
  for (const [batchId, { eventIndex, aggregates }] of packings) {
    try {
      attest(eventIndex, await commitmentOf(batchId, aggregates, x));
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      rejected.push({ eventIndex, reason: error.message });
    }
  }
  return rejected.length > 0 ? { attestations: [], readings: [], rejected } : { attestations, readings, rejected };
}

/** Who a captured market release states as its signer: the QP named by trace:signerName, else the MAH's own key. */
function releaseSignerOf(e: EpcisEvent): { signerName: string; signerRole: number } {
  const name = typeof e["trace:signerName"] === "string" ? e["trace:signerName"] : "";
  return { signerName: name, signerRole: name ? PersonRole.QualifiedPerson : PersonRole.Organization };
}
