import { sql } from "kysely";
import { z } from "zod";
import { checkBatchAccess } from "./access";
import type { ApiServices, Caller } from "./context";
import { notAllowed, notFound, unauthenticated } from "../ledger/errors";
import { decodeChainCursor, decodeCursor, encodeChainCursor, page, pageQuery } from "./pagination";
import { batchById, batchQuery } from "../store/queries";
import type { BatchRow } from "../store/queries";
import { provenanceReader } from "../store/provenance-reads";
import type { ProvenanceEntry } from "../store/provenance-reads";
import { ledgerEntryText, toBatchView } from "./read-model";
import { batchView, bytes32, INT32_MAX, ledgerEntry, organizationId, wholeNumber } from "./schemas";
import type { BatchView } from "./schemas";
import { defineRoute, StreamedJson } from "./routes";

const DEFAULT_PROVENANCE_PAGE = 100;
const MAX_PROVENANCE_PAGE = 1_000;
const provenancePage = provenanceReader(ledgerEntryText);

export async function findBatch(services: ApiServices, batchId: string): Promise<BatchRow> {
  const row = await batchById(services.store.db, batchId);
  if (!row) throw notFound("UNKNOWN_BATCH", `no batch ${batchId} is on the ledger`);
  return row;
}

export async function readableBatch(services: ApiServices, caller: Caller | undefined, batchId: string) {
  const row = await findBatch(services, batchId);
  await checkBatchAccess(services, caller, row);
  return row;
}

const batchParams = z.object({ batchId: bytes32 });

/** A batch, as the caller may read it. */
export const batchRoute = defineRoute({
  method: "get",
  path: "/v1/batches/:batchId",
  summary: "A batch: product, parties, state, recall and where its quantity is",
  tags: ["batches"],
  access: "organization",
  params: batchParams,
  response: batchView,
  errors: { 403: "the caller has no part in the batch", 404: "no such batch" },
  async handle({ params, caller, services }) {
    return toBatchView(await readableBatch(services, caller, params.batchId));
  },
});

/** A page of a batch's provenance, for regulators and the batch's MAH and CMO. */
export const provenanceRoute = defineRoute({
  method: "get",
  path: "/v1/batches/:batchId/provenance",
  summary:
    "A batch's signed history, from its agreements to its recall, in chain order, a page at a time (follow nextCursor); " +
    "the whole batch in one document is its EPCIS export",
  tags: ["batches"],
  access: "organization",
  params: batchParams,
  query: z.object({
    limit: wholeNumber(1, MAX_PROVENANCE_PAGE)
      .default(DEFAULT_PROVENANCE_PAGE)
      .meta({ description: `entries per page (1-${MAX_PROVENANCE_PAGE})` }),
    cursor: z.string().max(100).optional().meta({ description: "the `nextCursor` of the previous page" }),
  }),
  response: z.object({
    batch: batchView,
    entries: z.array(ledgerEntry),
    nextCursor: z.string().nullable().meta({ description: "where the next page starts; null on the last page" }),
  }),
  errors: { 400: "a malformed limit or cursor", 403: "the caller is not a regulator, nor the batch's MAH or CMO", 404: "no such batch" },
  async handle({ params, query, caller, services }) {
    const batch = await readableBatch(services, caller, params.batchId);
    // The whole timeline (agreements, deviations, every party's hand-overs) is for regulators and the batch's
    // MAH and CMO; a holder sees the custody path in its scan answers.
    if (caller!.role !== "REGULATOR" && caller!.organizationId !== batch.mah_id && caller!.organizationId !== batch.cmo_id) {
      throw notAllowed(
        "PROVENANCE_RESTRICTED",
        "a batch's provenance is for regulators and the batch's MAH and CMO; scan a pack for its custody path",
      );
    }
    const rows = await provenancePage(services.store.db, batch, decodeChainCursor(query.cursor), query.limit + 1);
    const entries = rows.slice(0, query.limit);
    const last = entries[entries.length - 1];
    const nextCursor = rows.length > query.limit && last ? encodeChainCursor({ block: last.block_number, logIndex: last.log_index }) : null;
    return new StreamedJson(provenanceText(toBatchView(batch), entries, nextCursor));
  },
});

