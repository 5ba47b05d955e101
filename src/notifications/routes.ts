import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { ApiServices, Caller } from "../api/context";
import { badInput, notAllowed, notFound, unauthenticated } from "../ledger/errors";
import { defineRoute } from "../api/routes";
import { rowId, wholeNumber } from "../api/schemas";
import type { Kysely } from "kysely";
import type { Database, WebhookSubscriptionTable } from "../store";
import { literalHostRefusal, NOT_PUBLIC } from "./address";
import { KIND_PATTERNS } from "./kinds";
import { secretBox } from "./secret-box";
import { newSecret } from "./signature";

const subscriptionView = z.object({
  id: z.string(),
  organizationId: z.number().int(),
  url: z.string(),
  kinds: z.array(z.string()),
  description: z.string().nullable(),
  status: z.enum(["active", "deleted"]),
  createdAt: z.number().int(),
});

const deliveryView = z.object({
  notificationId: z.number().int(),
  kind: z.string(),
  idempotencyKey: z.string(),
  status: z.enum(["pending", "delivered", "failed", "cancelled"]),
  attempts: z.number().int(),
  nextAttemptAt: z.number().int().nullable().meta({ description: "milliseconds since the epoch; null once settled" }),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  deliveredAt: z.number().int().nullable(),
  log: z.array(
    z.object({
      attempt: z.number().int(),
      attemptedAt: z.number().int(),
      statusCode: z.number().int().nullable(),
      error: z.string().nullable(),
      durationMs: z.number().int(),
    }),
  ),
});

const idParams = z.object({ id: z.string().regex(/^sub_[0-9a-f]{24}$/, "a subscription id is sub_ and 24 hex digits") });

const webhookUrl = z
  .string()
  .max(2048)
  .refine((text) => {
    try {
      const url = new URL(text);
      return (url.protocol === "https:" || url.protocol === "http:") && !url.username && !url.password;
    } catch {
      return false;
    }
  }, "must be an absolute http(s) URL without credentials")
  .meta({ description: "where notifications are POSTed" });

const kindList = z
  .array(z.string().max(80))
  .min(1)
  .max(64)
  .meta({ description: `notification kinds or patterns (${KIND_PATTERNS.join(", ")}); GET /v1/notification-kinds lists them` });

function view(row: WebhookSubscriptionTable): z.input<typeof subscriptionView> {
  return {
    id: row.id,
    organizationId: row.organization_id,
    url: row.url,
    kinds: JSON.parse(row.kinds) as string[],
    description: row.description,
    status: row.status as "active" | "deleted",
    createdAt: Number(row.created_at),
  };
}

/**
 * Subscribes an organization's webhook to notifications of `kinds` (EPCIS subscriptions make theirs here too);
 * answers the row and its signing secret, shown once.
 */
export async function subscribeWebhook(
  db: Kysely<Database>,
  services: Pick<ApiServices, "config" | "now">,
  organizationId: number,
  request: { url: string; kinds: string[]; description?: string },
) {
  // Deliveries start with the notifications that come after the subscription: the stream serves the past.
  const last = await db
    .selectFrom("notifications")
    .select((eb) => eb.fn.max("id").as("id"))
    .executeTakeFirst();
  const id = `sub_${randomBytes(12).toString("hex")}`;
  const secret = newSecret();
  const row: WebhookSubscriptionTable = {
    id,
    organization_id: organizationId,
    url: request.url,
    kinds: JSON.stringify([...new Set(request.kinds)]),
    secret: secretBox(services.config.secret).seal(secret, id),
    description: request.description ?? null,
    status: "active",
    after_notification_id: Number(last?.id ?? 0),
    created_at: services.now(),
    deleted_at: null,
  };
  await db.insertInto("webhook_subscriptions").values(row).execute();
  return { row, secret };
}

/** A webhook subscription ends: it is marked deleted and its pending deliveries are cancelled. */
export async function unsubscribeWebhook(db: Kysely<Database>, id: string, at: number) {
  await db.updateTable("webhook_subscriptions").set({ status: "deleted", deleted_at: at }).where("id", "=", id).execute();
  await db.updateTable("webhook_deliveries").set({ status: "cancelled" }).where("subscription_id", "=", id).where("status", "=", "pending").execute();
}

/** The caller's own subscription, or the error that says why not. */
async function ownSubscription(services: ApiServices, caller: Caller | undefined, id: string) {
  if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in as an organization to manage its subscriptions");
  const row = await services.store.db.selectFrom("webhook_subscriptions").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row || row.status === "deleted") throw notFound("NO_SUCH_SUBSCRIPTION", `no subscription ${id}`);
  if (row.organization_id !== caller.organizationId) {
    throw notAllowed("NOT_YOUR_SUBSCRIPTION", `subscription ${id} belongs to organization ${row.organization_id}`);
  }
  return row;
}

/**
 * Webhook subscriptions: each organization manages its own. Unless `allowPrivateAddresses` (the dispatcher setting
 * of the same name) is on, a URL whose host is a loopback, link-local or private literal, or localhost, is refused;
 * the dispatcher checks the addresses a name resolves to at each delivery. `kinds` are every kind the raiser of
 * notifications (the alert engine) writes: notifications know no kind of their own.
 */
export { webhookUrl };

