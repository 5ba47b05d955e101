import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { silentLogger } from "../../src/log";
import { createDispatcher } from "../../src/notifications/dispatcher";
import { handOver, receive, releasedBatch, ship } from "../contracts/fixtures";
import { STORE_KINDS } from "../indexer/stores";
import { alertHarness } from "../alerts/harness";
import type { AlertHarness } from "../alerts/harness";
import { webhookReceiver } from "./receiver";
import type { WebhookReceiver } from "./receiver";

describe.each(STORE_KINDS)("webhook delivery (%s)", (kind) => {
  let h: AlertHarness;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    // The receivers listen on loopback, which only a deployment that opts in may deliver to.
    h = await alertHarness(kind, {}, { allowPrivateAddresses: true });
    receiver = await webhookReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await h?.close();
  });

  it("delivers every notification exactly once (after de-duplication) through 500s, refused connections and lost answers", async () => {
    await h.sync();
    const subscribed = await request(h.app)
      .post("/v1/subscriptions")
      .set("authorization", await h.bearer(h.c.distributor))
      .send({ url: receiver.url, kinds: ["*"] })
      .expect(201);
    receiver.setSecret(subscribed.body.secret);
    // Activity that concerns the distributor: custody events and a short receipt's alert.
    const { batchId } = await releasedBatch(h.c, "HOOKED", 100n);
    await handOver(h.c, h.c.cmo, h.c.distributor, batchId, 10n);
    const { shipmentId } = await ship(h.c, h.c.cmo, h.c.distributor, batchId, 5n);
    await receive(h.c, h.c.distributor, h.c.cmo, batchId, shipmentId, 5n, 4n);
    await h.sync();
    const expected = await h.store.db
      .selectFrom("notifications")
      .select(["id", "idempotency_key", "kind"])
      .where("organization_id", "=", h.c.distributor.id)
      .where("id", ">", 0)
      .orderBy("id")
      .execute();
    const fresh = expected.filter((n) => n.kind !== "ledger.OrganizationOnboarded");
    expect(fresh.map((n) => n.kind)).to.include.members(["ledger.BatchShipped", "ledger.ShipmentReceived", "alert.receipt_quantity_mismatch"]);

    // The dispatcher's clock is ours: each pass moves past the longest backoff, so no test waits on a timer.
    let now = Date.now();
    const dispatcher = createDispatcher({
      store: h.store,
      log: silentLogger(),
      apiSecret: h.services.config.secret,
      config: { baseDelayMs: 1_000, maxDelayMs: 60_000, maxAttempts: 50, concurrency: 4, allowPrivateAddresses: true },
      clock: () => now,
    });
    const pass = async () => {
      const result = await dispatcher.runOnce();
      now += 61_000;
      return result;
    };
    const queuedFor = (await h.store.db.selectFrom("webhook_subscriptions").select("after_notification_id").executeTakeFirstOrThrow())
      .after_notification_id;
    const due = expected.filter((n) => n.id > queuedFor);
    expect(due.length).to.be.greaterThan(3);

    receiver.setMode("error");
    expect(await pass()).to.deep.include({ queued: due.length, attempted: due.length, delivered: 0 });
    await receiver.down();
    expect(await pass()).to.deep.include({ attempted: due.length, delivered: 0 });
    await receiver.up();
    receiver.setMode("lost");
    expect(await pass()).to.deep.include({ attempted: due.length, delivered: 0 });
    receiver.setMode("ok");
    for (let i = 0; i < 5 && (await pending()) > 0; i++) await pass();
    expect(await pending()).to.equal(0);

    expect([...receiver.processed.keys()].sort()).to.deep.equal(due.map((n) => n.idempotency_key).sort());
    expect(receiver.duplicates()).to.equal(due.length);
    expect(receiver.received.every((r) => r.signed)).to.equal(true);

    const log = await request(h.app)
      .get(`/v1/subscriptions/${subscribed.body.id}/deliveries`)
      .set("authorization", await h.bearer(h.c.distributor))
      .expect(200);
    expect(log.body.deliveries).to.have.length(due.length);
    for (const delivery of log.body.deliveries) {
      expect(delivery.status).to.equal("delivered");
      const attempts = delivery.log.map((a: { statusCode: number | null; error: string | null }) => a.statusCode ?? a.error);
      expect(attempts).to.have.length(4);
      expect(attempts.slice(0, 2)).to.deep.equal([500, "ECONNREFUSED"]);
      expect(attempts[3]).to.equal(204);
    }
    await dispatcher.stop();

    async function pending() {
      const row = await h.store.db
        .selectFrom("webhook_deliveries")
        .select((eb) => eb.fn.countAll().as("n"))
        .where("status", "=", "pending")
        .executeTakeFirstOrThrow();
      return Number(row.n);
    }
  });

  it("gives up after the last attempt and keeps the failure in the log", async () => {
    const dead = await webhookReceiver();
    await dead.down();
    const subscribed = await request(h.app)
      .post("/v1/subscriptions")
      .set("authorization", await h.bearer(h.c.dispenser))
      .send({ url: dead.url, kinds: ["ledger.*"] })
      .expect(201);
    await handOver(
      h.c,
      h.c.distributor,
      h.c.dispenser,
      (await h.store.db.selectFrom("batches").select("id").where("batch_number", "=", "HOOKED").executeTakeFirstOrThrow()).id,
      1n,
    );
    await h.sync();
    let now = Date.now();
    const dispatcher = createDispatcher({
      store: h.store,
      log: silentLogger(),
      apiSecret: h.services.config.secret,
      config: { baseDelayMs: 10, maxDelayMs: 10, maxAttempts: 3, allowPrivateAddresses: true },
      clock: () => now,
    });
    for (let i = 0; i < 4; i++) {
      await dispatcher.runOnce();
      now += 1_000;
    }
    await dispatcher.stop();
    const log = await request(h.app)
      .get(`/v1/subscriptions/${subscribed.body.id}/deliveries`)
      .set("authorization", await h.bearer(h.c.dispenser))
      .expect(200);
    expect(log.body.deliveries.length).to.be.greaterThan(0);
    for (const delivery of log.body.deliveries) {
      expect(delivery).to.include({ status: "failed", attempts: 3, nextAttemptAt: null });
      expect(delivery.log.map((a: { error: string }) => a.error)).to.deep.equal(["ECONNREFUSED", "ECONNREFUSED", "ECONNREFUSED"]);
    }
    const failed = await request(h.app)
      .get(`/v1/subscriptions/${subscribed.body.id}/deliveries?status=failed`)
      .set("authorization", await h.bearer(h.c.dispenser))
      .expect(200);
    expect(failed.body.deliveries).to.have.length(log.body.deliveries.length);
  });
});
