import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import { BatchState, PackState, Role } from "../../src/ledger";
import {
  changePackStates,
  deployConsortium,
  destroy,
  onboard,
  openDeviation,
  packTree,
  recordBatch,
  refuseRelease,
  releaseFromFactory,
  releaseToMarket,
  ship,
  JIANGSU,
} from "./fixtures";

const BATCH = "B-REJ-001";

/** A factory-released batch of 1,000 with 8 registered codes, held by its CMO. */
async function factoryReleasedBatch() {
  const c = await deployConsortium();
  const { tree, codes } = packTree(BATCH, 8);
  const batchId = await recordBatch(c, BATCH, { quantity: 1000n, codesRoot: tree.root });
  await releaseFromFactory(c, batchId);
  return { ...c, batchId, tree, codes };
}

async function refusedBatch() {
  const c = await factoryReleasedBatch();
  await refuseRelease(c, c.batchId);
  return c;
}

describe("BatchLedger: a recorded refusal of market release", () => {
  it("rejects a factory-released batch, signed by its MAH, with every field in the event", async () => {
    const c = await loadFixture(factoryReleasedBatch);
    const { message, signature } = await c.sign("BatchLedger", "ReleaseRefusal", c.mah.key, {
      mahId: c.mah.id,
      batchId: c.batchId,
      reasonHash: hashText("sterility failure"),
    });
    await expect(c.batches.refuseRelease(message as never, signature))
      .to.emit(c.batches, "BatchReleaseRefused")
      .withArgs(c.batchId, c.mah.id, [c.mah.id, message.nonce, c.batchId, hashText("sterility failure")], c.mah.key.address, signature);
    expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.Rejected);
  });

  it("rejects a batch still in the factory, open deviations and all", async () => {
    const c = await deployConsortium();
    const batchId = await recordBatch(c, "B-REJ-002");
    await openDeviation(c, c.cmo, batchId);
    await refuseRelease(c, batchId);
    expect((await c.batches.batch(batchId)).state).to.equal(BatchState.Rejected);
    await expect(releaseFromFactory(c, batchId)).to.be.revertedWithCustomError(c.batches, "BatchRejected").withArgs(batchId);
  });

  it("refuses the market release of a rejected batch, which stays rejected", async () => {
    const c = await loadFixture(refusedBatch);
    await expect(releaseToMarket(c, c.batchId)).to.be.revertedWithCustomError(c.batches, "BatchRejected").withArgs(c.batchId);
    expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.Rejected);
  });

  it("refuses any shipment of a rejected batch, leaving the holding whole", async () => {
    const c = await loadFixture(refusedBatch);
    await expect(ship(c, c.cmo, c.distributor, c.batchId, 10n))
      .to.be.revertedWithCustomError(c.batches, "BatchRejected")
      .withArgs(c.batchId);
    expect((await c.batches.holding(c.batchId, c.cmo.id)).quantity).to.equal(1000n);
  });

  it("refuses to export packs of a rejected batch (dispensing and export need the batch in commerce)", async () => {
    const c = await loadFixture(refusedBatch);
    await expect(changePackStates(c, c.cmo, c.batchId, c.tree, c.codes.slice(0, 2), PackState.Exported))
      .to.be.revertedWithCustomError(c.batches, "BatchRejected")
      .withArgs(c.batchId);
  });

  it("lets the holder destroy the rejected stock", async () => {
    const c = await loadFixture(refusedBatch);
    await destroy(c, c.cmo, c.batchId, 1000n);
    expect((await c.batches.holding(c.batchId, c.cmo.id)).quantity).to.equal(0n);
    expect((await c.batches.batch(c.batchId)).holders).to.equal(0);
  });

  it("reverts a second refusal", async () => {
    const c = await loadFixture(refusedBatch);
    await expect(refuseRelease(c, c.batchId)).to.be.revertedWithCustomError(c.batches, "BatchRejected").withArgs(c.batchId);
  });

  it("reverts for a batch already on the market: that takes a recall", async () => {
    const c = await loadFixture(factoryReleasedBatch);
    await releaseToMarket(c, c.batchId);
    await expect(refuseRelease(c, c.batchId))
      .to.be.revertedWithCustomError(c.batches, "BatchStateMismatch")
      .withArgs(c.batchId, BatchState.MarketReleased, BatchState.FactoryReleased);
    expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.MarketReleased);
  });

  it("reverts when signed by the batch's CMO, or by another MAH", async () => {
    const c = await loadFixture(factoryReleasedBatch);
    await expect(refuseRelease(c, c.batchId, c.cmo))
      .to.be.revertedWithCustomError(c.batches, "NotBatchMah")
      .withArgs(c.batchId, c.cmo.id);
    const otherMah = await onboard(c, Role.Mah, JIANGSU, "Another MAH");
    await expect(refuseRelease(c, c.batchId, otherMah))
      .to.be.revertedWithCustomError(c.batches, "NotBatchMah")
      .withArgs(c.batchId, otherMah.id);
    expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.FactoryReleased);
  });

  it("reverts for an unknown batch", async () => {
    const c = await loadFixture(factoryReleasedBatch);
    const unknown = hashText("no such batch");
    await expect(refuseRelease(c, unknown)).to.be.revertedWithCustomError(c.batches, "UnknownBatch").withArgs(unknown);
  });
});
