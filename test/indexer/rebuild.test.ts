import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { id as hashText } from "ethers";
import { ChainMismatchError, createIndexer, createRpcSource } from "../../src/indexer";
import type { ChainSource, Deployment } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import { deployConsortium, handOver, releasedBatch } from "../contracts/fixtures";
import { capturingLogger, LEVEL } from "./capture";
import { deploymentOf, serveChain } from "./chain";
import { dumpDiff, dumpTables } from "./dump";
import { freshStore, STORE_KINDS } from "./stores";
import { createSyntheticLedger, syntheticConsortium } from "./synthetic";
import type { SyntheticLedger } from "./synthetic";

/**
 * A store mirrors one chain and one deployment. Pointed at a node of another chain id the indexer refuses to run;
 * given a store that mirrors another chain (another genesis) or another deployment, it starts the store over.
 */
async function history(ledger: SyntheticLedger, batchNumber: string) {
  const s = await syntheticConsortium(ledger);
  const batchId = await s.releasedBatch(batchNumber, 50);
  ledger.mine(4);
  await s.ledger.handOver(s.cmo, s.distributor, batchId, 20);
  return s;
}

describe.each(STORE_KINDS)("a store of another chain or deployment on %s", (kind) => {
  let store: Store;
  let a: SyntheticLedger;

  beforeEach(async () => {
    store = await freshStore(kind);
    a = createSyntheticLedger();
    await history(a, "A-001");
    await index(a.source(), a.deployment, store);
  });
  afterEach(async () => {
    await store.close();
  });

  async function index(source: ChainSource, deployment: Deployment, into: Store, log = silentLogger()) {
    return createIndexer({ source, store: into, deployment, log, maxRange: 5 }).catchUp();
  }

  async function cleanIndex(ledger: SyntheticLedger) {
    const clean = await freshStore(kind);
    try {
      await index(ledger.source(), ledger.deployment, clean);
      return await dumpTables(clean.db);
    } finally {
      await clean.close();
    }
  }

  it("refuses a node whose chain id is not the deployment's and leaves the store as it was", async () => {
    const before = await dumpTables(store.db);
    const otherChain = a.source({ chainId: async () => 1337 });
    const indexer = createIndexer({ source: otherChain, store, deployment: a.deployment, log: silentLogger() });

    const error = await indexer.catchUp().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(ChainMismatchError);
    expect((error as Error).message).to.equal("the node serves chain 1337, the deployment is on chain 31337");
    // Follow mode does not retry a misconfiguration: it stops with the same error.
    const followed = await indexer.follow(new AbortController().signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(followed).to.be.instanceOf(ChainMismatchError);
    expect(dumpDiff(await dumpTables(store.db), before)).to.deep.equal({});
  });

  it("rebuilds a store that mirrors another chain (another genesis), even with the same contract addresses", async () => {
    const b = createSyntheticLedger({ contracts: a.deployment.contracts });
    await history(b, "B-001");
    expect(b.block(0).hash).to.not.equal(a.block(0).hash);

    const { log, lines } = capturingLogger();
    const reached = await index(b.source(), b.deployment, store, log);
    expect(reached).to.include({ number: b.head, hash: b.block(b.head).hash });
    expect(lines.filter((line) => line.level === LEVEL.warn).map((line) => line.msg)).to.deep.equal([
      "the database mirrors another chain or deployment; rebuilding it from this chain",
    ]);
    expect(dumpDiff(await dumpTables(store.db), await cleanIndex(b))).to.deep.equal({});
    const events = await store.db.selectFrom("ledger_events").select(["block_number", "block_hash"]).execute();
    expect(events.filter((row) => row.block_hash !== b.block(row.block_number).hash)).to.deep.equal([]);
  });

  it("forgets the codes registered against the other chain's batches", async () => {
    const [batch] = await store.db.selectFrom("batches").select(["id", "codes_root"]).execute();
    await store.db.insertInto("batch_codes").values({ canonical_key: "(01)06901234567892(21)A1", batch_id: batch!.id }).execute();
    await store.db
      .insertInto("code_trees")
      .values({ batch_id: batch!.id, root: batch!.codes_root, code_count: 1, tree_path: "/nowhere.tree", registered_by: 2, registered_at: 1 })
      .execute();
    const b = createSyntheticLedger({ contracts: a.deployment.contracts });
    await history(b, "A-001");

    await index(b.source(), b.deployment, store);
    expect(await store.db.selectFrom("batch_codes").selectAll().execute()).to.deep.equal([]);
    expect(await store.db.selectFrom("code_trees").selectAll().execute()).to.deep.equal([]);
  });
});

describe.each(STORE_KINDS)("a store of another deployment on the same chain, on %s", (kind) => {
  let chain: Awaited<ReturnType<typeof serveChain>>;

  beforeAll(async () => {
    chain = await serveChain();
  });
  afterAll(async () => {
    await chain.close();
  });

  async function index(deployment: Deployment, into: Store) {
    const source = createRpcSource(chain.url);
    try {
      return await createIndexer({ source, store: into, deployment, log: silentLogger(), maxRange: 7 }).catchUp();
    } finally {
      source.close();
    }
  }

  it("rebuilds the store from the new deployment's events only", async () => {
    const first = await deployConsortium();
    const firstBatch = await releasedBatch(first, "D-001", 30n);
    await handOver(first, first.cmo, first.distributor, firstBatch.batchId, 10n);
    const store = await freshStore(kind);
    const clean = await freshStore(kind);
    try {
      await index(await deploymentOf(first), store);

      const second = await deployConsortium();
      const secondBatch = await releasedBatch(second, "D-002", 60n);
      await handOver(second, second.cmo, second.distributor2, secondBatch.batchId, 25n);
      // An event of the alert cases' contract too.
      const taking = await second.sign("AlertCases", "AlertTaking", second.regulator.key, {
        organizationId: second.regulator.id,
        alertKey: hashText("an alert"),
        subjectId: second.cmo.id,
      });
      await second.alertCases.takeAlert(taking.message as never, taking.signature);
      const deployment = await deploymentOf(second);
      await index(deployment, store);
      await index(deployment, clean);

      const [rebuilt, expected] = [await dumpTables(store.db), await dumpTables(clean.db)];
      expect(dumpDiff(rebuilt, expected)).to.deep.equal({});
      // Every event rebuilt is the new deployment's, from each contract this history used; none of the first's.
      const addresses = new Set(rebuilt.ledger_events!.map((row) => row.address));
      const contracts = deployment.contracts;
      expect([...addresses].sort()).to.deep.equal(
        [contracts.ConsortiumRegistry, contracts.ProductRegistry, contracts.BatchLedger, contracts.AlertCases].map((a) => a.toLowerCase()).sort(),
      );
      expect(rebuilt.batches!.map((row) => row.id)).to.deep.equal([secondBatch.batchId]);
    } finally {
      await store.close();
      await clean.close();
    }
  });
});
