import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { Logger } from "../log";
import type { Store, WebhookDeliveryTable } from "../store";
import { NotPublicError, pinnedLookup, systemResolver } from "./address";
import type { Resolver } from "./address";
import { kindMatches } from "./kinds";
import { notificationData } from "./outbox";
import { secretBox } from "./secret-box";
import { SIGNATURE_HEADER, signWebhook } from "./signature";

/** Retry, pacing and reach of webhook deliveries (milliseconds unless named otherwise). */
export type DispatcherConfig = {
  /** First retry after about this long; each further one waits twice as long (with jitter), up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** After this many failed attempts a delivery is marked failed (it stays in the delivery log). */
  maxAttempts: number;
  /** A receiver that has not answered within this long has failed the attempt. */
  timeoutMs: number;
  /** Deliveries in flight at once. */
  concurrency: number;
  /** How often to look for new notifications and due retries. */
  pollMs: number;
  /**
   * Whether webhook URLs may point at loopback, link-local or private addresses. Off by default, so an organization
   * cannot make the server POST into its operator's network; a deployment whose receivers sit on an internal network
   * turns it on.
   */
  allowPrivateAddresses: boolean;
};

/** Defaults: retries at about 1 s, 2 s, 4 s … capped at 1 hour, 20 attempts (over about 13 hours). */
export const DEFAULT_DISPATCHER_CONFIG: DispatcherConfig = {
  baseDelayMs: 1_000,
  maxDelayMs: 3_600_000,
  maxAttempts: 20,
  timeoutMs: 10_000,
  concurrency: 8,
  pollMs: 500,
  allowPrivateAddresses: false,
};

export type Dispatcher = {
  /** Queues new notifications for their subscriptions and attempts every delivery that is due; resolves when done. */
  runOnce(): Promise<{ queued: number; attempted: number; delivered: number }>;
  start(): void;
  /** Stops polling and waits for deliveries in flight. */
  stop(): Promise<void>;
};

export type DispatcherOptions = {
  store: Store;
  log: Logger;
  /** The API secret: webhook secrets are stored sealed with a key derived from it (secret-box.ts). */
  apiSecret: Buffer;
  config?: Partial<DispatcherConfig>;
  /** Milliseconds since the epoch (injectable for tests). */
  clock?: () => number;
  random?: () => number;
  /** Resolves a receiver's host name to every address (injectable for tests; node:dns lookup by default). */
  resolve?: Resolver;
};

/** What a receiver gets: the notification, with its idempotency key to de-duplicate repeated deliveries. */
export type WebhookBody = {
  id: number;
  idempotencyKey: string;
  kind: string;
  organizationId: number;
  createdAt: number;
  data: unknown;
};