export const subscriptionRoutes = (kinds: readonly string[], settings: { allowPrivateAddresses?: boolean } = {}) => [
  defineRoute({
    method: "get",
    path: "/v1/notification-kinds",
    summary: "Every notification kind a subscription may name",
    tags: ["notifications"],
    access: "public",
    response: z.object({ kinds: z.array(z.string()), patterns: z.array(z.string()) }),
    async handle() {
      return { kinds: [...kinds], patterns: KIND_PATTERNS };
    },
  }),
  defineRoute({
    method: "post",
    path: "/v1/subscriptions",
    summary: "Subscribe a webhook to notifications of some kinds; the answer carries its signing secret, shown once",
    tags: ["notifications"],
    access: "organization",
    body: z.object({ url: webhookUrl, kinds: kindList, description: z.string().max(200).optional() }),
    response: subscriptionView.extend({ secret: z.string().meta({ description: "HMAC-SHA256 key of the x-trace-signature header" }) }),
    status: 201,
    errors: { 400: `bad input; ${NOT_PUBLIC} when the URL's host is a loopback, link-local or private address` },
    async handle({ body, caller, services }) {
      const refusal = settings.allowPrivateAddresses ? null : literalHostRefusal(new URL(body.url));
      if (refusal) throw badInput(NOT_PUBLIC, `webhooks are delivered to public addresses only: ${refusal}`, "url");
      body.kinds.forEach((kind, i) => {
        if (!KIND_PATTERNS.includes(kind) && !kinds.includes(kind)) {
          throw badInput("UNKNOWN_NOTIFICATION_KIND", `unknown notification kind ${kind}; see GET /v1/notification-kinds`, `kinds.${i}`);
        }
      });
      const { row, secret } = await subscribeWebhook(services.store.db, services, caller!.organizationId, body);
      return { ...view(row), secret };
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/subscriptions",
    summary: "The signed-in organization's webhook subscriptions",
    tags: ["notifications"],
    access: "organization",
    response: z.object({ subscriptions: z.array(subscriptionView) }),
    async handle({ caller, services }) {
      const rows = await services.store.db
        .selectFrom("webhook_subscriptions")
        .selectAll()
        .where("organization_id", "=", caller!.organizationId)
        .where("status", "=", "active")
        .orderBy("created_at")
        .orderBy("id")
        .execute();
      return { subscriptions: rows.map(view) };
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/subscriptions/:id",
    summary: "One of the organization's subscriptions",
    tags: ["notifications"],
    access: "organization",
    params: idParams,
    response: subscriptionView,
    errors: { 403: "another organization's subscription", 404: "no such subscription" },
    async handle({ params, caller, services }) {
      return view(await ownSubscription(services, caller, params.id));
    },
  }),
  defineRoute({
    method: "delete",
    path: "/v1/subscriptions/:id",
    summary: "Delete a subscription; its pending deliveries are cancelled (the delivery log stays)",
    tags: ["notifications"],
    access: "organization",
    params: idParams,
    response: subscriptionView,
    errors: { 403: "another organization's subscription", 404: "no such subscription" },
    async handle({ params, caller, services }) {
      const row = await ownSubscription(services, caller, params.id);
      const at = services.now();
      await services.store.db.transaction().execute((trx) => unsubscribeWebhook(trx, row.id, at));
      return view({ ...row, status: "deleted", deleted_at: at });
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/subscriptions/:id/deliveries",
    summary: "The subscription's delivery log, newest first: each notification's state and every attempt",
    tags: ["notifications"],
    access: "organization",
    params: idParams,
    query: z.object({
      status: z.enum(["pending", "delivered", "failed", "cancelled"]).optional(),
      before: rowId.optional().meta({ description: "only notifications with a smaller id (the next page)" }),
      limit: wholeNumber(1, 500).default(100),
    }),
    response: z.object({ deliveries: z.array(deliveryView) }),
    errors: { 403: "another organization's subscription", 404: "no such subscription" },
    async handle({ params, query, caller, services }) {
      const row = await ownSubscription(services, caller, params.id);
      const { db } = services.store;
      let select = db
        .selectFrom("webhook_deliveries")
        .innerJoin("notifications", "notifications.id", "webhook_deliveries.notification_id")
        .select([
          "webhook_deliveries.notification_id",
          "webhook_deliveries.status",
          "webhook_deliveries.attempts",
          "webhook_deliveries.next_attempt_at",
          "webhook_deliveries.last_status",
          "webhook_deliveries.last_error",
          "webhook_deliveries.delivered_at",
          "notifications.kind",
          "notifications.idempotency_key",
        ])
        .where("webhook_deliveries.subscription_id", "=", row.id);
      if (query.status) select = select.where("webhook_deliveries.status", "=", query.status);
      if (query.before) select = select.where("webhook_deliveries.notification_id", "<", query.before);
      const deliveries = await select.orderBy("webhook_deliveries.notification_id", "desc").limit(query.limit).execute();
      const ids = deliveries.map((d) => d.notification_id);
      const attempts = ids.length
        ? await db
            .selectFrom("webhook_attempts")
            .selectAll()
            .where("subscription_id", "=", row.id)
            .where("notification_id", "in", ids)
            .orderBy("attempt")
            .execute()
        : [];
      return {
        deliveries: deliveries.map((d) => ({
          notificationId: Number(d.notification_id),
          kind: d.kind,
          idempotencyKey: d.idempotency_key,
          status: d.status as "pending",
          attempts: d.attempts,
          nextAttemptAt: d.status === "pending" ? Number(d.next_attempt_at) : null,
          lastStatus: d.last_status,
          lastError: d.last_error,
          deliveredAt: d.delivered_at === null ? null : Number(d.delivered_at),
          log: attempts
            .filter((a) => Number(a.notification_id) === Number(d.notification_id))
            .map((a) => ({
              attempt: a.attempt,
              attemptedAt: Number(a.attempted_at),
              statusCode: a.status_code,
              error: a.error,
              durationMs: a.duration_ms,
            })),
        })),
      };
    },
  }),
];
