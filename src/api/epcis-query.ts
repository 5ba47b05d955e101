import { z } from "zod";
import { wholeNumber } from "./schemas";
import { EPCIS_CONTEXT, epcisNames, TRACE_NAMESPACE, toEpcisDocument } from "../epcis/export";
import { matchesFilters } from "../epcis/query";
import type { EventFilters } from "../epcis/query";
import { badInput, unauthenticated } from "../ledger/errors";
import { batchById } from "../store/queries";
import type { ApiServices, Caller } from "./context";
import { packIdsOf, packKeysOf, publicUrlOf } from "./epcis";
import { defineRoute } from "./routes";

/**
 * The EPCIS 2.0 REST query interface's `GET /epcis/events` (SimpleEventQuery parameters), over the ledger's
 * exported events and scoped as the export is: regulators query every batch, an MAH its products' batches and a
 * CMO the batches it made (their whole histories, serials for regulators and the MAH); any other organization the
 * events it attested itself.
 */

const list = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]).flatMap((item) => item.split("|")).filter((item) => item !== ""))
  .optional();
const instant = z
  .string()
  .refine((value) => !Number.isNaN(Date.parse(value)), "must be an ISO 8601 date-time")
  .optional();

/** SimpleEventQuery's parameters: a named query stores them, without perPage. */
export const eventFilters = z.object({
  EQ_bizStep: list,
  EQ_disposition: list,
  EQ_action: list,
  MATCH_epc: list,
  MATCH_anyEPC: list,
  GE_eventTime: instant,
  LT_eventTime: instant,
  EQ_readPoint: list,
  EQ_bizLocation: list,
});
export const perPage = wholeNumber(1, 1000).default(100).meta({ description: "at most this many events, oldest first" });
const filters = eventFilters.extend({ perPage });

const MAX_SECONDS = 2 ** 40;

/** The ledger events the caller may query, oldest first, within the time filters (block time is event time). */
async function eventsFor(services: ApiServices, caller: Caller, query: EventFilters) {
  let select = services.store.db
    .selectFrom("ledger_events")
    .innerJoin("batches", "batches.id", "ledger_events.batch_id")
    .selectAll("ledger_events")
    .orderBy("ledger_events.block_number")
    .orderBy("ledger_events.log_index");
  if (caller.role === "MAH") select = select.where("batches.mah_id", "=", caller.organizationId);
  else if (caller.role === "CMO") select = select.where("batches.cmo_id", "=", caller.organizationId);
  else if (caller.role !== "REGULATOR") select = select.where("ledger_events.organization_id", "=", caller.organizationId);
  const seconds = (iso: string) => Math.min(Math.floor(Date.parse(iso) / 1000), MAX_SECONDS);
  if (query.GE_eventTime) select = select.where("ledger_events.block_time", ">=", seconds(query.GE_eventTime));
  if (query.LT_eventTime) select = select.where("ledger_events.block_time", "<", Math.ceil(Date.parse(query.LT_eventTime) / 1000));
  return select.execute();
}

/** The EPCISQueryDocument answering `query` for the caller, within what it may see. */
export async function queryDocument(services: ApiServices, caller: Caller, query: EventFilters & { perPage: number }, queryName: string) {
  if (query.GE_eventTime && query.LT_eventTime && Date.parse(query.GE_eventTime) >= Date.parse(query.LT_eventTime)) {
    throw badInput("EMPTY_TIME_RANGE", "GE_eventTime must be before LT_eventTime", "GE_eventTime");
  }
  const names = epcisNames(publicUrlOf(services));
  const rows = await eventsFor(services, caller, query);
  const byBatch = new Map<string, typeof rows>();
  for (const row of rows) byBatch.set(row.batch_id!, [...(byBatch.get(row.batch_id!) ?? []), row]);
  const events = [];
  for (const [batchId, batchEvents] of byBatch) {
    const batch = (await batchById(services.store.db, batchId))!;
    const seesSerials = caller.role === "REGULATOR" || caller.organizationId === batch.mah_id;
    const packKeys = seesSerials ? await packKeysOf(services.store, batch.id, packIdsOf(batchEvents)) : undefined;
    events.push(...toEpcisDocument(batch, batchEvents, services.now(), names, packKeys).epcisBody.eventList);
  }
  const eventList = events
    .filter((event) => matchesFilters(event, query))
    .sort((a, b) => Number(a["trace:blockNumber"]) - Number(b["trace:blockNumber"]) || Number(a["trace:logIndex"]) - Number(b["trace:logIndex"]))
    .slice(0, query.perPage);
  return {
    "@context": [EPCIS_CONTEXT, { trace: TRACE_NAMESPACE, cbvmda: "urn:epcglobal:cbv:mda:" }],
    type: "EPCISQueryDocument" as const,
    schemaVersion: "2.0",
    creationDate: new Date(services.now() * 1000).toISOString(),
    epcisBody: { queryResults: { queryName, resultsBody: { eventList } } },
  };
}

export const epcisQueryRoutes = [
  defineRoute({
    method: "get",
    path: "/epcis/events",
    summary:
      "EPCIS 2.0 events by business step, disposition, EPC (a pack's SGTIN or a lot), time, read point and business location " +
      "(SimpleEventQuery parameters; several values as repeated parameters or separated by |), as an EPCISQueryDocument, scoped to the caller",
    tags: ["epcis"],
    access: "organization",
    query: filters,
    response: z.looseObject({ type: z.literal("EPCISQueryDocument"), epcisBody: z.looseObject({}) }),
    async handle({ query, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to query EPCIS events");
      return queryDocument(services, caller, query, "SimpleEventQuery");
    },
  }),
];
