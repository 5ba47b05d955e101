import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import { DEFAULT_UNDO_WINDOW, PackState, RecallLevel, Role } from "../../src/ledger";
import {
  batchSnapshot,
  changePackStates,
  deployConsortium,
  dispense,
  dispensingProof,
  handOver,
  packId,
  packTree,
  releasedBatch,
  startRecall,
} from "./fixtures";
import type { Consortium, Party } from "./fixtures";

const BATCH = "B-PACK-001";

/** A market-released batch of 100 units with 16 serialized packs: 40 at the distributor, 10 of them at the pharmacy. */
async function stockAtPharmacy() {
  const c = await deployConsortium();
  const { batchId, tree, codes } = await releasedBatch(c, BATCH, 100n, 16);
  await handOver(c, c.cmo, c.distributor, batchId, 40n);
  await handOver(c, c.distributor, c.dispenser, batchId, 10n);
  return { ...c, batchId, tree, codes };
}
type Stock = Awaited<ReturnType<typeof stockAtPharmacy>>;

const held = async (c: Consortium, batchId: string, party: Party) => (await c.batches.holding(batchId, party.id)).quantity;
const stateOf = async (c: Consortium, code: string) => Number((await c.batches.packRecord(packId(code))).state);
const change = (c: Stock, by: Party, codes: string[], state: number) => changePackStates(c, by, c.batchId, c.tree, codes, state);

