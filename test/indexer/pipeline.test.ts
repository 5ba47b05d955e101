import { afterEach, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { createIndexer } from "../../src/indexer";
import type { ChainSource } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import { dumpDiff, dumpTables, MODEL_TABLES } from "./dump";
import { freshStore, STORE_KINDS } from "./stores";
import { syntheticConsortium } from "./synthetic";
import type { SyntheticConsortium } from "./synthetic";

/**
 * The backfill is a pipeline: the next ranges are fetched, decoded and their signers recovered (in worker threads)
 * while the current one is applied and written. Ranges must still be written in chain order, each with its
 * checkpoint in one transaction, and a range that fails ahead of the writer must leave the ranges before it written
 * and nothing after.
 */
const checkpointOf = async (store: Store) => (await store.db.selectFrom("sync_state").select("block_number").executeTakeFirst())?.block_number ?? -1;

describe.each(STORE_KINDS)("the backfill pipeline on %s", (kind) => {
  let store: Store;
  let s: SyntheticConsortium;

  beforeEach(async () => {
    store = await freshStore(kind);
    s = await syntheticConsortium();
    const batchId = await s.releasedBatch("B-PIPE", 1_000);
    for (let i = 0; i < 60; i++) await s.ledger.handOver(s.cmo, i % 2 ? s.distributor : s.distributor2, batchId, 1);
  });
  afterEach(async () => {
    await store.close();
  });

  async function cleanIndex(maxRange: number) {
    const clean = await freshStore(kind);
    try {
      await createIndexer({
        source: s.ledger.source(),
        store: clean,
        deployment: s.ledger.deployment,
        log: silentLogger(),
        maxRange,
        verifyThreads: 0,
      }).catchUp();
      return await dumpTables(clean.db, MODEL_TABLES);
    } finally {
      await clean.close();
    }
  }

  it("fetches and prepares ranges in workers ahead of the writer, and writes them in chain order", async () => {
    const MAX_RANGE = 40;
    const asked: { from: number; to: number; checkpoint: number }[] = [];
    const plain = s.ledger.source();
    const source: ChainSource = {
      ...plain,
      async logs(filter) {
        asked.push({ from: filter.fromBlock, to: filter.toBlock, checkpoint: await checkpointOf(store) });
        return plain.logs(filter);
      },
    };
    const indexer = createIndexer({ source, store, deployment: s.ledger.deployment, log: silentLogger(), maxRange: MAX_RANGE, verifyThreads: 2 });
    expect((await indexer.catchUp()).number).to.equal(s.ledger.head);

    // The ranges tile the chain in order, each asked for once.
    expect(asked[0]!.from).to.equal(0);
    asked.slice(1).forEach((a, i) => expect(a.from).to.equal(asked[i]!.to + 1));
    expect(asked.at(-1)!.to).to.equal(s.ledger.head);
    // Prefetch: a range is asked for before the one before it is written, but at most two ranges ahead of the one
    // being written.
    const ahead = asked.slice(1).filter((a, i) => a.checkpoint < asked[i]!.to);
    expect(ahead.length).to.be.greaterThan(0);
    asked.slice(3).forEach((a, i) => expect(a.checkpoint, `asked for ${a.from}-${a.to}`).to.be.at.least(asked[i]!.to));
    // The checkpoint only moves forward.
    asked.slice(1).forEach((a, i) => expect(a.checkpoint).to.be.at.least(asked[i]!.checkpoint));
    expect(dumpDiff(await dumpTables(store.db, MODEL_TABLES), await cleanIndex(MAX_RANGE))).to.deep.equal({});
  });

  it("asks for the next range's logs without waiting for the blocks of the range before", async () => {
    const MAX_RANGE = 40;
    const plain = s.ledger.source();
    // Once asked for logs, the node answers no block until it has been asked for a second range's logs: a pipeline
    // that fetched a range's blocks before asking for the next range would wait forever.
    const ranges: number[] = [];
    let secondAsked!: () => void;
    const asked = new Promise<void>((resolve) => (secondAsked = resolve));
    const source: ChainSource = {
      ...plain,
      async logs(filter) {
        if (ranges.push(filter.fromBlock) === 2) secondAsked();
        return plain.logs(filter);
      },
      async block(number) {
        if (ranges.length > 0) await asked;
        return plain.block(number);
      },
    };
    const indexer = createIndexer({ source, store, deployment: s.ledger.deployment, log: silentLogger(), maxRange: MAX_RANGE, verifyThreads: 2 });
    expect((await indexer.catchUp()).number).to.equal(s.ledger.head);
    expect(dumpDiff(await dumpTables(store.db, MODEL_TABLES), await cleanIndex(MAX_RANGE))).to.deep.equal({});
  });

  it("writes the ranges before a prefetched range that fails, nothing of it or after it, and resumes from there", async () => {
    const MAX_RANGE = 4;
    const plain = s.ledger.source();
    // The node loses the end block of the second range once: fetching that range fails while the first is applied.
    let lost = false;
    const source: ChainSource = {
      ...plain,
      async block(number) {
        if (number === 2 * MAX_RANGE - 1 && !lost) {
          lost = true;
          return undefined;
        }
        return plain.block(number);
      },
    };
    const indexer = createIndexer({ source, store, deployment: s.ledger.deployment, log: silentLogger(), maxRange: MAX_RANGE, verifyThreads: 2 });
    let failure: Error | undefined;
    await indexer.catchUp().catch((error: Error) => (failure = error));
    expect(failure?.message).to.equal(`the node has no block ${2 * MAX_RANGE - 1}`);

    expect(await checkpointOf(store)).to.equal(MAX_RANGE - 1);
    const events = await store.db.selectFrom("ledger_events").select("block_number").orderBy("block_number").execute();
    expect(events.map((e) => e.block_number)).to.deep.equal([1, 2, 3]);

    expect((await indexer.catchUp()).number).to.equal(s.ledger.head);
    expect(dumpDiff(await dumpTables(store.db, MODEL_TABLES), await cleanIndex(MAX_RANGE))).to.deep.equal({});
  });
});