/** The delay before retry number `attempts` (1 = the first retry): exponential, capped, with "equal jitter". */
export function backoffDelay(
  config: Pick<DispatcherConfig, "baseDelayMs" | "maxDelayMs">,
  attempts: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(config.maxDelayMs, config.baseDelayMs * 2 ** Math.min(attempts - 1, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Delivers the outbox to webhooks at least once. Everything lives in the database: which notifications each
 * subscription has queued (its `after_notification_id`), each delivery's state and next attempt, and a log of
 * attempts; so a dispatcher started after a crash or restart carries on where the last one stopped. A delivery is
 * claimed by pushing its next attempt past the timeout before it is sent, so two dispatchers never send it at once
 * and one that died mid-attempt leaves it to be retried.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const config = { ...DEFAULT_DISPATCHER_CONFIG, ...options.config };
  const { store, log } = options;
  const { db } = store;
  const clock = options.clock ?? Date.now;
  const random = options.random ?? Math.random;
  const resolve = options.resolve ?? systemResolver;
  const secrets = secretBox(options.apiSecret);
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let pass: Promise<unknown> = Promise.resolve();

  async function queueNew(): Promise<number> {
    const subscriptions = await db.selectFrom("webhook_subscriptions").selectAll().where("status", "=", "active").execute();
    let queued = 0;
    for (const subscription of subscriptions) {
      const kinds = JSON.parse(subscription.kinds) as string[];
      for (;;) {
        const fresh = await db
          .selectFrom("notifications")
          .select(["id", "kind"])
          .where("organization_id", "=", subscription.organization_id)
          .where("id", ">", subscription.after_notification_id)
          .orderBy("id")
          .limit(500)
          .execute();
        if (fresh.length === 0) break;
        const at = clock();
        const rows: WebhookDeliveryTable[] = fresh
          .filter((n) => kindMatches(kinds, n.kind))
          .map((n) => ({
            subscription_id: subscription.id,
            notification_id: n.id,
            status: "pending",
            attempts: 0,
            next_attempt_at: at,
            last_status: null,
            last_error: null,
            created_at: at,
            delivered_at: null,
          }));
        const last = fresh[fresh.length - 1]!.id;
        await db.transaction().execute(async (trx) => {
          if (rows.length > 0)
            await trx
              .insertInto("webhook_deliveries")
              .values(rows)
              .onConflict((c) => c.columns(["subscription_id", "notification_id"]).doNothing())
              .execute();
          await trx
            .updateTable("webhook_subscriptions")
            .set({ after_notification_id: last })
            .where("id", "=", subscription.id)
            .where("after_notification_id", "=", subscription.after_notification_id)
            .execute();
        });
        subscription.after_notification_id = last;
        queued += rows.length;
      }
    }
    return queued;
  }

  async function deliverDue(): Promise<{ attempted: number; delivered: number }> {
    const due = await db
      .selectFrom("webhook_deliveries")
      .innerJoin("webhook_subscriptions", "webhook_subscriptions.id", "webhook_deliveries.subscription_id")
      .innerJoin("notifications", "notifications.id", "webhook_deliveries.notification_id")
      .leftJoin("ledger_events", (join) =>
        join.onRef("ledger_events.block_number", "=", "notifications.event_block").onRef("ledger_events.log_index", "=", "notifications.event_log"),
      )
      .select([
        "ledger_events.payload as event_args",
        "webhook_deliveries.subscription_id",
        "webhook_deliveries.notification_id",
        "webhook_deliveries.attempts",
        "webhook_deliveries.next_attempt_at",
        "webhook_subscriptions.url",
        "webhook_subscriptions.secret",
        "notifications.kind",
        "notifications.idempotency_key",
        "notifications.organization_id",
        "notifications.created_at",
        "notifications.payload",
      ])
      .where("webhook_deliveries.status", "=", "pending")
      .where("webhook_deliveries.next_attempt_at", "<=", clock())
      .orderBy("webhook_deliveries.next_attempt_at")
      .orderBy("webhook_deliveries.notification_id")
      .limit(config.concurrency * 8)
      .execute();
    let attempted = 0;
    let delivered = 0;
    const queue = [...due];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const claimed = await db
          .updateTable("webhook_deliveries")
          .set({ next_attempt_at: clock() + config.timeoutMs * 2 })
          .where("subscription_id", "=", item.subscription_id)
          .where("notification_id", "=", item.notification_id)
          .where("status", "=", "pending")
          .where("next_attempt_at", "=", item.next_attempt_at)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) continue;
        attempted++;
        if (await attempt(item)) delivered++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.concurrency, due.length) }, worker));
    return { attempted, delivered };
  }

  async function attempt(item: {
    subscription_id: string;
    notification_id: number;
    attempts: number;
    url: string;
    secret: string;
    kind: string;
    idempotency_key: string;
    organization_id: number;
    created_at: number;
    payload: string;
    event_args: string | null;
  }): Promise<boolean> {
    const body = JSON.stringify({
      id: Number(item.notification_id),
      idempotencyKey: item.idempotency_key,
      kind: item.kind,
      organizationId: item.organization_id,
      createdAt: Number(item.created_at),
      data: JSON.parse(notificationData(item.payload, item.event_args)) as unknown,
    } satisfies WebhookBody);
    const started = clock();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const url = new URL(item.url);
      const client = url.protocol === "https:" ? https : url.protocol === "http:" ? http : undefined;
      if (!client) throw new Error(`${url.protocol} is not http(s)`);
      // Checked here and not only at subscription time: a public name may resolve to a private address.
      const lookup = await pinnedLookup(url, { allowPrivateAddresses: config.allowPrivateAddresses, resolve });
      statusCode = await post(
        client,
        url,
        lookup,
        {
          "content-type": "application/json",
          "idempotency-key": item.idempotency_key,
          "x-trace-event": item.kind,
          "x-trace-delivery": `${item.subscription_id}:${item.notification_id}`,
          [SIGNATURE_HEADER]: signWebhook(secrets.open(item.secret, item.subscription_id), body, Math.floor(started / 1000)),
        },
        body,
      );
      if (statusCode < 200 || statusCode >= 300) error = `the receiver answered ${statusCode}`;
    } catch (failure) {
      error = failure instanceof NotPublicError ? failure.message : ((failure as NodeJS.ErrnoException).code ?? (failure as Error).message);
    }
    const attempts = item.attempts + 1;
    const at = clock();
    const ok = error === null;
    const exhausted = !ok && attempts >= config.maxAttempts;
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto("webhook_attempts")
        .values({
          subscription_id: item.subscription_id,
          notification_id: item.notification_id,
          attempt: attempts,
          attempted_at: started,
          status_code: statusCode,
          error,
          duration_ms: at - started,
        })
        .onConflict((c) => c.columns(["subscription_id", "notification_id", "attempt"]).doNothing())
        .execute();
      await trx
        .updateTable("webhook_deliveries")
        .set({
          status: ok ? "delivered" : exhausted ? "failed" : "pending",
          attempts,
          next_attempt_at: ok || exhausted ? at : at + backoffDelay(config, attempts, random),
          last_status: statusCode,
          last_error: error,
          delivered_at: ok ? at : null,
        })
        .where("subscription_id", "=", item.subscription_id)
        .where("notification_id", "=", item.notification_id)
        .where("status", "=", "pending")
        .execute();
    });
    if (!ok) log.debug({ subscription: item.subscription_id, notification: item.notification_id, attempts, error }, "webhook delivery failed");
    return ok;
  }

  /**
   * POSTs `body` to `url`, connecting only to the addresses `lookup` answers; resolves with the status code. Redirects
   * are not followed (a 3xx is a failed attempt), so a receiver cannot bounce the request elsewhere.
   */
  function post(
    client: typeof http | typeof https,
    url: URL,
    lookup: LookupFunction,
    headers: Record<string, string>,
    body: string,
  ): Promise<number> {
    return new Promise((resolveStatus, reject) => {
      const request = client.request(url, {
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
        lookup,
        agent: false,
      });
      const timer = setTimeout(() => request.destroy(new Error(`the receiver did not answer within ${config.timeoutMs} ms`)), config.timeoutMs);
      request.on("response", (response) => {
        clearTimeout(timer);
        resolveStatus(response.statusCode ?? 0);
        response.destroy();
      });
      request.on("error", (failure) => {
        clearTimeout(timer);
        reject(failure);
      });
      request.end(body);
    });
  }

  async function runOnce() {
    const queued = await queueNew();
    const { attempted, delivered } = await deliverDue();
    return { queued, attempted, delivered };
  }

  function serially<T>(task: () => Promise<T>): Promise<T> {
    const next = pass.then(task);
    pass = next.catch(() => undefined);
    return next;
  }

  const tick = () => {
    if (stopped) return;
    serially(runOnce)
      .catch((error: unknown) => log.error({ err: error }, "webhook dispatch failed; retrying"))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, config.pollMs);
      });
  };

  return {
    runOnce: () => serially(runOnce),
    start() {
      if (!stopped) return;
      stopped = false;
      tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await pass;
    },
  };
}
