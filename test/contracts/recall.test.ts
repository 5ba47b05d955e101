import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import { RecallLevel, RecallStatus, Role } from "../../src/ledger";
import {
  acknowledgeRecall,
  batchSnapshot,
  closeRecall,
  deployConsortium,
  destroy,
  handOver,
  onboard,
  receive,
  recordBatch,
  releasedBatch,
  ship,
  startRecall,
  suspendOrganization,
  ZHEJIANG,
} from "./fixtures";
import type { Consortium, Party } from "./fixtures";

/** A released batch of 100: the CMO holds 60, the distributor 30 and the hospital pharmacy 10. */
async function stockInCommerce() {
  const c = await deployConsortium();
  const { batchId } = await releasedBatch(c, "B-RCL-001", 100n, 8);
  await handOver(c, c.cmo, c.distributor, batchId, 40n);
  await handOver(c, c.distributor, c.dispenser, batchId, 10n);
  return { ...c, batchId };
}

/** The same, with the MAH's level II recall open. */
async function recallUnderway() {
  const c = await stockInCommerce();
  await startRecall(c, c.mah, c.batchId, RecallLevel.II);
  return c;
}

/** The same, with 20 units on their way from the CMO to the second distributor when the recall started. */
async function recallWithShipmentInTransit() {
  const c = await stockInCommerce();
  const { shipmentId } = await ship(c, c.cmo, c.distributor2, c.batchId, 20n);
  await startRecall(c, c.mah, c.batchId, RecallLevel.II);
  return { ...c, shipmentId };
}

async function signRecallStart(c: Consortium, by: Party, batchId: string, level: number = RecallLevel.II) {
  return c.sign("BatchLedger", "RecallStart", by.key, {
    organizationId: by.id,
    batchId,
    level,
    reasonHash: hashText("dissolution OOS on retained sample"),
  });
}

async function holdingOf(c: Consortium, batchId: string, party: Party) {
  return c.batches.holding(batchId, party.id);
}

async function counters(c: Consortium, batchId: string) {
  const b = await c.batches.batch(batchId);
  return { holders: b.holders, unacknowledged: b.unacknowledgedHolders, inTransit: b.shipmentsInTransit };
}

async function acknowledgeAll(c: Consortium & { batchId: string }) {
  await acknowledgeRecall(c, c.cmo, c.batchId, 60n);
  await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
  await acknowledgeRecall(c, c.dispenser, c.batchId, 10n);
}

