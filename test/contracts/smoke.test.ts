import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { acknowledgeRecall, closeRecall, deployConsortium, dispense, handOver, releasedBatch, startRecall } from "./fixtures";
import { RecallLevel } from "../../src/ledger";

describe("a batch's life from record to recall", () => {
  it("moves stock from the CMO to a patient and through a recall", async () => {
    const c = await loadFixture(deployConsortium);
    const { batchId, tree, codes } = await releasedBatch(c, "B-2024-001", 8n);
    await handOver(c, c.cmo, c.distributor, batchId, 6n);
    await handOver(c, c.distributor, c.dispenser, batchId, 4n);
    await dispense(c, c.dispenser, batchId, tree, codes.slice(0, 2));
    await startRecall(c, c.mah, batchId, RecallLevel.II);
    await acknowledgeRecall(c, c.cmo, batchId, 2n);
    await acknowledgeRecall(c, c.distributor, batchId, 2n);
    await acknowledgeRecall(c, c.dispenser, batchId, 2n);
    await expect(closeRecall(c, c.mah, batchId)).to.emit(c.batches, "RecallClosed");
    expect((await c.batches.holding(batchId, c.dispenser.id)).quantity).to.equal(2n);
  });
});
