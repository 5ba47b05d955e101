import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { createIndexer, createRpcSource } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import { acknowledgeRecall, deployConsortium, destroy, dispense, handOver, receive, releasedBatch, ship, startRecall } from "../contracts/fixtures";
import type { Consortium } from "../contracts/fixtures";
import { NODE_KINDS, startNode } from "../nodes";
import type { TestNode } from "../nodes";
import { deploymentOf } from "./chain";
import { freshStore, STORE_KINDS } from "./stores";

/** A history touching every kind of event: two batches, custody, a shortfall, dispensing, destruction, a recall. */
async function history(node: TestNode) {
  const c = await deployConsortium(node.relayer);
  const first = await releasedBatch(c, "B-2024-001", 8n);
  await handOver(c, c.cmo, c.distributor, first.batchId, 6n);
  await handOver(c, c.distributor, c.dispenser, first.batchId, 4n);
  await dispense(c, c.dispenser, first.batchId, first.tree, first.codes.slice(0, 2));
  const second = await releasedBatch(c, "B-2024-002", 100n);
  const { shipmentId } = await ship(c, c.cmo, c.distributor2, second.batchId, 30n);
  await receive(c, c.distributor2, c.cmo, second.batchId, shipmentId, 30n, 28n);
  await destroy(c, c.distributor2, second.batchId, 3n);
  await ship(c, c.cmo, c.distributor, second.batchId, 10n);
  await startRecall(c, c.regulator2, second.batchId, 1);
  await acknowledgeRecall(c, c.cmo, second.batchId, 60n);
  return { c, batches: [first.batchId, second.batchId] };
}

const CASES = NODE_KINDS.flatMap((node) => STORE_KINDS.map((kind) => [node, kind] as const));

describe.each(CASES)("indexer end to end from %s into %s", (nodeKind, kind) => {
  let chain: TestNode;
  let store: Store;
  let c: Consortium;
  let batchIds: string[];

  beforeAll(async () => {
    chain = await startNode(nodeKind);
    ({ c, batches: batchIds } = await history(chain));
    store = await freshStore(kind);
    const source = createRpcSource(chain.url);
    const indexer = createIndexer({ source, store, deployment: await deploymentOf(c), log: silentLogger(), maxRange: 5 });
    await indexer.catchUp();
    source.close();
  });
  afterAll(async () => {
    await store.close();
    await chain.close();
  });

  it("records every event with its position and a verified signer", async () => {
    const logs = await c.relayer.provider!.getLogs({
      fromBlock: 0,
      address: [await c.registry.getAddress(), await c.products.getAddress(), await c.batches.getAddress()],
    });
    const events = await store.db.selectFrom("ledger_events").selectAll().orderBy("block_number").orderBy("log_index").execute();
    expect(events.map((e) => [e.block_number, e.log_index, e.tx_hash])).to.deep.equal(
      logs.map((l) => [l.blockNumber, l.index, l.transactionHash.toLowerCase()]),
    );
    expect(events[0]!.verification).to.equal("bootstrap");
    expect(events.slice(1).every((e) => e.verification === "verified" && e.problem === null)).to.equal(true);
    const shipped = events.find((e) => e.name === "BatchShipped")!;
    expect([shipped.signer, shipped.signer_organization_id]).to.deep.equal([c.cmo.key.address.toLowerCase(), c.cmo.id]);
    const received = events.find((e) => e.name === "ShipmentReceived")!;
    expect([received.organization_id, received.signer_organization_id]).to.deep.equal([c.distributor.id, c.distributor.id]);
    expect(events[0]!.organization_id).to.equal(1);
  });

  it("holds exactly what the contract holds, per batch and organization", async () => {
    const parties = [c.mah, c.cmo, c.distributor, c.distributor2, c.dispenser];
    for (const batchId of batchIds) {
      for (const party of parties) {
        const onChain = await c.batches.holding(batchId, party.id);
        const row = await store.db
          .selectFrom("holdings")
          .selectAll()
          .where("batch_id", "=", batchId)
          .where("organization_id", "=", party.id)
          .executeTakeFirst();
        expect([row?.quantity ?? 0, Boolean(row?.recall_acknowledged)]).to.deep.equal([Number(onChain.quantity), onChain.recallAcknowledged]);
      }
    }
  });

  it("keeps batch state, recall and quantity accounts", async () => {
    const [first, second] = await Promise.all(
      batchIds.map((id) => store.db.selectFrom("batches").selectAll().where("id", "=", id).executeTakeFirstOrThrow()),
    );
    expect([first!.state, first!.recall_status, first!.dispensed, first!.in_transit]).to.deep.equal(["MARKET_RELEASED", "NONE", 2, 0]);
    expect([second!.recall_status, second!.recall_level, second!.missing, second!.destroyed, second!.in_transit]).to.deep.equal([
      "OPEN",
      "I",
      2,
      3,
      10,
    ]);
    const recall = await store.db.selectFrom("recalls").selectAll().where("batch_id", "=", second!.id).executeTakeFirstOrThrow();
    expect([recall.started_by, recall.status]).to.deep.equal([c.regulator2.id, "OPEN"]);
    const acks = await store.db.selectFrom("recall_acknowledgements").selectAll().execute();
    expect(acks.map((a) => [a.holder_id, a.quarantined_quantity])).to.deep.equal([[c.cmo.id, 60]]);
  });

  it("knows organizations, keys, products and agreements", async () => {
    const organizations = await store.db.selectFrom("organizations").selectAll().orderBy("id").execute();
    expect(organizations.map((o) => [o.id, o.role])).to.deep.equal([
      [1, "REGULATOR"],
      [c.mah.id, "MAH"],
      [c.cmo.id, "CMO"],
      [c.distributor.id, "DISTRIBUTOR"],
      [c.distributor2.id, "DISTRIBUTOR"],
      [c.dispenser.id, "DISPENSER"],
      [c.regulator2.id, "REGULATOR"],
    ]);
    const product = await store.db.selectFrom("products").selectAll().executeTakeFirstOrThrow();
    expect([product.id, product.mah_id]).to.deep.equal([c.productId, c.mah.id]);
    const agreement = await store.db.selectFrom("agreements").selectAll().executeTakeFirstOrThrow();
    expect([agreement.id, agreement.kind, agreement.counterparty_id]).to.deep.equal([c.agreementId, "QUALITY", c.cmo.id]);
    const dispensed = await store.db.selectFrom("pack_states").select("pack").execute();
    expect(dispensed).to.have.length(2);
  });
});
