import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import request from "supertest";
import { alertConfig, createAlertEngine } from "../../src/alerts";
import type { AlertConfig } from "../../src/alerts";
import { DEFAULT_RECALL_DEADLINES, RecallLevel } from "../../src/ledger";
import { silentLogger } from "../../src/log";
import { listenHttp } from "../../src/ops/listen";
import { startLedgerService } from "../../src/service";
import type { LedgerService } from "../../src/service";
import { createStore } from "../../src/store";
import { deployConsortium, handOver, releasedBatch, startRecall } from "../contracts/fixtures";
import type { Consortium, Party } from "../contracts/fixtures";
import { deploymentOf, serveChain } from "../indexer/chain";
import { createPostgresDatabase, STORE_KINDS } from "../indexer/stores";
import { waitFor, webhookReceiver } from "./receiver";
import type { WebhookReceiver } from "./receiver";

async function signIn(apiUrl: string, party: Party) {
  const challenge = await request(apiUrl).post("/v1/auth/challenge").send({ key: party.key.address }).expect(200);
  const signature = await party.key.signMessage(challenge.body.text as string);
  const token = await request(apiUrl)
    .post("/v1/auth/token")
    .send({ key: party.key.address, challenge: challenge.body.challenge, signature })
    .expect(200);
  return `Bearer ${token.body.token as string}`;
}

/**
 * The whole service (indexer, engine, dispatcher, API) stopped while deliveries are pending and the receiver is
 * down, more ledger activity while it is stopped, then a new service on the same database: nothing is lost.
 */