describe("BatchLedger: recall", () => {
  describe("startRecall", () => {
    it("startRecall by the MAH opens the recall and makes every holder owe an acknowledgement", async () => {
      const c = await loadFixture(stockInCommerce);
      await startRecall(c, c.mah, c.batchId, RecallLevel.II);
      const b = await c.batches.batch(c.batchId);
      expect(b.recall).to.equal(RecallStatus.Open);
      expect(b.recallLevel).to.equal(RecallLevel.II);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 3n, unacknowledged: 3n, inTransit: 0n });
      for (const holder of [c.cmo, c.distributor, c.dispenser]) {
        expect((await holdingOf(c, c.batchId, holder)).recallAcknowledged).to.equal(false);
      }
    });

    it("startRecall emits RecallStarted with every field of the recall", async () => {
      const c = await loadFixture(stockInCommerce);
      const { message, signature } = await signRecallStart(c, c.mah, c.batchId, RecallLevel.I);
      await expect(c.batches.startRecall(message as never, signature))
        .to.emit(c.batches, "RecallStarted")
        .withArgs(
          c.batchId,
          c.mah.id,
          RecallLevel.I,
          [c.mah.id, message.nonce, c.batchId, RecallLevel.I, hashText("dissolution OOS on retained sample")],
          c.mah.key.address,
          signature,
        );
    });

    it("startRecall ordered by a regulator of another province is accepted", async () => {
      const c = await loadFixture(stockInCommerce);
      const { message, signature } = await signRecallStart(c, c.regulator2, c.batchId, RecallLevel.III);
      await expect(c.batches.startRecall(message as never, signature))
        .to.emit(c.batches, "RecallStarted")
        .withArgs(
          c.batchId,
          c.regulator2.id,
          RecallLevel.III,
          [c.regulator2.id, message.nonce, c.batchId, RecallLevel.III, hashText("dissolution OOS on retained sample")],
          c.regulator2.key.address,
          signature,
        );
      const b = await c.batches.batch(c.batchId);
      expect(b.recall).to.equal(RecallStatus.Open);
      expect(b.recallLevel).to.equal(RecallLevel.III);
    });

    it("startRecall ordered by a regulator is accepted while the MAH is suspended", async () => {
      const c = await loadFixture(stockInCommerce);
      await suspendOrganization(c, c.mah.id);
      await expect(startRecall(c, c.mah, c.batchId, RecallLevel.I))
        .to.be.revertedWithCustomError(c.registry, "SuspendedOrganization")
        .withArgs(c.mah.id);
      await startRecall(c, c.regulator, c.batchId, RecallLevel.I);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Open);
    });

    it("startRecall of a batch still at the factory makes the CMO owe an acknowledgement", async () => {
      const c = await loadFixture(deployConsortium);
      const batchId = await recordBatch(c, "B-RCL-FACTORY");
      await startRecall(c, c.mah, batchId, RecallLevel.III);
      expect(await counters(c, batchId)).to.deep.equal({ holders: 1n, unacknowledged: 1n, inTransit: 0n });
      await acknowledgeRecall(c, c.cmo, batchId, 1000n);
      await closeRecall(c, c.mah, batchId);
      expect((await c.batches.batch(batchId)).recall).to.equal(RecallStatus.Closed);
    });

    it("startRecall reverts for an unknown batch", async () => {
      const c = await loadFixture(stockInCommerce);
      const unknown = await c.batches.batchId(c.productId, "NO-SUCH-BATCH");
      await expect(startRecall(c, c.mah, unknown, RecallLevel.I))
        .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
        .withArgs(unknown);
    });

    it("startRecall reverts when started by the CMO, leaving the batch in commerce", async () => {
      const c = await loadFixture(stockInCommerce);
      const before = await batchSnapshot(c, c.batchId);
      await expect(startRecall(c, c.cmo, c.batchId, RecallLevel.I))
        .to.be.revertedWithCustomError(c.batches, "NotRecallAuthority")
        .withArgs(c.batchId, c.cmo.id);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("startRecall reverts when started by a distributor", async () => {
      const c = await loadFixture(stockInCommerce);
      await expect(startRecall(c, c.distributor, c.batchId, RecallLevel.I))
        .to.be.revertedWithCustomError(c.batches, "NotRecallAuthority")
        .withArgs(c.batchId, c.distributor.id);
    });

    it("startRecall reverts when started by another product's MAH", async () => {
      const c = await loadFixture(stockInCommerce);
      const otherMah = await onboard(c, Role.Mah, ZHEJIANG, "Hangzhou B-Pharma");
      await expect(startRecall(c, otherMah, c.batchId, RecallLevel.I))
        .to.be.revertedWithCustomError(c.batches, "NotRecallAuthority")
        .withArgs(c.batchId, otherMah.id);
    });

    it("startRecall reverts when the level is None", async () => {
      const c = await loadFixture(stockInCommerce);
      const before = await batchSnapshot(c, c.batchId);
      await expect(startRecall(c, c.mah, c.batchId, RecallLevel.None))
        .to.be.revertedWithCustomError(c.batches, "InvalidRecallLevel")
        .withArgs();
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("startRecall reverts while a recall is open, keeping its level and acknowledgements", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeRecall(c, c.dispenser, c.batchId, 10n);
      const before = await batchSnapshot(c, c.batchId);
      await expect(startRecall(c, c.regulator, c.batchId, RecallLevel.I))
        .to.be.revertedWithCustomError(c.batches, "RecallAlreadyStarted")
        .withArgs(c.batchId);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("startRecall reverts after the batch's recall was closed", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeAll(c);
      await closeRecall(c, c.mah, c.batchId);
      await expect(startRecall(c, c.mah, c.batchId, RecallLevel.I))
        .to.be.revertedWithCustomError(c.batches, "RecallAlreadyStarted")
        .withArgs(c.batchId);
    });
  });

  describe("acknowledgeRecall", () => {
    it("acknowledgeRecall marks the holding acknowledged and counts the holder off", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      const h = await holdingOf(c, c.batchId, c.distributor);
      expect(h.recallAcknowledged).to.equal(true);
      expect(h.quantity).to.equal(30n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 3n, unacknowledged: 2n, inTransit: 0n });
    });

    it("acknowledgeRecall emits RecallAcknowledged with every field of the acknowledgement", async () => {
      const c = await loadFixture(recallUnderway);
      const { message, signature } = await c.sign("BatchLedger", "RecallAcknowledgement", c.dispenser.key, {
        holderId: c.dispenser.id,
        batchId: c.batchId,
        quarantinedQuantity: 6n,
        dispensedQuantity: 2n,
        destroyedQuantity: 1n,
        missingQuantity: 1n,
      });
      await expect(c.batches.acknowledgeRecall(message as never, signature))
        .to.emit(c.batches, "RecallAcknowledged")
        .withArgs(c.batchId, c.dispenser.id, [c.dispenser.id, message.nonce, c.batchId, 6n, 2n, 1n, 1n], c.dispenser.key.address, signature);
    });

    it("acknowledgeRecall reverts for an unknown batch", async () => {
      const c = await loadFixture(recallUnderway);
      const unknown = await c.batches.batchId(c.productId, "NO-SUCH-BATCH");
      await expect(acknowledgeRecall(c, c.cmo, unknown, 1n))
        .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
        .withArgs(unknown);
    });

    it("acknowledgeRecall reverts when no recall was started", async () => {
      const c = await loadFixture(stockInCommerce);
      const before = await batchSnapshot(c, c.batchId);
      await expect(acknowledgeRecall(c, c.distributor, c.batchId, 30n))
        .to.be.revertedWithCustomError(c.batches, "RecallNotOpen")
        .withArgs(c.batchId);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("acknowledgeRecall reverts once the recall is closed", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeAll(c);
      await closeRecall(c, c.mah, c.batchId);
      await expect(acknowledgeRecall(c, c.distributor, c.batchId, 30n))
        .to.be.revertedWithCustomError(c.batches, "RecallNotOpen")
        .withArgs(c.batchId);
    });

    it("acknowledgeRecall reverts for an organization that never held the batch", async () => {
      const c = await loadFixture(recallUnderway);
      const before = await batchSnapshot(c, c.batchId);
      await expect(acknowledgeRecall(c, c.distributor2, c.batchId, 0n))
        .to.be.revertedWithCustomError(c.batches, "NotBatchHolder")
        .withArgs(c.batchId, c.distributor2.id);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("acknowledgeRecall reverts for a former holder that passed on all its stock before the recall", async () => {
      const c = await loadFixture(stockInCommerce);
      await handOver(c, c.dispenser, c.distributor2, c.batchId, 10n);
      await startRecall(c, c.mah, c.batchId, RecallLevel.II);
      await expect(acknowledgeRecall(c, c.dispenser, c.batchId, 0n))
        .to.be.revertedWithCustomError(c.batches, "NotBatchHolder")
        .withArgs(c.batchId, c.dispenser.id);
    });

    it("acknowledgeRecall reverts when the holder already acknowledged, without counting it off twice", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      const before = await batchSnapshot(c, c.batchId);
      await expect(acknowledgeRecall(c, c.distributor, c.batchId, 30n))
        .to.be.revertedWithCustomError(c.batches, "RecallAlreadyAcknowledged")
        .withArgs(c.batchId, c.distributor.id);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("acknowledgeRecall accepts a quarantine equal to the holding", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeRecall(c, c.cmo, c.batchId, 60n);
      expect((await holdingOf(c, c.batchId, c.cmo)).recallAcknowledged).to.equal(true);
    });

    it("acknowledgeRecall reverts when the quarantined quantity exceeds the holding", async () => {
      const c = await loadFixture(recallUnderway);
      const before = await batchSnapshot(c, c.batchId);
      await expect(acknowledgeRecall(c, c.distributor, c.batchId, 31n))
        .to.be.revertedWithCustomError(c.batches, "AcknowledgementDoesNotAddUp")
        .withArgs(c.batchId, c.distributor.id, 30n, 31n);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("acknowledgeRecall reverts when a holder of 10 quarantines 5 and leaves the other 5 unexplained", async () => {
      const c = await loadFixture(recallUnderway);
      const before = await batchSnapshot(c, c.batchId);
      await expect(acknowledgeRecall(c, c.dispenser, c.batchId, 5n))
        .to.be.revertedWithCustomError(c.batches, "AcknowledgementDoesNotAddUp")
        .withArgs(c.batchId, c.dispenser.id, 10n, 5n);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("acknowledgeRecall reverts when the explained quantities add up to more than the holding", async () => {
      const c = await loadFixture(recallUnderway);
      await expect(acknowledgeRecall(c, c.dispenser, c.batchId, { quarantined: 5n, dispensed: 3n, destroyed: 2n, missing: 1n }))
        .to.be.revertedWithCustomError(c.batches, "AcknowledgementDoesNotAddUp")
        .withArgs(c.batchId, c.dispenser.id, 10n, 11n);
    });

    it("acknowledgeRecall refuses quantities whose sum overflows 64 bits as not adding up, without a panic", async () => {
      const c = await loadFixture(recallUnderway);
      const max = 2n ** 64n - 1n;
      await expect(acknowledgeRecall(c, c.dispenser, c.batchId, { quarantined: max, dispensed: max, destroyed: max, missing: 11n }))
        .to.be.revertedWithCustomError(c.batches, "AcknowledgementDoesNotAddUp")
        .withArgs(c.batchId, c.dispenser.id, 10n, 3n * max + 11n);
    });

    it("acknowledgeRecall of a holder of 10 that quarantined 5, dispensed 3, destroyed 1 and lost 1 leaves it holding the 5 in quarantine", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeRecall(c, c.dispenser, c.batchId, { quarantined: 5n, dispensed: 3n, destroyed: 1n, missing: 1n });
      const h = await holdingOf(c, c.batchId, c.dispenser);
      expect([h.quantity, h.recallAcknowledged]).to.deep.equal([5n, true]);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 3n, unacknowledged: 2n, inTransit: 0n });
    });

    it("acknowledgeRecall of a holder whose whole holding is gone (dispensed and missing) counts it off as a holder", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeRecall(c, c.dispenser, c.batchId, { dispensed: 7n, missing: 3n });
      expect((await holdingOf(c, c.batchId, c.dispenser)).quantity).to.equal(0n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 2n, unacknowledged: 2n, inTransit: 0n });
      await acknowledgeRecall(c, c.cmo, c.batchId, 60n);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      await closeRecall(c, c.mah, c.batchId);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Closed);
    });

    it("acknowledgeRecall reverts when the holder is suspended", async () => {
      const c = await loadFixture(recallUnderway);
      await suspendOrganization(c, c.dispenser.id);
      await expect(acknowledgeRecall(c, c.dispenser, c.batchId, 10n))
        .to.be.revertedWithCustomError(c.registry, "SuspendedOrganization")
        .withArgs(c.dispenser.id);
      expect((await c.batches.batch(c.batchId)).unacknowledgedHolders).to.equal(3n);
    });
  });

  describe("holder bookkeeping while a recall is open", () => {
    it("a receipt during an open recall makes the recipient owe an acknowledgement before the recall can close", async () => {
      const c = await loadFixture(recallWithShipmentInTransit);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 3n, unacknowledged: 3n, inTransit: 1n });
      await acknowledgeRecall(c, c.cmo, c.batchId, 40n);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      await acknowledgeRecall(c, c.dispenser, c.batchId, 10n);
      await expect(closeRecall(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "RecallNotReconciled")
        .withArgs(c.batchId, 0, 1);

      await receive(c, c.distributor2, c.cmo, c.batchId, c.shipmentId, 20n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 4n, unacknowledged: 1n, inTransit: 0n });
      expect((await holdingOf(c, c.batchId, c.distributor2)).recallAcknowledged).to.equal(false);
      await expect(closeRecall(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "RecallNotReconciled")
        .withArgs(c.batchId, 1, 0);

      await acknowledgeRecall(c, c.distributor2, c.batchId, 20n);
      await closeRecall(c, c.mah, c.batchId);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Closed);
    });

    it("a receipt during an open recall makes a holder that already acknowledged owe a new acknowledgement", async () => {
      const c = await loadFixture(stockInCommerce);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 15n);
      await startRecall(c, c.mah, c.batchId, RecallLevel.I);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      expect((await c.batches.batch(c.batchId)).unacknowledgedHolders).to.equal(2n);

      await receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 15n);
      const h = await holdingOf(c, c.batchId, c.distributor);
      expect(h.quantity).to.equal(45n);
      expect(h.recallAcknowledged).to.equal(false);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 3n, unacknowledged: 3n, inTransit: 0n });

      await acknowledgeRecall(c, c.distributor, c.batchId, 45n);
      expect((await c.batches.batch(c.batchId)).unacknowledgedHolders).to.equal(2n);
    });

    it("a receipt during an open recall by a holder that has not acknowledged yet does not count it twice", async () => {
      const c = await loadFixture(stockInCommerce);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 15n);
      await startRecall(c, c.mah, c.batchId, RecallLevel.I);
      await receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 15n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 3n, unacknowledged: 3n, inTransit: 0n });
      await acknowledgeRecall(c, c.distributor, c.batchId, 45n);
      expect((await c.batches.batch(c.batchId)).unacknowledgedHolders).to.equal(2n);
    });

    it("a receipt of nothing during an open recall creates no obligation", async () => {
      const c = await loadFixture(recallWithShipmentInTransit);
      await receive(c, c.distributor2, c.cmo, c.batchId, c.shipmentId, 20n, 0n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 3n, unacknowledged: 3n, inTransit: 0n });
      await acknowledgeRecall(c, c.cmo, c.batchId, 40n);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      await acknowledgeRecall(c, c.dispenser, c.batchId, 10n);
      await closeRecall(c, c.mah, c.batchId);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Closed);
    });

    it("destroying a whole unacknowledged holding releases the holder from acknowledging", async () => {
      const c = await loadFixture(recallUnderway);
      await destroy(c, c.dispenser, c.batchId, 10n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 2n, unacknowledged: 2n, inTransit: 0n });
      await expect(acknowledgeRecall(c, c.dispenser, c.batchId, 0n))
        .to.be.revertedWithCustomError(c.batches, "NotBatchHolder")
        .withArgs(c.batchId, c.dispenser.id);
      await acknowledgeRecall(c, c.cmo, c.batchId, 60n);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      await closeRecall(c, c.mah, c.batchId);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Closed);
    });

    it("destroying part of an unacknowledged holding keeps the obligation", async () => {
      const c = await loadFixture(recallUnderway);
      await destroy(c, c.distributor, c.batchId, 12n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 3n, unacknowledged: 3n, inTransit: 0n });
      const h = await holdingOf(c, c.batchId, c.distributor);
      expect(h.quantity).to.equal(18n);
      expect(h.recallAcknowledged).to.equal(false);
    });

    it("destroying a whole acknowledged holding leaves the unacknowledged count as it was", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      await destroy(c, c.distributor, c.batchId, 30n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 2n, unacknowledged: 2n, inTransit: 0n });
    });

    it("a holder that acknowledged and destroyed everything owes a new acknowledgement for stock it then receives", async () => {
      const c = await loadFixture(stockInCommerce);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 15n);
      await startRecall(c, c.mah, c.batchId, RecallLevel.I);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      await destroy(c, c.distributor, c.batchId, 30n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 2n, unacknowledged: 2n, inTransit: 1n });

      await receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 15n);
      const h = await holdingOf(c, c.batchId, c.distributor);
      expect(h.quantity).to.equal(15n);
      expect(h.recallAcknowledged).to.equal(false);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 3n, unacknowledged: 3n, inTransit: 0n });
      await acknowledgeRecall(c, c.distributor, c.batchId, 15n);
      expect((await c.batches.batch(c.batchId)).unacknowledgedHolders).to.equal(2n);
    });

    it("a recall closes without acknowledgements once every holder destroyed its stock", async () => {
      const c = await loadFixture(recallUnderway);
      await destroy(c, c.cmo, c.batchId, 60n);
      await destroy(c, c.distributor, c.batchId, 30n);
      await destroy(c, c.dispenser, c.batchId, 10n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 0n, unacknowledged: 0n, inTransit: 0n });
      await closeRecall(c, c.mah, c.batchId);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Closed);
    });
  });

  describe("closeRecall", () => {
    it("closeRecall closes a recall every holder acknowledged", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeAll(c);
      await closeRecall(c, c.mah, c.batchId);
      const b = await c.batches.batch(c.batchId);
      expect(b.recall).to.equal(RecallStatus.Closed);
      expect(b.recallLevel).to.equal(RecallLevel.II);
      expect((await holdingOf(c, c.batchId, c.distributor)).quantity).to.equal(30n);
    });

    it("closeRecall emits RecallClosed with every field of the closure", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeAll(c);
      const reportHash = hashText("recall effectiveness report");
      const { message, signature } = await c.sign("BatchLedger", "RecallClosure", c.mah.key, {
        mahId: c.mah.id,
        batchId: c.batchId,
        reportHash,
      });
      await expect(c.batches.closeRecall(message as never, signature))
        .to.emit(c.batches, "RecallClosed")
        .withArgs(c.batchId, c.mah.id, [c.mah.id, message.nonce, c.batchId, reportHash], c.mah.key.address, signature);
    });

    it("closeRecall reverts while a holder has not acknowledged, and the recall stays open", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeRecall(c, c.cmo, c.batchId, 60n);
      await acknowledgeRecall(c, c.dispenser, c.batchId, 10n);
      const before = await batchSnapshot(c, c.batchId);
      await expect(closeRecall(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "RecallNotReconciled")
        .withArgs(c.batchId, 1, 0);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
      expect(before.batch.recall).to.equal(BigInt(RecallStatus.Open));
    });

    it("closeRecall reverts while a shipment is in transit", async () => {
      const c = await loadFixture(recallWithShipmentInTransit);
      await acknowledgeRecall(c, c.cmo, c.batchId, 40n);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      await acknowledgeRecall(c, c.dispenser, c.batchId, 10n);
      await expect(closeRecall(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "RecallNotReconciled")
        .withArgs(c.batchId, 0, 1);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Open);
    });

    it("closeRecall reverts while a holder of 10 has accounted for only the 5 it quarantined, and closes once all 10 are explained", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeRecall(c, c.cmo, c.batchId, 60n);
      await acknowledgeRecall(c, c.distributor, c.batchId, 30n);
      await expect(acknowledgeRecall(c, c.dispenser, c.batchId, 5n)).to.be.revertedWithCustomError(c.batches, "AcknowledgementDoesNotAddUp");
      await expect(closeRecall(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "RecallNotReconciled")
        .withArgs(c.batchId, 1, 0);
      await acknowledgeRecall(c, c.dispenser, c.batchId, { quarantined: 5n, dispensed: 3n, missing: 2n });
      await closeRecall(c, c.mah, c.batchId);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Closed);
    });

    it("closeRecall reverts when the regulator that ordered the recall tries to close it", async () => {
      const c = await loadFixture(stockInCommerce);
      await startRecall(c, c.regulator2, c.batchId, RecallLevel.I);
      await acknowledgeAll(c);
      await expect(closeRecall(c, c.regulator2, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "NotBatchMah")
        .withArgs(c.batchId, c.regulator2.id);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Open);
      await closeRecall(c, c.mah, c.batchId);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.Closed);
    });

    it("closeRecall reverts when signed by the CMO", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeAll(c);
      await expect(closeRecall(c, c.cmo, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "NotBatchMah")
        .withArgs(c.batchId, c.cmo.id);
    });

    it("closeRecall reverts for an unknown batch", async () => {
      const c = await loadFixture(recallUnderway);
      const unknown = await c.batches.batchId(c.productId, "NO-SUCH-BATCH");
      await expect(closeRecall(c, c.mah, unknown))
        .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
        .withArgs(unknown);
    });

    it("closeRecall reverts when no recall was started", async () => {
      const c = await loadFixture(stockInCommerce);
      await expect(closeRecall(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "RecallNotOpen")
        .withArgs(c.batchId);
      expect((await c.batches.batch(c.batchId)).recall).to.equal(RecallStatus.None);
    });

    it("closeRecall reverts when the recall is already closed", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeAll(c);
      await closeRecall(c, c.mah, c.batchId);
      await expect(closeRecall(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "RecallNotOpen")
        .withArgs(c.batchId);
    });

    it("a closed recall keeps the batch out of commerce but lets holders destroy the quarantined stock", async () => {
      const c = await loadFixture(recallUnderway);
      await acknowledgeAll(c);
      await closeRecall(c, c.mah, c.batchId);
      await expect(ship(c, c.distributor, c.dispenser, c.batchId, 1n))
        .to.be.revertedWithCustomError(c.batches, "BatchRecalled")
        .withArgs(c.batchId);
      await destroy(c, c.distributor, c.batchId, 30n);
      expect((await holdingOf(c, c.batchId, c.distributor)).quantity).to.equal(0n);
      expect(await counters(c, c.batchId)).to.deep.equal({ holders: 2n, unacknowledged: 0n, inTransit: 0n });
    });
  });
});
