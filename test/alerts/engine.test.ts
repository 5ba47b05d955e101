import { afterEach, describe, it } from "vitest";
import { expect } from "chai";
import { alertConfig, createAlertEngine } from "../../src/alerts";
import { createIndexer } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import { freshStore, STORE_KINDS } from "../indexer/stores";
import { syntheticConsortium } from "../indexer/synthetic";
import { waitFor } from "../notifications/receiver";

/** A short synthetic history with short receipts (alerts) among ordinary custody events. */
async function history() {
  const s = await syntheticConsortium();
  for (let i = 0; i < 6; i++) {
    const batchId = await s.releasedBatch(`E-${i}`, 100);
    const shipmentId = await s.ledger.ship(s.cmo, s.distributor, batchId, 10);
    await s.ledger.receive(s.distributor, s.cmo, batchId, shipmentId, 10, i % 2 === 0 ? 9 : 10);
  }
  return s;
}

/** Indexes the synthetic ledger's events so far into `store`, as the indexer does from a node. */
async function index(s: Awaited<ReturnType<typeof history>>, store: Store) {
  await createIndexer({ source: s.ledger.source(), store, deployment: s.ledger.deployment, log: silentLogger() }).catchUp();
}

const engineOn = (store: Store, chunkSize = 1_000) =>
  createAlertEngine({ store, config: alertConfig({ chunkSize, pollMs: 10 }), log: silentLogger(), now: () => 1_800_000_000 });

async function outbox(store: Store) {
  const rows = await store.db.selectFrom("notifications").select(["organization_id", "kind", "idempotency_key"]).orderBy("id").execute();
  return rows.map((r) => `${r.idempotency_key} ${r.kind}`);
}

describe.each(STORE_KINDS)("alert engine (%s)", (kind) => {
  const stores: Store[] = [];
  const fresh = async () => {
    const store = await freshStore(kind);
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  it("writes the same alerts and outbox in small chunks as in one, and nothing on a second pass", async () => {
    const s = await history();
    const whole = await fresh();
    const chunked = await fresh();
    await index(s, whole);
    await index(s, chunked);
    await engineOn(whole).catchUp();
    const progress = await engineOn(chunked, 7).catchUp();
    expect(progress.events).to.equal(s.ledger.logs.length);
    expect(progress.alerts).to.equal(3);
    expect(await outbox(chunked)).to.deep.equal(await outbox(whole));
    expect(await engineOn(chunked, 7).catchUp()).to.include({ events: 0, alerts: 0 });
  });

  it("lets two engines on one database race without doubling an alert or a notification", async () => {
    const s = await history();
    const reference = await fresh();
    const shared = await fresh();
    await index(s, reference);
    await index(s, shared);
    await engineOn(reference).catchUp();
    // Racing passes may fail and be retried by their loop; what matters is what ends up written.
    await Promise.allSettled([engineOn(shared, 5).catchUp(), engineOn(shared, 5).catchUp()]);
    await engineOn(shared, 5).catchUp();
    expect((await outbox(shared)).sort()).to.deep.equal((await outbox(reference)).sort());
    const alerts = await shared.db.selectFrom("alerts").select("key").execute();
    expect(alerts).to.have.length(3);
  });

  it("follows new events on its own once started, and stops", async () => {
    const s = await history();
    const store = await fresh();
    await index(s, store);
    const engine = engineOn(store);
    engine.start();
    try {
      // The clock's pass raises deadline alerts of its own (the synthetic product's quarterly reviews were never
      // filed); the events' alerts are counted apart from them.
      const count = async (rule: string) => (await store.db.selectFrom("alerts").select("id").where("rule", "=", rule).execute()).length;
      await waitFor("the history's alerts", async () => (await count("receipt_quantity_mismatch")) === 3);
      await waitFor("the clock's alerts", async () => (await count("quality_review_overdue")) > 0);
      const batchId = await s.releasedBatch("E-late", 50);
      const shipmentId = await s.ledger.ship(s.cmo, s.distributor2, batchId, 5);
      await s.ledger.receive(s.distributor2, s.cmo, batchId, shipmentId, 5, 4);
      await index(s, store);
      await waitFor("the new alert", async () => (await count("receipt_quantity_mismatch")) === 4);
    } finally {
      await engine.stop();
    }
  });
});
