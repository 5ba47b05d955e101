import { afterEach, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { Wallet } from "ethers";
import { alertConfig, createAlertEngine } from "../../src/alerts";
import { createIndexer } from "../../src/indexer";
import { DEFERRED_MISMATCH } from "../../src/indexer/deferred";
import { judgePack } from "../../src/ledger";
import type { PackStateName } from "../../src/ledger";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import { scanReads } from "../../src/store/scan-reads";
import { capturingLogger, LEVEL } from "./capture";
import { dumpTables, MODEL_TABLES } from "./dump";
import { freshStore, STORE_KINDS } from "./stores";
import { syntheticConsortium } from "./synthetic";
import type { SyntheticConsortium } from "./synthetic";

/**
 * `--verify deferred`: events are written at once, "pending", their signatures recovered behind the head. A pending
 * or failed attestation on a batch's path withholds GENUINE from its packs; a failure raises an alert; the alert
 * engine judges no event before its verification is done. In the end the store holds what full verification gives.
 */
const verifications = async (store: Store) =>
  (await store.db.selectFrom("ledger_events").select(["block_number", "verification"]).orderBy("block_number").execute()).map((e) => e.verification);

const engine = (store: Store) => createAlertEngine({ store, config: alertConfig(), log: silentLogger(), now: () => 1_800_000_000 });

describe.each(STORE_KINDS)("deferred verification on %s", (kind) => {
  let store: Store;
  let s: SyntheticConsortium;
  let batchId: string;
  let forgedBlock: number;

  beforeEach(async () => {
    store = await freshStore(kind);
    s = await syntheticConsortium();
    batchId = await s.releasedBatch("B-DEFER", 100);
    await s.ledger.handOver(s.cmo, s.distributor, batchId, 30);
    // Signed by another key but naming the CMO's: its keys check out, only recovering the signer exposes it.
    await s.ledger.ship(s.cmo, s.distributor2, batchId, 5, { key: Wallet.createRandom(), claimedSigner: s.cmo.key.address.toLowerCase() });
    forgedBlock = s.ledger.head;
    await s.ledger.handOver(s.distributor, s.dispenser, batchId, 10);
  });
  afterEach(async () => {
    await store.close();
  });

  function indexer(verification: "full" | "deferred", into = store, log = silentLogger()) {
    return createIndexer({ source: s.ledger.source(), store: into, deployment: s.ledger.deployment, log, verification, verifyThreads: 0 });
  }

  it("writes every event at once as pending, then verifies it behind the head, ending where full verification ends", async () => {
    const { log, lines } = capturingLogger();
    const deferred = indexer("deferred", store, log);
    expect((await deferred.catchUp()).number).to.equal(s.ledger.head);
    const pending = await verifications(store);
    expect(pending[0]).to.equal("bootstrap");
    expect(pending.slice(1).every((v) => v === "pending")).to.equal(true);
    // A scan of one of the batch's packs, through the facts it caches: verification must reach it.
    await store.db.insertInto("batch_codes").values({ canonical_key: "(01)06901234567892(21)DEFER1", batch_id: batchId }).execute();
    const reads = scanReads(store.db);
    const unverifiedOnScan = async () => (await reads.pack("(01)06901234567892(21)DEFER1", "0x01", "06901234567892")).batch?.unverified_attestations;
    const onPath = await store.db.selectFrom("ledger_events").select("block_number").where("batch_id", "=", batchId).execute();
    expect(await unverifiedOnScan()).to.equal(onPath.length);

    await deferred.verifyBehind();
    const forged = await store.db.selectFrom("ledger_events").selectAll().where("block_number", "=", forgedBlock).executeTakeFirstOrThrow();
    expect([forged.name, forged.verification, forged.problem]).to.deep.equal(["BatchShipped", "signature_mismatch", DEFERRED_MISMATCH]);
    expect(lines.filter((l) => l.level === LEVEL.error).map((l) => [l.msg, l.blockNumber])).to.deep.equal([
      ["ledger event failed deferred verification", forgedBlock],
    ]);
    expect(await unverifiedOnScan()).to.equal(1);

    const full = await freshStore(kind);
    try {
      await indexer("full", full).catchUp();
      const [byDeferred, byFull] = [await dumpTables(store.db, MODEL_TABLES), await dumpTables(full.db, MODEL_TABLES)];
      // The one difference: the deferred run says when it found the forgery.
      const mark = (row: Record<string, unknown>) => (row.block_number === forgedBlock ? { ...row, problem: DEFERRED_MISMATCH } : row);
      expect(byDeferred).to.deep.equal({ ...byFull, ledger_events: byFull.ledger_events!.map(mark) });
    } finally {
      await full.close();
    }
  });

  it("judges no event in the alert engine before it is verified, and raises an alert for the one that fails", async () => {
    const deferred = indexer("deferred");
    await deferred.catchUp();
    await engine(store).catchUp();
    const cursor = await store.db.selectFrom("alert_cursors").select(["block_number"]).where("name", "=", "events").executeTakeFirst();
    // The bootstrap regulator's onboarding (block 1) needs no signature; the engine stops at the first pending event.
    expect(cursor?.block_number ?? 1).to.equal(1);
    expect(await store.db.selectFrom("alerts").select("key").execute()).to.deep.equal([]);

    await deferred.verifyBehind();
    await engine(store).catchUp();
    const alerts = await store.db.selectFrom("alerts").select(["rule", "status", "batch_id", "source_block"]).execute();
    expect(alerts).to.deep.equal([{ rule: "attestation_unverified", status: "open", batch_id: batchId, source_block: forgedBlock }]);
  });
});

describe("the scan verdict with unverified attestations", () => {
  const facts = (unverifiedAttestations: number) => ({
    batch: {
      batchNumber: "B-1",
      expiresAt: 2_000_000_000,
      state: "MARKET_RELEASED" as const,
      recallStatus: "NONE" as const,
      recallLevel: null,
      onHold: false,
    },
    packState: "ACTIVE" as PackStateName,
    unverifiedAttestations,
  });

  it("withholds GENUINE while any attestation on the batch's path is unverified, and says so", () => {
    expect(judgePack({}, facts(0), 1_800_000_000).verdict).to.equal("GENUINE");
    const withheld = judgePack({}, facts(2), 1_800_000_000);
    expect(withheld.verdict).to.equal("UNVERIFIED");
    expect(withheld.reason).to.contain("2 signed attestations on the path of batch B-1 are not verified");
  });

  it("still answers a recall or a dispensed pack first: those verdicts present nothing as verified", () => {
    expect(judgePack({}, { ...facts(1), batch: { ...facts(1).batch, recallStatus: "OPEN", recallLevel: "I" } }, 1_800_000_000).verdict).to.equal(
      "RECALLED",
    );
    expect(judgePack({}, { ...facts(1), packState: "DISPENSED" }, 1_800_000_000).verdict).to.equal("ALREADY_DISPENSED");
  });
});
