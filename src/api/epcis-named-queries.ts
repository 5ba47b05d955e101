import { randomUUID } from "node:crypto";
import { z } from "zod";
import { badInput, conflict, notFound, unauthenticated } from "../ledger/errors";
import type { EventFilters } from "../epcis/query";
import { STREAM_PATH } from "../notifications/stream";
import { subscribeWebhook, unsubscribeWebhook, webhookUrl } from "../notifications/routes";
import { literalHostRefusal, NOT_PUBLIC } from "../notifications/address";
import type { EpcisSubscriptionTable } from "../store";
import type { ApiServices, Caller } from "./context";
import { publicUrlOf } from "./epcis";
import { eventFilters, perPage, queryDocument } from "./epcis-query";
import { defineRoute } from "./routes";

/**
 * EPCIS 2.0 named queries and subscriptions (the REST binding's /queries): an organization saves SimpleEventQuery
 * parameters under a name, runs them, and subscribes to them. A subscription's matching events reach the
 * organization's notification outbox as `epcis.<query name>` (so its event stream, GET /v1/notifications/stream,
 * carries them), and its webhook when the subscription names a `dest`. Queries, subscriptions and what they
 * deliver are the organization's own and scoped as GET /epcis/events is.
 */

const queryName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "a query name is 1 to 64 letters, digits, _ or -")
  .meta({ description: "the query's name, unique to the organization" });
const nameParams = z.object({ queryName });
const queryView = z.object({
  name: z.string(),
  query: z.record(z.string(), z.unknown()).meta({ description: "SimpleEventQuery parameters, as GET /epcis/events takes them" }),
  createdAt: z.number().int(),
});
const subscriptionView = z.object({
  subscriptionID: z.string(),
  queryName: z.string(),
  dest: z.string().nullable().meta({ description: "the webhook matching events are POSTed to; null: the event stream only" }),
  stream: z.string().meta({ description: "where the organization's event stream carries them, as notifications of kind epcis.<query name>" }),
  createdAt: z.number().int(),
});

const signedIn = (caller: Caller | undefined) => {
  if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to use EPCIS named queries");
  return caller;
};

async function ownQuery(services: ApiServices, caller: Caller, name: string) {
  const row = await services.store.db
    .selectFrom("epcis_queries")
    .selectAll()
    .where("organization_id", "=", caller.organizationId)
    .where("name", "=", name)
    .executeTakeFirst();
  if (!row) throw notFound("UNKNOWN_QUERY", `organization ${caller.organizationId} has no named query ${name}`);
  return { name: row.name, query: JSON.parse(row.filters) as EventFilters, createdAt: Number(row.created_at) };
}

async function subscriptionAnswer(services: ApiServices, row: EpcisSubscriptionTable) {
  const webhook = row.webhook_id
    ? await services.store.db.selectFrom("webhook_subscriptions").select("url").where("id", "=", row.webhook_id).executeTakeFirst()
    : undefined;
  return { subscriptionID: row.id, queryName: row.query_name, dest: webhook?.url ?? null, stream: STREAM_PATH, createdAt: Number(row.created_at) };
}

