import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import { DeviationCategory, DeviationKind, DeviationSeverity, RecallLevel, RecallStatus } from "../../src/ledger";
import {
  batchSnapshot,
  closeDeviation,
  deployConsortium,
  destroy,
  dispense,
  handOver,
  openDeviation,
  packId,
  placeHold,
  receive,
  recordBatch,
  releasedBatch,
  releaseFromFactory,
  releaseHold,
  releaseToMarket,
  ship,
  signDeviation,
  startRecall,
} from "./fixtures";

/** A released batch of 100 with 8 coded packs: the CMO holds 60, the distributor 30, the hospital pharmacy 10. */
async function stockInCommerce() {
  const c = await deployConsortium();
  const { batchId, tree, codes } = await releasedBatch(c, "B-HLD-001", 100n, 8);
  await handOver(c, c.cmo, c.distributor, batchId, 40n);
  await handOver(c, c.distributor, c.dispenser, batchId, 10n);
  return { ...c, batchId, tree, codes };
}

/** The same, held by its MAH. */
async function heldByMah() {
  const c = await stockInCommerce();
  await placeHold(c, c.mah, c.batchId);
  return c;
}

/** The same, with an OOS opened by the CMO on the market-released batch: the batch is held by the deviation. */
async function heldByOos() {
  const c = await stockInCommerce();
  await openDeviation(c, c.cmo, c.batchId, { kind: DeviationKind.OutOfSpecification, reportHash: hashText("OOS assay") });
  return c;
}

const onHold = async (c: Awaited<ReturnType<typeof stockInCommerce>>) => (await c.batches.batch(c.batchId)).onHold;

