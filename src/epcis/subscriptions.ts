import type { Kysely } from "kysely";
import type { Outbox } from "../notifications/outbox";
import type { Database, LedgerEventTable } from "../store";
import { batchQuery } from "../store/queries";
import type { BatchRow } from "../store/queries";
import { epcisNames, toEpcisDocument } from "./export";
import { matchesFilters, mayQuery } from "./query";
import type { EventFilters } from "./query";

/** The notification kind a subscription to the named query `name` delivers. */
export const subscriptionKind = (name: string) => `epcis.${name}`;

/**
 * Delivers new ledger events to EPCIS subscriptions (src/api/epcis-named-queries.ts): each event a subscriber may
 * query (as GET /epcis/events scopes it) and its named query matches becomes a notification of kind
 * `epcis.<query name>` in the subscriber's outbox, carrying the EPCIS event, for its event stream and webhooks.
 * Runs in the alert engine's transaction, so an event is delivered once, with the other notifications of its chunk.
 * Packs are counted, not named by serial: the subscriber reads serials, where it may, with the query itself.
 */
export async function notifySubscribers(trx: Kysely<Database>, outbox: Outbox, events: LedgerEventTable[], at: number): Promise<void> {
  const batchIds = [...new Set(events.flatMap((e) => (e.batch_id ? [e.batch_id] : [])))];
  if (batchIds.length === 0) return;
  const subscriptions = await trx
    .selectFrom("epcis_subscriptions")
    .innerJoin("epcis_queries", (join) =>
      join
        .onRef("epcis_queries.organization_id", "=", "epcis_subscriptions.organization_id")
        .onRef("epcis_queries.name", "=", "epcis_subscriptions.query_name"),
    )
    .innerJoin("organizations", "organizations.id", "epcis_subscriptions.organization_id")
    .select([
      "epcis_subscriptions.id",
      "epcis_subscriptions.organization_id",
      "epcis_subscriptions.query_name",
      "epcis_subscriptions.public_url",
      "epcis_queries.filters",
      "organizations.role",
    ])
    .execute();
  if (subscriptions.length === 0) return;
  for (const batchId of batchIds) {
    const batch = (await batchQuery(trx).where("batches.id", "=", batchId).executeTakeFirst()) as BatchRow | undefined;
    if (!batch) continue;
    const ofBatch = events.filter((e) => e.batch_id === batchId);
    for (const s of subscriptions) {
      const caller = { organizationId: s.organization_id, role: s.role };
      const visible = ofBatch.filter((event) => mayQuery(caller, batch, event));
      if (visible.length === 0) continue;
      const filters = JSON.parse(s.filters) as EventFilters;
      for (const event of toEpcisDocument(batch, visible, at, epcisNames(s.public_url)).epcisBody.eventList) {
        if (!matchesFilters(event, filters)) continue;
        const payload = JSON.stringify({ queryName: s.query_name, subscriptionID: s.id, event });
        const about = { event: { block: Number(event["trace:blockNumber"]), log: Number(event["trace:logIndex"]) } };
        outbox.add(s.organization_id, subscriptionKind(s.query_name), `epcis:${s.id}:${String(event.eventID)}`, payload, about);
      }
    }
  }
}