describe.each(STORE_KINDS)("notifications across a service restart (%s)", (kind) => {
  let chain: Awaited<ReturnType<typeof serveChain>>;
  let c: Consortium;
  let receiver: WebhookReceiver;
  let dataDir: string;
  let database: string;
  let dropDatabase = async () => {};
  /** Services a failed assertion left running, stopped before their database is dropped. */
  const running = new Set<LedgerService>();

  beforeAll(async () => {
    chain = await serveChain();
    c = await deployConsortium();
    receiver = await webhookReceiver();
    dataDir = mkdtempSync(path.join(tmpdir(), "trace-restart-"));
    if (kind === "sqlite") {
      database = path.join(dataDir, "ledger.sqlite");
    } else {
      const created = await createPostgresDatabase("trace_restart");
      database = created.url;
      dropDatabase = created.drop;
    }
  });
  afterAll(async () => {
    for (const service of running) await service.stop();
    await receiver?.close();
    await chain?.close();
    await dropDatabase();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async (alerts: Partial<AlertConfig> = {}) =>
    startLedgerService({
      rpcUrl: chain.url,
      deployment: await deploymentOf(c),
      database,
      dataDir,
      server: await listenHttp("127.0.0.1", 0),
      log: silentLogger(),
      alerts: { pollMs: 50, ...alerts },
      // The receiver listens on loopback, which only a deployment that opts in may deliver to.
      webhooks: { baseDelayMs: 50, maxDelayMs: 200, pollMs: 50, allowPrivateAddresses: true },
    });

  it("delivers what was pending and what happened meanwhile, each once", async () => {
    const { batchId } = await releasedBatch(c, "RESTART", 100n);
    let service: LedgerService = await start();
    running.add(service);
    // Subscribed once the engine has caught up with the history, so only what follows is due.
    await waitFor("the engine to evaluate the history", async () => {
      const { db } = service.services.store;
      const cursor = await db.selectFrom("alert_cursors").select("block_number").where("name", "=", "events").executeTakeFirst();
      const last = await db
        .selectFrom("ledger_events")
        .select((eb) => eb.fn.max("block_number").as("n"))
        .executeTakeFirst();
      return cursor !== undefined && cursor.block_number === Number(last?.n);
    });
    const subscribed = await request(service.apiUrl)
      .post("/v1/subscriptions")
      .set("authorization", await signIn(service.apiUrl, c.distributor))
      .send({ url: receiver.url, kinds: ["ledger.*", "alert.*"] })
      .expect(201);
    receiver.setSecret(subscribed.body.secret);
    await receiver.down();
    await handOver(c, c.cmo, c.distributor, batchId, 10n);
    const attempted = async (s: LedgerService) => {
      const rows = await s.services.store.db
        .selectFrom("webhook_deliveries")
        .select(["attempts"])
        .where("subscription_id", "=", subscribed.body.id)
        .execute();
      return rows.length >= 2 && rows.every((r) => r.attempts >= 1);
    };
    await waitFor("failed first attempts while the receiver is down", () => attempted(service));
    await service.stop();
    running.delete(service);

    await handOver(c, c.cmo, c.distributor, batchId, 5n);
    service = await start();
    running.add(service);
    await receiver.up();
    // Two hand-overs: two shipments and two receipts, each notified to the distributor.
    await waitFor("every notification delivered", async () => receiver.processed.size >= 4 && (await pendingCount(service)) === 0);
    const delivered = [...receiver.processed.values()].map((n) => n.kind).sort();
    expect(delivered).to.deep.equal(["ledger.BatchShipped", "ledger.BatchShipped", "ledger.ShipmentReceived", "ledger.ShipmentReceived"]);
    const delivery = await service.services.store.db
      .selectFrom("webhook_deliveries")
      .innerJoin("notifications", "notifications.id", "webhook_deliveries.notification_id")
      .select(["notifications.idempotency_key", "webhook_deliveries.status"])
      .where("webhook_deliveries.subscription_id", "=", subscribed.body.id)
      .execute();
    expect(delivery.map((d) => d.idempotency_key).sort()).to.deep.equal([...receiver.processed.keys()].sort());
    expect(delivery.every((d) => d.status === "delivered")).to.equal(true);
    expect(receiver.received.every((r) => r.signed)).to.equal(true);
    await service.stop();
    running.delete(service);

    // The engine's cursor survived too: an engine started on the database now finds nothing left to evaluate.
    const store = createStore(database);
    try {
      const engine = createAlertEngine({ store, config: alertConfig(), log: silentLogger(), now: () => Math.floor(Date.now() / 1000) });
      expect(await engine.catchUp()).to.include({ events: 0, observations: 0, alerts: 0 });
    } finally {
      await store.close();
    }
  });
});

describe("recall deadlines", () => {
  it("are configured once: the API answers the deadlines the early-warning rules enforce", async () => {
    const chain = await serveChain();
    const c = await deployConsortium();
    const dataDir = mkdtempSync(path.join(tmpdir(), "trace-deadlines-"));
    const deadlines = { ...DEFAULT_RECALL_DEADLINES, I: { acknowledge: 3_600, progressReport: 7_200 } };
    const service = await startLedgerService({
      rpcUrl: chain.url,
      deployment: await deploymentOf(c),
      database: path.join(dataDir, "ledger.sqlite"),
      dataDir,
      server: await listenHttp("127.0.0.1", 0),
      log: silentLogger(),
      alerts: { recallDeadlines: deadlines },
    });
    try {
      const { batchId } = await releasedBatch(c, "DEADLINES", 100n);
      await startRecall(c, c.mah, batchId, RecallLevel.I);
      const { db } = service.services.store;
      await waitFor(
        "the recall indexed",
        async () => (await db.selectFrom("recalls").select("batch_id").where("batch_id", "=", batchId).executeTakeFirst()) !== undefined,
      );
      const res = await request(service.apiUrl)
        .get(`/v1/recalls/${batchId}`)
        .set("authorization", await signIn(service.apiUrl, c.mah))
        .expect(200);
      expect(res.body.acknowledgeBy - res.body.startedAt).to.equal(3_600);
    } finally {
      await service.stop();
      await chain.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

async function pendingCount(service: LedgerService) {
  const row = await service.services.store.db
    .selectFrom("webhook_deliveries")
    .select((eb) => eb.fn.countAll().as("n"))
    .where("status", "=", "pending")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
