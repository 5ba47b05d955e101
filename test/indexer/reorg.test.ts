import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import { createIndexer, createRpcSource } from "../../src/indexer";
import type { Deployment } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import {
  acknowledgeRecall,
  deployConsortium,
  destroy,
  dispense,
  handOver,
  receive,
  releasedBatch,
  ship,
  startRecall,
  suspendOrganization,
} from "../contracts/fixtures";
import type { Consortium } from "../contracts/fixtures";
import { deploymentOf, serveChain } from "./chain";
import { dumpDiff, dumpTables, MODEL_TABLES } from "./dump";
import type { Dump } from "./dump";
import { freshStore, STORE_KINDS } from "./stores";

/**
 * Reorganizations on the development chain (evm_snapshot / evm_revert, then different blocks): after indexing the
 * new chain, the store must hold exactly what a clean index of that chain holds, row for row.
 */
const send = (method: string, params: unknown[] = []) => hre.network.provider.send(method, params) as Promise<unknown>;
const headNumber = async () => Number(await send("eth_blockNumber"));

describe.each(STORE_KINDS)("reorgs on %s", (kind) => {
  let chain: Awaited<ReturnType<typeof serveChain>>;
  let store: Store;
  let c: Consortium;
  let deployment: Deployment;
  let batch: Awaited<ReturnType<typeof releasedBatch>>;

  beforeAll(async () => {
    chain = await serveChain();
  });
  afterAll(async () => {
    await chain.close();
  });
  beforeEach(async () => {
    c = await deployConsortium();
    deployment = await deploymentOf(c);
    batch = await releasedBatch(c, "R-001", 100n);
    await handOver(c, c.cmo, c.distributor, batch.batchId, 30n);
    store = await freshStore(kind);
    await index(store);
  });
  afterEach(async () => {
    await store.close();
  });

  /** Catches `into` up with the chain, in small ranges so that several ranges and checkpoints are involved. */
  async function index(into: Store) {
    const source = createRpcSource(chain.url);
    try {
      return await createIndexer({ source, store: into, deployment, log: silentLogger(), maxRange: 3 }).catchUp();
    } finally {
      source.close();
    }
  }

  /** The read model and events of a clean index of the chain as it is now. */
  async function cleanIndex(): Promise<Dump> {
    const clean = await freshStore(kind);
    try {
      await index(clean);
      return await dumpTables(clean.db, MODEL_TABLES);
    } finally {
      await clean.close();
    }
  }

  /** Every block hash the store keeps for reorg detection is the hash of that block on the chain now. */
  async function expectKnownBlocksOnChain() {
    const known = await store.db.selectFrom("indexed_blocks").selectAll().execute();
    for (const block of known) {
      const onChain = (await send("eth_getBlockByNumber", [`0x${block.block_number.toString(16)}`, false])) as { hash: string } | null;
      expect(onChain?.hash, `block ${block.block_number}`).to.equal(block.block_hash);
    }
  }

  /** A branch that touches most of the read model: custody, a single-pack dispensing, destruction, a recall. */
  async function abandonedBranch() {
    await handOver(c, c.distributor, c.dispenser, batch.batchId, 10n);
    await dispense(c, c.dispenser, batch.batchId, batch.tree, batch.codes.slice(0, 1));
    await destroy(c, c.distributor, batch.batchId, 2n);
    const { shipmentId } = await ship(c, c.cmo, c.distributor2, batch.batchId, 15n);
    await receive(c, c.distributor2, c.cmo, batch.batchId, shipmentId, 15n, 14n);
    await startRecall(c, c.mah, batch.batchId, 2);
    await acknowledgeRecall(c, c.cmo, batch.batchId, 55n);
    await suspendOrganization(c, c.dispenser.id);
  }

  it("rolls back to the common ancestor and re-indexes a new, longer branch", async () => {
    const snapshot = await send("evm_snapshot");
    await abandonedBranch();
    const abandonedHead = await index(store);
    const abandoned = await dumpTables(store.db, MODEL_TABLES);
    expect(abandoned.recalls).to.have.length(1);

    await send("evm_revert", [snapshot]);
    await handOver(c, c.distributor, c.distributor2, batch.batchId, 7n);
    await ship(c, c.cmo, c.dispenser, batch.batchId, 4n);
    await send("hardhat_mine", ["0x10"]);
    expect(await headNumber()).to.be.greaterThan(abandonedHead.number);

    const reached = await index(store);
    expect(reached.number).to.equal(await headNumber());
    const after = await dumpTables(store.db, MODEL_TABLES);
    expect(dumpDiff(after, await cleanIndex())).to.deep.equal({});
    expect(after.recalls).to.deep.equal([]);
    expect(after.pack_states).to.deep.equal([]);
    await expectKnownBlocksOnChain();
  });

  it("rolls back when the new chain is shorter than the checkpoint", async () => {
    const snapshot = await send("evm_snapshot");
    await abandonedBranch();
    const abandonedHead = await index(store);

    await send("evm_revert", [snapshot]);
    await ship(c, c.distributor, c.dispenser, batch.batchId, 3n);
    expect(await headNumber()).to.be.lessThan(abandonedHead.number);

    const reached = await index(store);
    expect(reached.number).to.equal(await headNumber());
    const checkpoint = await store.db.selectFrom("sync_state").selectAll().executeTakeFirstOrThrow();
    expect(checkpoint.block_number).to.equal(reached.number);
    expect(dumpDiff(await dumpTables(store.db, MODEL_TABLES), await cleanIndex())).to.deep.equal({});
    await expectKnownBlocksOnChain();
  });

  it("returns to the snapshot's state when the chain is reverted and nothing new is mined", async () => {
    const atSnapshot = await dumpTables(store.db, MODEL_TABLES);
    const snapshot = await send("evm_snapshot");
    await abandonedBranch();
    await index(store);
    expect(await dumpTables(store.db, MODEL_TABLES)).to.not.deep.equal(atSnapshot);

    await send("evm_revert", [snapshot]);
    await index(store);
    expect(dumpDiff(await dumpTables(store.db, MODEL_TABLES), atSnapshot)).to.deep.equal({});
    await expectKnownBlocksOnChain();
  });

  it("follows the chain through a reorganization in follow mode", async () => {
    const snapshot = await send("evm_snapshot");
    await abandonedBranch();
    const source = createRpcSource(chain.url);
    const stop = new AbortController();
    const indexer = createIndexer({ source, store, deployment, log: silentLogger(), maxRange: 3, pollIntervalMs: 20 });
    const following = indexer.follow(stop.signal);
    try {
      await indexedUpTo(await headNumber());
      await send("evm_revert", [snapshot]);
      await handOver(c, c.distributor, c.distributor2, batch.batchId, 9n);
      await send("hardhat_mine", ["0x12"]);
      await indexedUpTo(await headNumber());
    } finally {
      stop.abort();
      await following;
      source.close();
    }
    expect(dumpDiff(await dumpTables(store.db, MODEL_TABLES), await cleanIndex())).to.deep.equal({});
    await expectKnownBlocksOnChain();
  });

  /** Waits until the store's checkpoint is the chain's block `number`, as it is now. */
  async function indexedUpTo(number: number) {
    const { hash } = (await send("eth_getBlockByNumber", [`0x${number.toString(16)}`, false])) as { hash: string };
    for (let attempt = 0; attempt < 1_000; attempt++) {
      const checkpoint = await store.db.selectFrom("sync_state").selectAll().executeTakeFirst();
      if (checkpoint?.block_number === number && checkpoint.block_hash === hash) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`the indexer did not reach block ${number} (${hash})`);
  }
});