export const epcisNamedQueryRoutes = [
  defineRoute({
    method: "post",
    path: "/epcis/queries",
    summary: "Save SimpleEventQuery parameters under a name (EPCIS 2.0 named query), the organization's own",
    tags: ["epcis"],
    access: "organization",
    body: z.strictObject({ name: queryName, query: eventFilters.strict() }),
    response: queryView,
    status: 201,
    errors: { 400: "a bad name or query parameter", 409: "the organization has a query of that name (QUERY_EXISTS)" },
    async handle({ body, caller, services }) {
      const { organizationId } = signedIn(caller);
      if (body.query.GE_eventTime && body.query.LT_eventTime && Date.parse(body.query.GE_eventTime) >= Date.parse(body.query.LT_eventTime)) {
        throw badInput("EMPTY_TIME_RANGE", "GE_eventTime must be before LT_eventTime", "query.GE_eventTime");
      }
      const existing = await services.store.db
        .selectFrom("epcis_queries")
        .select("name")
        .where("organization_id", "=", organizationId)
        .where("name", "=", body.name)
        .executeTakeFirst();
      if (existing) throw conflict("QUERY_EXISTS", `organization ${organizationId} already has a query named ${body.name}`);
      const createdAt = services.now();
      // Two requests racing for one name: the primary key keeps the first, the second stores nothing.
      await services.store.db
        .insertInto("epcis_queries")
        .values({ organization_id: organizationId, name: body.name, filters: JSON.stringify(body.query), created_at: createdAt })
        .onConflict((c) => c.columns(["organization_id", "name"]).doNothing())
        .execute();
      return { name: body.name, query: body.query, createdAt };
    },
  }),
  defineRoute({
    method: "get",
    path: "/epcis/queries",
    summary: "The organization's named queries",
    tags: ["epcis"],
    access: "organization",
    response: z.object({ queries: z.array(queryView) }),
    async handle({ caller, services }) {
      const { organizationId } = signedIn(caller);
      const rows = await services.store.db
        .selectFrom("epcis_queries")
        .selectAll()
        .where("organization_id", "=", organizationId)
        .orderBy("name")
        .execute();
      return { queries: rows.map((r) => ({ name: r.name, query: JSON.parse(r.filters), createdAt: Number(r.created_at) })) };
    },
  }),
  defineRoute({
    method: "get",
    path: "/epcis/queries/:queryName",
    summary: "One of the organization's named queries",
    tags: ["epcis"],
    access: "organization",
    params: nameParams,
    response: queryView,
    errors: { 404: "no such query of the organization (UNKNOWN_QUERY)" },
    async handle({ params, caller, services }) {
      return ownQuery(services, signedIn(caller), params.queryName);
    },
  }),
  defineRoute({
    method: "delete",
    path: "/epcis/queries/:queryName",
    summary: "Delete a named query and its subscriptions (their webhooks stop; pending deliveries are cancelled)",
    tags: ["epcis"],
    access: "organization",
    params: nameParams,
    response: z.object({ name: z.string(), subscriptionsEnded: z.number().int() }),
    errors: { 404: "no such query of the organization (UNKNOWN_QUERY)" },
    async handle({ params, caller, services }) {
      const owner = signedIn(caller);
      await ownQuery(services, owner, params.queryName);
      const at = services.now();
      const ended = await services.store.db.transaction().execute(async (trx) => {
        const subscriptions = await trx
          .selectFrom("epcis_subscriptions")
          .selectAll()
          .where("organization_id", "=", owner.organizationId)
          .where("query_name", "=", params.queryName)
          .execute();
        for (const s of subscriptions) if (s.webhook_id) await unsubscribeWebhook(trx, s.webhook_id, at);
        await trx
          .deleteFrom("epcis_subscriptions")
          .where("organization_id", "=", owner.organizationId)
          .where("query_name", "=", params.queryName)
          .execute();
        await trx.deleteFrom("epcis_queries").where("organization_id", "=", owner.organizationId).where("name", "=", params.queryName).execute();
        return subscriptions.length;
      });
      return { name: params.queryName, subscriptionsEnded: ended };
    },
  }),
  defineRoute({
    method: "get",
    path: "/epcis/queries/:queryName/events",
    summary: "Run a named query: its events as an EPCISQueryDocument, scoped to the caller as GET /epcis/events is",
    tags: ["epcis"],
    access: "organization",
    params: nameParams,
    query: z.object({ perPage }),
    response: z.looseObject({ type: z.literal("EPCISQueryDocument"), epcisBody: z.looseObject({}) }),
    errors: { 404: "no such query of the organization (UNKNOWN_QUERY)" },
    async handle({ params, query, caller, services }) {
      const owner = signedIn(caller);
      const saved = await ownQuery(services, owner, params.queryName);
      return queryDocument(services, owner, { ...saved.query, perPage: query.perPage }, saved.name);
    },
  }),
  defineRoute({
    method: "post",
    path: "/epcis/queries/:queryName/subscriptions",
    summary:
      "Subscribe to a named query: each new matching event reaches the organization's event stream as a notification of kind " +
      "epcis.<query name>, and is POSTed to `dest` (a webhook, signed as every notification webhook is) when given",
    tags: ["epcis"],
    access: "organization",
    params: nameParams,
    body: z.strictObject({ dest: webhookUrl.optional() }),
    response: subscriptionView.extend({
      secret: z.string().nullable().meta({ description: "with dest: HMAC-SHA256 key of the webhook's x-trace-signature header, shown once" }),
    }),
    status: 201,
    errors: { 400: `a bad dest; ${NOT_PUBLIC} when its host is a loopback, link-local or private address`, 404: "no such query (UNKNOWN_QUERY)" },
    async handle({ params, body, caller, services }) {
      const owner = signedIn(caller);
      const saved = await ownQuery(services, owner, params.queryName);
      const refusal = body.dest && !services.config.allowPrivateWebhooks ? literalHostRefusal(new URL(body.dest)) : null;
      if (refusal) throw badInput(NOT_PUBLIC, `webhooks are delivered to public addresses only: ${refusal}`, "dest");
      const row: EpcisSubscriptionTable = {
        id: randomUUID(),
        organization_id: owner.organizationId,
        query_name: saved.name,
        webhook_id: null,
        public_url: publicUrlOf(services),
        created_at: services.now(),
      };
      const secret = await services.store.db.transaction().execute(async (trx) => {
        const webhook = body.dest
          ? await subscribeWebhook(trx, services, owner.organizationId, {
              url: body.dest,
              kinds: [`epcis.${saved.name}`],
              description: `EPCIS query ${saved.name}`,
            })
          : undefined;
        row.webhook_id = webhook?.row.id ?? null;
        await trx.insertInto("epcis_subscriptions").values(row).execute();
        return webhook?.secret ?? null;
      });
      return { ...(await subscriptionAnswer(services, row)), secret };
    },
  }),
  defineRoute({
    method: "get",
    path: "/epcis/queries/:queryName/subscriptions",
    summary: "The subscriptions to one of the organization's named queries",
    tags: ["epcis"],
    access: "organization",
    params: nameParams,
    response: z.object({ subscriptions: z.array(subscriptionView) }),
    errors: { 404: "no such query (UNKNOWN_QUERY)" },
    async handle({ params, caller, services }) {
      const owner = signedIn(caller);
      await ownQuery(services, owner, params.queryName);
      const rows = await services.store.db
        .selectFrom("epcis_subscriptions")
        .selectAll()
        .where("organization_id", "=", owner.organizationId)
        .where("query_name", "=", params.queryName)
        .orderBy("created_at")
        .execute();
      return { subscriptions: await Promise.all(rows.map((r) => subscriptionAnswer(services, r))) };
    },
  }),
  defineRoute({
    method: "delete",
    path: "/epcis/queries/:queryName/subscriptions/:subscriptionID",
    summary: "End a subscription to a named query (its webhook stops; pending deliveries are cancelled)",
    tags: ["epcis"],
    access: "organization",
    params: z.object({ queryName, subscriptionID: z.uuid() }),
    response: subscriptionView,
    errors: { 404: "no such query, or no such subscription to it (UNKNOWN_SUBSCRIPTION)" },
    async handle({ params, caller, services }) {
      const owner = signedIn(caller);
      await ownQuery(services, owner, params.queryName);
      const row = await services.store.db
        .selectFrom("epcis_subscriptions")
        .selectAll()
        .where("id", "=", params.subscriptionID)
        .where("organization_id", "=", owner.organizationId)
        .where("query_name", "=", params.queryName)
        .executeTakeFirst();
      if (!row) throw notFound("UNKNOWN_SUBSCRIPTION", `query ${params.queryName} has no subscription ${params.subscriptionID}`);
      const answer = await subscriptionAnswer(services, row);
      await services.store.db.transaction().execute(async (trx) => {
        if (row.webhook_id) await unsubscribeWebhook(trx, row.webhook_id, services.now());
        await trx.deleteFrom("epcis_subscriptions").where("id", "=", row.id).execute();
      });
      return answer;
    },
  }),
];
