import { keccak256 } from "ethers";
import { payloadOf } from "../store";
import type { Store } from "../store";
import { z } from "zod";
import { createTreeHasher } from "../codes";
import { NODE_BYTES } from "../codes/leaf";
import type { LedgerEventTable } from "../store";
import { EPCIS_CONTEXT, epcisDocumentText, epcisNames } from "../epcis/export";
import { readableBatch } from "./batches";
import { LedgerError, notAllowed } from "../ledger/errors";
import type { ApiServices } from "./context";
import { defineRoute, StreamedJson } from "./routes";
import { bytes32 } from "./schemas";

export { EPCIS_CONTEXT, EPCIS_MEDIA_TYPE } from "../epcis/export";
import { EPCIS_MEDIA_TYPE } from "../epcis/export";

/** The route of a batch's EPCIS export; what the document says is src/epcis/export.ts's. */
export const EPCIS_PATH = "/v1/batches/:batchId/epcis";
type Args = Record<string, unknown>;

const identified = z.object({ id: z.string() });
const epcisEvent = z.looseObject({
  type: z.literal("ObjectEvent"),
  eventID: z.string(),
  eventTime: z.string().meta({ description: "block time, ISO 8601 in China Standard Time" }),
  eventTimeZoneOffset: z.string(),
  action: z.enum(["ADD", "OBSERVE", "DELETE"]),
  bizStep: z.string().optional().meta({ description: "CBV business step" }),
  disposition: z.string().optional().meta({ description: "CBV disposition" }),
  epcList: z.array(z.string()).optional().meta({ description: "the packs by serial (SGTIN), for regulators and the batch's MAH" }),
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
        throw notAllowed(
          "PROVENANCE_RESTRICTED",
          "a batch's EPCIS history is for regulators and the batch's MAH and CMO; scan a pack for its custody path",
        );
      }
      const names = epcisNames(publicUrlOf(services));
      // A dispensed pack's serial says which patient-facing pack left which pharmacy: regulators and the MAH, whose
      // codes they are, see serials; the CMO sees counts. The packs are gathered in a first pass (ids only), so
      // the document itself is written a page of events at a time.
      const seesSerials = caller!.role === "REGULATOR" || caller!.organizationId === batch.mah_id;
      let packKeys: Map<string, string> | undefined;
      if (seesSerials) {
        const packIds = new Set<string>();
        for await (const page of batchEventPages(services.store, batch.id)) for (const pack of packIdsOf(page)) packIds.add(pack);
        packKeys = await packKeysOf(services.store, batch.id, packIds);
      }
      const text = epcisDocumentText(batch, batchEventPages(services.store, batch.id), services.now(), names, packKeys);
      return new StreamedJson(text, EPCIS_MEDIA_TYPE);
    },
  }),
];

/** Ledger events read per page of a streamed export. */
export const EVENTS_PER_READ = 500;

/** A batch's own ledger events in chain order, a page at a time (by position, so each page is one indexed range read). */
export async function* batchEventPages(store: Store, batchId: string, perPage = EVENTS_PER_READ): AsyncGenerator<LedgerEventTable[]> {
  let after: { block: number; logIndex: number } | undefined;
  for (;;) {
    let query = store.db.selectFrom("ledger_events").selectAll().where("batch_id", "=", batchId);
    if (after) {
      const { block, logIndex } = after;
      query = query.where((eb) => eb.or([eb("block_number", ">", block), eb.and([eb("block_number", "=", block), eb("log_index", ">", logIndex)])]));
    }
    const page = await query.orderBy("block_number").orderBy("log_index").limit(perPage).execute();
    if (page.length > 0) yield page;
    if (page.length < perPage) return;
    const last = page[page.length - 1]!;
    after = { block: last.block_number, logIndex: last.log_index };
  }
}

export function publicUrlOf(services: ApiServices): string {
  const url = services.config.publicUrl;
  if (url === undefined)
    throw new LedgerError("internal", "NO_PUBLIC_URL", "this API has no public URL to name parties under in EPCIS documents (--public-url)");
  return url;
}

/** The pack ids the events name (lowercase hex). */
export function packIdsOf(events: LedgerEventTable[]): Set<string> {
  const packs = events.flatMap((event) => ((payloadOf(event) as Args).packs as string[] | undefined) ?? []);
  return new Set(packs.map((pack) => pack.toLowerCase()));
}

const KEYS_PER_READ = 10_000;

/**
 * The canonical keys of the given packs of a batch, by pack id. The chain names packs by hash only, so the batch's
 * registered keys are hashed (in WebAssembly) and matched a page at a time, stopping once every pack is found;
 * packs of a batch whose codes were never registered stay unknown.
 */
export async function packKeysOf(store: Store, batchId: string, packIds: Set<string>): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (packIds.size === 0) return found;
  const wanted = new Map([...packIds].map((pack) => [keccak256(pack).slice(2), pack]));
  const hasher = await createTreeHasher();
  const leaf = Buffer.alloc(NODE_BYTES);
  let after = "";
  while (found.size < packIds.size) {
    const keys = await store.db
      .selectFrom("batch_codes")
      .select("canonical_key")
      .where("batch_id", "=", batchId)
      .where("canonical_key", ">", after)
      .orderBy("canonical_key")
      .limit(KEYS_PER_READ)
      .execute();
    for (const { canonical_key: key } of keys) {
      hasher.leafInto(key, leaf, 0);
      const pack = wanted.get(leaf.toString("hex"));
      if (pack !== undefined) found.set(pack, key);
    }
    if (keys.length < KEYS_PER_READ) break;
    after = keys[keys.length - 1]!.canonical_key;
  }
  return found;
}