describe("BatchLedger: pack states", () => {
  describe("setting a state", () => {
    for (const [name, state] of [
      ["Destroyed", PackState.Destroyed],
      ["Stolen", PackState.Stolen],
      ["Sample", PackState.Sample],
      ["Exported", PackState.Exported],
    ] as const) {
      it(`${name} records the state, who set it and when, and takes each pack out of the holder's stock`, async () => {
        const c = await loadFixture(stockAtPharmacy);
        await change(c, c.distributor, c.codes.slice(0, 3), state);
        const setAt = await time.latest();
        for (const code of c.codes.slice(0, 3)) {
          const record = await c.batches.packRecord(packId(code));
          expect([Number(record.state), record.organizationId, record.changedAt]).to.deep.equal([state, BigInt(c.distributor.id), BigInt(setAt)]);
        }
        expect(await stateOf(c, c.codes[3]!)).to.equal(PackState.Active);
        expect(await held(c, c.batchId, c.distributor)).to.equal(27n);
      });
    }

    it("Dispensed by a dispenser is a dispensing: the pack is dispensed and leaves its stock", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await change(c, c.dispenser, c.codes.slice(0, 2), PackState.Dispensed);
      expect(await c.batches.isPackDispensed(packId(c.codes[0]!))).to.equal(true);
      expect(await held(c, c.batchId, c.dispenser)).to.equal(8n);
    });

    it("Locked by a holder moves no stock: the pack stays in the holding, unsellable", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const before = await batchSnapshot(c, c.batchId);
      await change(c, c.dispenser, c.codes.slice(0, 2), PackState.Locked);
      expect(await stateOf(c, c.codes[0]!)).to.equal(PackState.Locked);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("Locked may be set by the batch's MAH or a regulator, who hold none of it", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await change(c, c.mah, c.codes.slice(0, 1), PackState.Locked);
      await change(c, c.regulator, c.codes.slice(1, 2), PackState.Locked);
      expect([await stateOf(c, c.codes[0]!), await stateOf(c, c.codes[1]!)]).to.deep.equal([PackState.Locked, PackState.Locked]);
    });

    it("emits PackStatesChanged with every field, packs included", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { packs, proof, proofFlags } = dispensingProof(c.tree, [c.codes[4]!, c.codes[1]!]);
      const { message, signature } = await c.sign("BatchLedger", "PackStateChange", c.cmo.key, {
        organizationId: c.cmo.id,
        batchId: c.batchId,
        state: PackState.Destroyed,
        packs,
        reasonHash: hashText("crushed in transit"),
      });
      await expect(c.batches.changePackStates(message as never, proof, proofFlags, signature))
        .to.emit(c.batches, "PackStatesChanged")
        .withArgs(
          c.batchId,
          c.cmo.id,
          PackState.Destroyed,
          [c.cmo.id, message.nonce, c.batchId, PackState.Destroyed, packs, hashText("crushed in transit")],
          c.cmo.key.address,
          signature,
        );
    });

    it("a destroyed pack is not also dispensed, stolen or locked: one state at a time", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await change(c, c.dispenser, c.codes.slice(0, 1), PackState.Destroyed);
      const pack = packId(c.codes[0]!);
      await expect(dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1)))
        .to.be.revertedWithCustomError(c.batches, "PackNotActive")
        .withArgs(pack, PackState.Destroyed);
      for (const state of [PackState.Stolen, PackState.Locked]) {
        await expect(change(c, c.dispenser, c.codes.slice(0, 1), state))
          .to.be.revertedWithCustomError(c.batches, "PackNotActive")
          .withArgs(pack, PackState.Destroyed);
      }
    });

    it("a dispensed pack cannot be given another state", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1));
      await expect(change(c, c.dispenser, c.codes.slice(0, 1), PackState.Stolen))
        .to.be.revertedWithCustomError(c.batches, "PackAlreadyDispensed")
        .withArgs(packId(c.codes[0]!));
    });

    it("a locked pack cannot be dispensed until it is unlocked", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await change(c, c.dispenser, c.codes.slice(0, 1), PackState.Locked);
      await expect(dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1)))
        .to.be.revertedWithCustomError(c.batches, "PackNotActive")
        .withArgs(packId(c.codes[0]!), PackState.Locked);
      await change(c, c.dispenser, c.codes.slice(0, 1), PackState.Active);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1));
      expect(await held(c, c.batchId, c.dispenser)).to.equal(9n);
    });

    it("Dispensed is refused to an organization that is not a dispenser", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await expect(change(c, c.distributor, c.codes.slice(0, 1), PackState.Dispensed))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.distributor.id, Role.Distributor, Role.Dispenser);
    });

    it("Dispensed is refused once the batch has expired", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { expiresAt } = await c.batches.batch(c.batchId);
      await time.increaseTo(expiresAt + 1n);
      await expect(change(c, c.dispenser, c.codes.slice(0, 1), PackState.Dispensed))
        .to.be.revertedWithCustomError(c.batches, "BatchExpired")
        .withArgs(c.batchId, expiresAt);
    });

    it("Dispensed and Exported are refused during a recall; Destroyed, Stolen, Sample and Locked are not", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await startRecall(c, c.mah, c.batchId, RecallLevel.II);
      for (const state of [PackState.Dispensed, PackState.Exported]) {
        await expect(change(c, c.dispenser, c.codes.slice(0, 1), state))
          .to.be.revertedWithCustomError(c.batches, "BatchRecalled")
          .withArgs(c.batchId);
      }
      for (const [i, state] of [PackState.Destroyed, PackState.Stolen, PackState.Sample, PackState.Locked].entries()) {
        await change(c, c.dispenser, [c.codes[i]!], state);
      }
      expect(await held(c, c.batchId, c.dispenser)).to.equal(7n);
    });

    it("is refused to an organization holding fewer packs than it names, leaving everything as it was", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const before = await batchSnapshot(c, c.batchId);
      await expect(change(c, c.distributor2, c.codes.slice(0, 2), PackState.Stolen))
        .to.be.revertedWithCustomError(c.batches, "InsufficientHolding")
        .withArgs(c.batchId, c.distributor2.id, 0, 2);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
      expect(await stateOf(c, c.codes[0]!)).to.equal(PackState.Active);
    });

    it("Locked is refused to an organization that neither holds the batch nor is its MAH or a regulator", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await expect(change(c, c.distributor2, c.codes.slice(0, 1), PackState.Locked))
        .to.be.revertedWithCustomError(c.batches, "NotPackCustodian")
        .withArgs(c.batchId, c.distributor2.id);
    });

    it("is refused for packs that are not the batch's committed codes", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const foreign = packTree("B-COUNTERFEIT", 8);
      await expect(changePackStates(c, c.dispenser, c.batchId, foreign.tree, foreign.codes.slice(0, 1), PackState.Destroyed))
        .to.be.revertedWithCustomError(c.batches, "PacksNotInBatch")
        .withArgs(c.batchId);
    });

    it("is refused when it names no pack", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { message, signature } = await c.sign("BatchLedger", "PackStateChange", c.dispenser.key, {
        organizationId: c.dispenser.id,
        batchId: c.batchId,
        state: PackState.Destroyed,
        packs: [],
        reasonHash: hashText("nothing"),
      });
      await expect(c.batches.changePackStates(message as never, [c.tree.root], [], signature)).to.be.revertedWithCustomError(c.batches, "NoPacks");
    });
  });

  describe("undoing a state (Active)", () => {
    it("the dispenser undoes its own dispensing within the window: the pack is active again and back in its stock", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 3));
      await time.increase(DEFAULT_UNDO_WINDOW - 60);
      await change(c, c.dispenser, c.codes.slice(0, 2), PackState.Active);
      expect([await stateOf(c, c.codes[0]!), await stateOf(c, c.codes[2]!)]).to.deep.equal([PackState.Active, PackState.Dispensed]);
      expect(await c.batches.isPackDispensed(packId(c.codes[0]!))).to.equal(false);
      expect(await held(c, c.batchId, c.dispenser)).to.equal(9n);
    });

    it("accepts the window's last second and refuses the next with UndoWindowClosed", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 2));
      const dispensedAt = await time.latest();
      await time.setNextBlockTimestamp(dispensedAt + DEFAULT_UNDO_WINDOW);
      await change(c, c.dispenser, c.codes.slice(0, 1), PackState.Active);
      await time.setNextBlockTimestamp(dispensedAt + DEFAULT_UNDO_WINDOW + 1);
      await expect(change(c, c.dispenser, c.codes.slice(1, 2), PackState.Active))
        .to.be.revertedWithCustomError(c.batches, "UndoWindowClosed")
        .withArgs(packId(c.codes[1]!), dispensedAt, DEFAULT_UNDO_WINDOW);
      expect(await held(c, c.batchId, c.dispenser)).to.equal(9n);
    });

    it("undoes a sample or an export too, within the window, returning the packs to stock", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await change(c, c.distributor, c.codes.slice(0, 1), PackState.Sample);
      await change(c, c.distributor, c.codes.slice(1, 2), PackState.Exported);
      await change(c, c.distributor, c.codes.slice(0, 2), PackState.Active);
      expect(await held(c, c.batchId, c.distributor)).to.equal(30n);
    });

    it("is refused to any organization but the one that set the state", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1));
      await expect(change(c, c.distributor2, c.codes.slice(0, 1), PackState.Active))
        .to.be.revertedWithCustomError(c.batches, "NotPackStateSetter")
        .withArgs(packId(c.codes[0]!), c.dispenser.id, c.distributor2.id);
    });

    it("never undoes a destruction or a theft, and has nothing to undo on an active pack", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await change(c, c.distributor, c.codes.slice(0, 1), PackState.Destroyed);
      await change(c, c.distributor, c.codes.slice(1, 2), PackState.Stolen);
      for (const [i, state] of [PackState.Destroyed, PackState.Stolen, PackState.Active].entries()) {
        await expect(change(c, c.distributor, [c.codes[i]!], PackState.Active))
          .to.be.revertedWithCustomError(c.batches, "PackStateIrreversible")
          .withArgs(packId(c.codes[i]!), state);
      }
    });

    it("does not return packs to the stock of a recalled batch", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1));
      await startRecall(c, c.regulator, c.batchId, RecallLevel.I);
      await expect(change(c, c.dispenser, c.codes.slice(0, 1), PackState.Active))
        .to.be.revertedWithCustomError(c.batches, "BatchRecalled")
        .withArgs(c.batchId);
    });

    it("does not return packs to the stock of an expired batch", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { expiresAt } = await c.batches.batch(c.batchId);
      await time.setNextBlockTimestamp(expiresAt - 10n);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1));
      await time.setNextBlockTimestamp(expiresAt + 1n);
      await expect(change(c, c.dispenser, c.codes.slice(0, 1), PackState.Active))
        .to.be.revertedWithCustomError(c.batches, "BatchExpired")
        .withArgs(c.batchId, expiresAt);
    });

    it("unlocks the locker's pack at any time, even during a recall, moving no stock", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await change(c, c.dispenser, c.codes.slice(0, 1), PackState.Locked);
      await time.increase(DEFAULT_UNDO_WINDOW * 3);
      await startRecall(c, c.mah, c.batchId, RecallLevel.III);
      const before = await batchSnapshot(c, c.batchId);
      await change(c, c.dispenser, c.codes.slice(0, 1), PackState.Active);
      expect(await stateOf(c, c.codes[0]!)).to.equal(PackState.Active);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("uses the undo window the deployment set", async () => {
      const day = 24 * 3600;
      const c = await deployConsortium(undefined, day);
      expect(await c.batches.undoWindow()).to.equal(BigInt(day));
      const { batchId, tree, codes } = await releasedBatch(c, "B-PACK-DAY", 10n, 4);
      await handOver(c, c.cmo, c.dispenser, batchId, 4n);
      await dispense(c, c.dispenser, batchId, tree, codes.slice(0, 1));
      const dispensedAt = await time.latest();
      await time.setNextBlockTimestamp(dispensedAt + day + 1);
      await expect(changePackStates(c, c.dispenser, batchId, tree, codes.slice(0, 1), PackState.Active))
        .to.be.revertedWithCustomError(c.batches, "UndoWindowClosed")
        .withArgs(packId(codes[0]!), dispensedAt, day);
    });
  });
});