describe("BatchLedger: hold (quarantine short of a recall)", () => {
  describe("placeHold", () => {
    it("placeHold by the MAH holds the batch and emits BatchPlacedOnHold with every field", async () => {
      const c = await loadFixture(stockInCommerce);
      const { message, signature } = await c.sign("BatchLedger", "HoldPlacement", c.mah.key, {
        organizationId: c.mah.id,
        batchId: c.batchId,
        reasonHash: hashText("complaint cluster"),
      });
      await expect(c.batches.placeHold(message as never, signature))
        .to.emit(c.batches, "BatchPlacedOnHold")
        .withArgs(c.batchId, c.mah.id, [c.mah.id, message.nonce, c.batchId, hashText("complaint cluster")], c.mah.key.address, signature);
      expect(await onHold(c)).to.equal(true);
    });

    it("placeHold by a regulator of another province is accepted", async () => {
      const c = await loadFixture(stockInCommerce);
      await placeHold(c, c.regulator2, c.batchId);
      expect(await onHold(c)).to.equal(true);
    });

    it("placeHold by the batch's CMO reverts with NotHoldAuthority and changes nothing", async () => {
      const c = await loadFixture(stockInCommerce);
      const before = await batchSnapshot(c, c.batchId);
      await expect(placeHold(c, c.cmo, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "NotHoldAuthority")
        .withArgs(c.batchId, c.cmo.id);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("placeHold by a distributor holding the batch reverts with NotHoldAuthority", async () => {
      const c = await loadFixture(stockInCommerce);
      await expect(placeHold(c, c.distributor, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "NotHoldAuthority")
        .withArgs(c.batchId, c.distributor.id);
    });

    it("placeHold on a batch already held reverts with BatchAlreadyOnHold", async () => {
      const c = await loadFixture(heldByMah);
      await expect(placeHold(c, c.regulator, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "BatchAlreadyOnHold")
        .withArgs(c.batchId);
    });

    it("placeHold on a recalled batch reverts with BatchRecalled", async () => {
      const c = await loadFixture(stockInCommerce);
      await startRecall(c, c.mah, c.batchId, RecallLevel.II);
      const before = await batchSnapshot(c, c.batchId);
      await expect(placeHold(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "BatchRecalled")
        .withArgs(c.batchId);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("placeHold on an unknown batch reverts with UnknownBatch", async () => {
      const c = await loadFixture(stockInCommerce);
      const unknown = hashText("no such batch");
      await expect(placeHold(c, c.mah, unknown))
        .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
        .withArgs(unknown);
    });

    it("placeHold replayed reverts with AttestationNonceUsed", async () => {
      const c = await loadFixture(stockInCommerce);
      const { message, signature } = await c.sign("BatchLedger", "HoldPlacement", c.mah.key, {
        organizationId: c.mah.id,
        batchId: c.batchId,
        reasonHash: hashText("complaint cluster"),
      });
      await c.batches.placeHold(message as never, signature);
      await releaseHold(c, c.mah, c.batchId);
      await expect(c.batches.placeHold(message as never, signature)).to.be.revertedWithCustomError(c.batches, "AttestationNonceUsed");
    });
  });

  describe("a deviation on a market-released batch", () => {
    it("openDeviation on a market-released batch holds it and says so in DeviationOpened", async () => {
      const c = await loadFixture(stockInCommerce);
      const reportHash = hashText("OOS assay");
      const { message, signature } = await signDeviation(c, c.cmo, c.batchId, { kind: DeviationKind.OutOfSpecification, reportHash });
      await expect(c.batches.openDeviation(message as never, signature))
        .to.emit(c.batches, "DeviationOpened")
        .withArgs(
          c.batchId,
          c.cmo.id,
          [c.cmo.id, message.nonce, c.batchId, DeviationKind.OutOfSpecification, DeviationSeverity.Minor, DeviationCategory.Process, reportHash],
          true,
          c.cmo.key.address,
          signature,
        );
      expect(await onHold(c)).to.equal(true);
    });

    it("openDeviation before market release does not hold the batch (the deviation itself blocks release)", async () => {
      const c = await loadFixture(stockInCommerce);
      const batchId = await recordBatch(c, "B-HLD-002");
      const { message, signature } = await signDeviation(c, c.mah, batchId);
      await expect(c.batches.openDeviation(message as never, signature))
        .to.emit(c.batches, "DeviationOpened")
        .withArgs(
          batchId,
          c.mah.id,
          [
            c.mah.id,
            message.nonce,
            batchId,
            DeviationKind.Deviation,
            DeviationSeverity.Minor,
            DeviationCategory.Process,
            hashText("deviation report DR-001"),
          ],
          false,
          c.mah.key.address,
          signature,
        );
      expect((await c.batches.batch(batchId)).onHold).to.equal(false);
    });

    it("a second deviation on a held batch leaves the hold as it is", async () => {
      const c = await loadFixture(heldByOos);
      const { message, signature } = await signDeviation(c, c.mah, c.batchId, { kind: DeviationKind.OutOfTrend, reportHash: hashText("OOT") });
      await expect(c.batches.openDeviation(message as never, signature))
        .to.emit(c.batches, "DeviationOpened")
        .withArgs(
          c.batchId,
          c.mah.id,
          [c.mah.id, message.nonce, c.batchId, DeviationKind.OutOfTrend, DeviationSeverity.Minor, DeviationCategory.Process, hashText("OOT")],
          false,
          c.mah.key.address,
          signature,
        );
      expect(await onHold(c)).to.equal(true);
    });

    it("a deviation on a recalled batch does not hold it: the recall already stops it", async () => {
      const c = await loadFixture(stockInCommerce);
      await startRecall(c, c.mah, c.batchId, RecallLevel.III);
      await openDeviation(c, c.mah, c.batchId);
      expect(await onHold(c)).to.equal(false);
    });
  });

  describe("while held", () => {
    it("shipBatch reverts with BatchOnHold and changes nothing", async () => {
      const c = await loadFixture(heldByOos);
      const before = await batchSnapshot(c, c.batchId);
      await expect(ship(c, c.distributor, c.distributor2, c.batchId, 5n))
        .to.be.revertedWithCustomError(c.batches, "BatchOnHold")
        .withArgs(c.batchId);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("dispensePacks reverts with BatchOnHold", async () => {
      const c = await loadFixture(heldByMah);
      await expect(dispense(c, c.dispenser, c.batchId, c.tree, [c.codes[0]!]))
        .to.be.revertedWithCustomError(c.batches, "BatchOnHold")
        .withArgs(c.batchId);
      expect(await c.batches.isPackDispensed(packId(c.codes[0]!))).to.equal(false);
    });

    it("releaseToMarket of a factory-released batch held by a regulator reverts with BatchOnHold", async () => {
      const c = await loadFixture(stockInCommerce);
      const batchId = await recordBatch(c, "B-HLD-003");
      await releaseFromFactory(c, batchId);
      await placeHold(c, c.regulator, batchId);
      await expect(releaseToMarket(c, batchId)).to.be.revertedWithCustomError(c.batches, "BatchOnHold").withArgs(batchId);
    });

    it("a shipment in transit can still be received, and stock can be destroyed", async () => {
      const c = await loadFixture(stockInCommerce);
      const { shipmentId } = await ship(c, c.cmo, c.distributor2, c.batchId, 20n);
      await placeHold(c, c.mah, c.batchId);
      await receive(c, c.distributor2, c.cmo, c.batchId, shipmentId, 20n);
      await destroy(c, c.distributor2, c.batchId, 5n);
      expect((await c.batches.holding(c.batchId, c.distributor2.id)).quantity).to.equal(15n);
    });
  });

  describe("releaseHold", () => {
    it("releaseHold by the MAH once the OOS is closed lifts the hold, emits BatchHoldReleased, and stock moves again", async () => {
      const c = await loadFixture(heldByOos);
      await closeDeviation(c, c.cmo, c.batchId, { reportHash: hashText("OOS assay") });
      const { message, signature } = await c.sign("BatchLedger", "HoldRelease", c.mah.key, {
        mahId: c.mah.id,
        batchId: c.batchId,
        reasonHash: hashText("OOS invalidated"),
      });
      await expect(c.batches.releaseHold(message as never, signature))
        .to.emit(c.batches, "BatchHoldReleased")
        .withArgs(c.batchId, c.mah.id, [c.mah.id, message.nonce, c.batchId, hashText("OOS invalidated")], c.mah.key.address, signature);
      expect(await onHold(c)).to.equal(false);
      await ship(c, c.distributor, c.distributor2, c.batchId, 5n);
    });

    it("releaseHold while a deviation is open reverts with BatchHasOpenDeviations and keeps the hold", async () => {
      const c = await loadFixture(heldByOos);
      const before = await batchSnapshot(c, c.batchId);
      await expect(releaseHold(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "BatchHasOpenDeviations")
        .withArgs(c.batchId, 1);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("releaseHold by the regulator that placed it reverts with NotBatchMah: only the MAH decides", async () => {
      const c = await loadFixture(stockInCommerce);
      await placeHold(c, c.regulator, c.batchId);
      await expect(releaseHold(c, c.regulator, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "NotBatchMah")
        .withArgs(c.batchId, c.regulator.id);
      expect(await onHold(c)).to.equal(true);
    });

    it("releaseHold by the CMO reverts with NotBatchMah", async () => {
      const c = await loadFixture(heldByMah);
      await expect(releaseHold(c, c.cmo, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "NotBatchMah")
        .withArgs(c.batchId, c.cmo.id);
    });

    it("releaseHold of a batch not on hold reverts with BatchNotOnHold", async () => {
      const c = await loadFixture(stockInCommerce);
      await expect(releaseHold(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "BatchNotOnHold")
        .withArgs(c.batchId);
    });
  });

  describe("escalation to a recall", () => {
    it("startRecall of a held batch ends the hold: the recall's rules stop the stock from then on", async () => {
      const c = await loadFixture(heldByOos);
      await startRecall(c, c.regulator, c.batchId, RecallLevel.I);
      const b = await c.batches.batch(c.batchId);
      expect([b.onHold, b.recall]).to.deep.equal([false, BigInt(RecallStatus.Open)]);
      await expect(releaseHold(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "BatchNotOnHold")
        .withArgs(c.batchId);
      await expect(ship(c, c.distributor, c.distributor2, c.batchId, 5n))
        .to.be.revertedWithCustomError(c.batches, "BatchRecalled")
        .withArgs(c.batchId);
    });
  });
});