export const batchRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/batches",
    summary: "List the batches the caller may read, newest first",
    tags: ["batches"],
    access: "organization",
    query: z.object({
      product: bytes32.optional().meta({ description: "product id" }),
      mah: organizationId.optional(),
      cmo: organizationId.optional(),
      state: z.enum(["MANUFACTURED", "FACTORY_RELEASED", "MARKET_RELEASED", "RECALLED", "ON_HOLD"]).optional(),
      region: wholeNumber(0, INT32_MAX).optional().meta({ description: "province code of the MAH or the CMO" }),
      ...pageQuery,
    }),
    response: z.object({ items: z.array(batchView), nextCursor: z.string().nullable() }),
    async handle({ query, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to list batches");
      let q = batchQuery(services.store.db);
      if (query.product) q = q.where("batches.product_id", "=", query.product);
      if (query.mah) q = q.where("batches.mah_id", "=", query.mah);
      if (query.cmo) q = q.where("batches.cmo_id", "=", query.cmo);
      if (query.state === "RECALLED") q = q.where("batches.recall_status", "!=", "NONE");
      else if (query.state === "ON_HOLD") q = q.where("batches.hold_status", "=", "ON_HOLD");
      else if (query.state) q = q.where("batches.state", "=", query.state);
      if (query.region !== undefined) {
        const region = query.region;
        q = q.where((eb) => eb.or([eb("mah.region", "=", region), eb("cmo.region", "=", region)]));
      }
      q = scopeToCaller(q, caller);
      const cursor = decodeCursor(query.cursor);
      if (cursor) {
        q = q.where((eb) =>
          eb.or([eb("batches.recorded_at", "<", cursor.at), eb.and([eb("batches.recorded_at", "=", cursor.at), eb("batches.id", ">", cursor.id)])]),
        );
      }
      const rows = (await q
        .orderBy("batches.recorded_at", "desc")
        .orderBy("batches.id")
        .limit(query.limit + 1)
        .execute()) as BatchRow[];
      const { items, nextCursor } = page(rows, query.limit, (row) => ({ at: row.recorded_at, id: row.id }));
      return { items: items.map(toBatchView), nextCursor };
    },
  }),
  batchRoute,
  provenanceRoute,
];

/**
 * Entries per chunk of a provenance page's text: a page of 100 written as one string (85 KB) cost about 1 ms more
 * server CPU than in chunks of 5 to 20 entries, all alike (turning one large string into bytes).
 */
const ENTRIES_PER_CHUNK = 20;

/**
 * A provenance page as the text of its JSON document, written a few entries at a time: the page's size (close to
 * a kilobyte an entry) is then never one large string to encode; each entry is its JSON text as the database
 * wrote it (ledgerEntryText).
 */
async function* provenanceText(batch: BatchView, entries: ProvenanceEntry[], nextCursor: string | null) {
  let chunk = `{"batch":${JSON.stringify(batch)},"entries":[`;
  for (const [n, { json }] of entries.entries()) {
    chunk += `${n === 0 ? "" : ","}${json}`;
    if ((n + 1) % ENTRIES_PER_CHUNK === 0) {
      yield chunk;
      chunk = "";
    }
  }
  yield `${chunk}],"nextCursor":${JSON.stringify(nextCursor)}}`;
}

/** Narrows a batch query to what the caller may read (see access.ts). */
function scopeToCaller(q: ReturnType<typeof batchQuery>, caller: Caller): ReturnType<typeof batchQuery> {
  const id = caller.organizationId;
  switch (caller.role) {
    case "REGULATOR":
      return q;
    case "MAH":
      return q.where("batches.mah_id", "=", id);
    case "CMO":
      return q.where("batches.cmo_id", "=", id);
    default:
      return q.where((eb) =>
        eb.or([
          eb.exists(
            eb
              .selectFrom("holdings")
              .select(sql`1`.as("one"))
              .whereRef("holdings.batch_id", "=", "batches.id")
              .where("holdings.organization_id", "=", id),
          ),
          eb.exists(
            eb
              .selectFrom("shipments")
              .select(sql`1`.as("one"))
              .whereRef("shipments.batch_id", "=", "batches.id")
              .where("shipments.recipient_id", "=", id),
          ),
        ]),
      );
  }
}
