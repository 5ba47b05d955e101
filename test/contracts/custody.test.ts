import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, concat, id as hashText, keccak256, ZeroHash } from "ethers";
import type { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { BatchState, RecallLevel, Role } from "../../src/ledger";
import {
  batchSnapshot,
  deployConsortium,
  destroy,
  dispense,
  dispensingProof,
  handOver,
  holdersOf,
  packId,
  packTree,
  receive,
  recordBatch,
  releasedBatch,
  releaseFromFactory,
  ship,
  startRecall,
  suspendOrganization,
} from "./fixtures";
import type { Consortium, Party } from "./fixtures";

const BATCH = "B-CUS-001";

/** A market-released batch of 100 units with 16 serialized packs, all held by the CMO. */
async function releasedStock() {
  const c = await deployConsortium();
  const { batchId, tree, codes } = await releasedBatch(c, BATCH, 100n, 16);
  return { ...c, batchId, tree, codes };
}

/** The same batch after the CMO sold 40 to the distributor and the distributor 10 to the hospital pharmacy. */
async function stockAtPharmacy() {
  const c = await releasedStock();
  await handOver(c, c.cmo, c.distributor, c.batchId, 40n);
  await handOver(c, c.distributor, c.dispenser, c.batchId, 10n);
  return c;
}

type Stock = Awaited<ReturnType<typeof releasedStock>>;

async function signShipment(c: Consortium, from: Party, overrides: Record<string, unknown> = {}) {
  return c.sign("BatchLedger", "Shipment", from.key, {
    shipperId: from.id,
    batchId: ZeroHash,
    recipientId: c.distributor.id,
    quantity: 1n,
    codesRoot: ZeroHash,
    ...overrides,
  });
}

async function submitShipment(c: Consortium, from: Party, overrides: Record<string, unknown> = {}) {
  const { message, signature } = await signShipment(c, from, overrides);
  return c.batches.shipBatch(message as never, signature);
}

async function signReceipt(c: Consortium, to: Party, overrides: Record<string, unknown>) {
  return c.sign("BatchLedger", "Receipt", to.key, { recipientId: to.id, ...overrides });
}

async function signDispensing(c: Consortium, by: Party, batchId: string, tree: StandardMerkleTree<string[]>, codes: string[]) {
  const { packs, proof, proofFlags } = dispensingProof(tree, codes);
  const signed = await c.sign("BatchLedger", "Dispensing", by.key, { dispenserId: by.id, batchId, packs });
  return { ...signed, packs, proof, proofFlags };
}

async function signDestruction(c: Consortium, by: Party, batchId: string, quantity: bigint) {
  return c.sign("BatchLedger", "Destruction", by.key, {
    holderId: by.id,
    batchId,
    quantity,
    reasonHash: hashText("temperature excursion"),
  });
}

async function quantityHeld(c: Consortium, batchId: string, party: Party) {
  return (await c.batches.holding(batchId, party.id)).quantity;
}

describe("BatchLedger: custody", () => {
  describe("shipBatch", () => {
    it("shipBatch moves the quantity from the shipper's holding into transit", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      expect(await quantityHeld(c, c.batchId, c.cmo)).to.equal(70n);
      expect(await quantityHeld(c, c.batchId, c.distributor)).to.equal(0n);
      expect(await c.batches.isInTransit(shipmentId)).to.equal(true);
      const b = await c.batches.batch(c.batchId);
      expect(b.shipmentsInTransit).to.equal(1n);
      expect(b.holders).to.equal(1n);
    });

    it("shipBatch of the whole holding takes the shipper out of the holders", async () => {
      const c = await loadFixture(releasedStock);
      await ship(c, c.cmo, c.distributor, c.batchId, 100n);
      expect(await quantityHeld(c, c.batchId, c.cmo)).to.equal(0n);
      expect((await c.batches.batch(c.batchId)).holders).to.equal(0n);
    });

    it("shipBatch returns the shipment id derived from the shipper and its nonce", async () => {
      const c = await loadFixture(releasedStock);
      const { message, signature } = await signShipment(c, c.cmo, { batchId: c.batchId, quantity: 5n });
      const expected = keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint256"], [c.cmo.id, message.nonce]));
      expect(await c.batches.shipBatch.staticCall(message as never, signature)).to.equal(expected);
      expect(await c.batches.shipmentId(c.cmo.id, message.nonce)).to.equal(expected);
    });

    it("shipBatch emits BatchShipped with every field of the shipment", async () => {
      const c = await loadFixture(releasedStock);
      const shippedCodes = packTree(BATCH, 16).tree.root;
      const { message, signature } = await signShipment(c, c.cmo, {
        batchId: c.batchId,
        recipientId: c.distributor2.id,
        quantity: 25n,
        codesRoot: shippedCodes,
      });
      const shipmentId = await c.batches.shipmentId(c.cmo.id, message.nonce);
      await expect(c.batches.shipBatch(message as never, signature))
        .to.emit(c.batches, "BatchShipped")
        .withArgs(
          shipmentId,
          c.batchId,
          c.cmo.id,
          [c.cmo.id, message.nonce, c.batchId, c.distributor2.id, 25n, shippedCodes],
          c.cmo.key.address,
          signature,
        );
    });

    it("shipBatch accepts the MAH as addressee (a return to the licence holder)", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await handOver(c, c.distributor, c.mah, c.batchId, 5n);
      expect(await quantityHeld(c, c.batchId, c.mah)).to.equal(5n);
    });

    it("shipBatch reverts for an unknown batch", async () => {
      const c = await loadFixture(releasedStock);
      const unknown = await c.batches.batchId(c.productId, "NO-SUCH-BATCH");
      await expect(submitShipment(c, c.cmo, { batchId: unknown }))
        .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
        .withArgs(unknown);
    });

    it("shipBatch reverts before factory release", async () => {
      const c = await loadFixture(releasedStock);
      const batchId = await recordBatch(c, "B-CUS-002");
      const before = await batchSnapshot(c, batchId);
      await expect(submitShipment(c, c.cmo, { batchId }))
        .to.be.revertedWithCustomError(c.batches, "BatchStateMismatch")
        .withArgs(batchId, BatchState.Manufactured, BatchState.MarketReleased);
      expect(await batchSnapshot(c, batchId)).to.deep.equal(before);
    });

    it("shipBatch reverts after factory release but before market release", async () => {
      const c = await loadFixture(releasedStock);
      const batchId = await recordBatch(c, "B-CUS-002");
      await releaseFromFactory(c, batchId);
      await expect(submitShipment(c, c.cmo, { batchId }))
        .to.be.revertedWithCustomError(c.batches, "BatchStateMismatch")
        .withArgs(batchId, BatchState.FactoryReleased, BatchState.MarketReleased);
    });

    it("shipBatch reverts once the batch is recalled, leaving holdings as they were", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await startRecall(c, c.mah, c.batchId, RecallLevel.I);
      const before = await batchSnapshot(c, c.batchId);
      await expect(submitShipment(c, c.distributor, { batchId: c.batchId, recipientId: c.dispenser.id, quantity: 5n }))
        .to.be.revertedWithCustomError(c.batches, "BatchRecalled")
        .withArgs(c.batchId);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("shipBatch still moves stock after the expiry date, so expired stock can go back up the chain for destruction", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { expiresAt } = await c.batches.batch(c.batchId);
      await time.increaseTo(expiresAt + 1n);
      await handOver(c, c.dispenser, c.distributor, c.batchId, 5n);
      await handOver(c, c.distributor, c.mah, c.batchId, 5n);
      expect(await quantityHeld(c, c.batchId, c.mah)).to.equal(5n);
    });

    it("shipBatch reverts when the shipper addresses itself", async () => {
      const c = await loadFixture(releasedStock);
      await expect(submitShipment(c, c.cmo, { batchId: c.batchId, recipientId: c.cmo.id }))
        .to.be.revertedWithCustomError(c.batches, "ShipmentToSelf")
        .withArgs(c.cmo.id);
    });

    it("shipBatch reverts when the addressee is a regulator, which holds no stock", async () => {
      const c = await loadFixture(releasedStock);
      await expect(submitShipment(c, c.cmo, { batchId: c.batchId, recipientId: c.regulator2.id }))
        .to.be.revertedWithCustomError(c.batches, "RecipientCannotHold")
        .withArgs(c.regulator2.id, Role.Regulator);
    });

    it("shipBatch reverts when the addressee is not a registered organization", async () => {
      const c = await loadFixture(releasedStock);
      const before = await batchSnapshot(c, c.batchId);
      await expect(submitShipment(c, c.cmo, { batchId: c.batchId, recipientId: 999 }))
        .to.be.revertedWithCustomError(c.registry, "UnknownOrganization")
        .withArgs(999);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("shipBatch reverts when the addressee is suspended", async () => {
      const c = await loadFixture(releasedStock);
      await suspendOrganization(c, c.distributor.id);
      const before = await batchSnapshot(c, c.batchId);
      await expect(submitShipment(c, c.cmo, { batchId: c.batchId, recipientId: c.distributor.id }))
        .to.be.revertedWithCustomError(c.registry, "SuspendedOrganization")
        .withArgs(c.distributor.id);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("shipBatch reverts when the shipper is suspended", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await suspendOrganization(c, c.distributor.id);
      await expect(submitShipment(c, c.distributor, { batchId: c.batchId, recipientId: c.dispenser.id }))
        .to.be.revertedWithCustomError(c.registry, "SuspendedOrganization")
        .withArgs(c.distributor.id);
    });

    it("shipBatch reverts when the quantity is zero", async () => {
      const c = await loadFixture(releasedStock);
      await expect(submitShipment(c, c.cmo, { batchId: c.batchId, quantity: 0n }))
        .to.be.revertedWithCustomError(c.batches, "ZeroQuantity")
        .withArgs();
    });

    it("shipBatch reverts when the shipper holds less than it ships, leaving holdings as they were", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const before = await batchSnapshot(c, c.batchId);
      const { message, signature } = await signShipment(c, c.distributor, {
        batchId: c.batchId,
        recipientId: c.distributor2.id,
        quantity: 31n,
      });
      await expect(c.batches.shipBatch(message as never, signature))
        .to.be.revertedWithCustomError(c.batches, "InsufficientHolding")
        .withArgs(c.batchId, c.distributor.id, 30n, 31n);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
      expect(await c.batches.isInTransit(await c.batches.shipmentId(c.distributor.id, message.nonce))).to.equal(false);
      expect(await c.batches.isNonceUsed(c.distributor.id, message.nonce)).to.equal(false);
    });

    it("shipBatch reverts when the shipper holds none of the batch", async () => {
      const c = await loadFixture(releasedStock);
      await expect(submitShipment(c, c.distributor2, { batchId: c.batchId, recipientId: c.dispenser.id }))
        .to.be.revertedWithCustomError(c.batches, "InsufficientHolding")
        .withArgs(c.batchId, c.distributor2.id, 0n, 1n);
    });

    it("shipBatch reverts when the shipment is replayed", async () => {
      const c = await loadFixture(releasedStock);
      const { message, signature } = await signShipment(c, c.cmo, { batchId: c.batchId, quantity: 5n });
      await c.batches.shipBatch(message as never, signature);
      await expect(c.batches.shipBatch(message as never, signature))
        .to.be.revertedWithCustomError(c.batches, "AttestationNonceUsed")
        .withArgs(c.cmo.id, message.nonce);
      expect(await quantityHeld(c, c.batchId, c.cmo)).to.equal(95n);
    });
  });

  describe("receiveShipment", () => {
    it("receiveShipment credits the addressee and ends the transit", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      await receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 30n);
      expect(await quantityHeld(c, c.batchId, c.distributor)).to.equal(30n);
      expect(await quantityHeld(c, c.batchId, c.cmo)).to.equal(70n);
      expect(await c.batches.isInTransit(shipmentId)).to.equal(false);
      const b = await c.batches.batch(c.batchId);
      expect(b.shipmentsInTransit).to.equal(0n);
      expect(b.holders).to.equal(2n);
    });

    it("receiveShipment adds to a holding the addressee already has", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await handOver(c, c.distributor, c.dispenser, c.batchId, 4n);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(14n);
      expect((await c.batches.batch(c.batchId)).holders).to.equal(3n);
    });

    it("receiveShipment with a shortfall credits only what arrived", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      await receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 30n, 27n);
      expect(await quantityHeld(c, c.batchId, c.distributor)).to.equal(27n);
      expect(await c.batches.isInTransit(shipmentId)).to.equal(false);
    });

    it("receiveShipment of nothing (the whole consignment lost) credits no one and adds no holder", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      await receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 30n, 0n);
      expect(await quantityHeld(c, c.batchId, c.distributor)).to.equal(0n);
      const b = await c.batches.batch(c.batchId);
      expect(b.holders).to.equal(1n);
      expect(b.shipmentsInTransit).to.equal(0n);
    });

    it("receiveShipment emits ShipmentReceived with every field of the receipt", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      const { message, signature } = await signReceipt(c, c.distributor, {
        shipmentId,
        batchId: c.batchId,
        shipperId: c.cmo.id,
        shippedQuantity: 30n,
        receivedQuantity: 29n,
      });
      await expect(c.batches.receiveShipment(message as never, signature))
        .to.emit(c.batches, "ShipmentReceived")
        .withArgs(
          shipmentId,
          c.batchId,
          c.distributor.id,
          [c.distributor.id, message.nonce, shipmentId, c.batchId, c.cmo.id, 30n, 29n],
          c.distributor.key.address,
          signature,
        );
    });

    it("receiveShipment reverts for a shipment that was never sent", async () => {
      const c = await loadFixture(releasedStock);
      const never = await c.batches.shipmentId(c.cmo.id, 424242n);
      await expect(receive(c, c.distributor, c.cmo, c.batchId, never, 30n))
        .to.be.revertedWithCustomError(c.batches, "ShipmentNotInTransit")
        .withArgs(never);
    });

    it("receiveShipment reverts when the shipment was already received", async () => {
      const c = await loadFixture(releasedStock);
      const shipmentId = await handOver(c, c.cmo, c.distributor, c.batchId, 30n);
      const before = await batchSnapshot(c, c.batchId);
      await expect(receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 30n))
        .to.be.revertedWithCustomError(c.batches, "ShipmentNotInTransit")
        .withArgs(shipmentId);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("receiveShipment rejects a replayed receipt: it consumed its shipment, and spends no nonce", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      const { message, signature } = await c.sign("BatchLedger", "Receipt", c.distributor.key, {
        recipientId: c.distributor.id,
        shipmentId,
        batchId: c.batchId,
        shipperId: c.cmo.id,
        shippedQuantity: 30n,
        receivedQuantity: 30n,
      });
      await c.batches.receiveShipment(message as never, signature);
      expect(await c.batches.isNonceUsed(c.distributor.id, message.nonce)).to.equal(false);
      await expect(c.batches.receiveShipment(message as never, signature))
        .to.be.revertedWithCustomError(c.batches, "ShipmentNotInTransit")
        .withArgs(shipmentId);
      expect(await quantityHeld(c, c.batchId, c.distributor)).to.equal(30n);
    });

    it("receiveShipment reverts when someone other than the addressee receives, leaving it in transit", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      const before = await batchSnapshot(c, c.batchId);
      await expect(receive(c, c.distributor2, c.cmo, c.batchId, shipmentId, 30n))
        .to.be.revertedWithCustomError(c.batches, "NotShipmentAddressee")
        .withArgs(shipmentId, c.distributor.id, c.distributor2.id);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
      expect(await c.batches.isInTransit(shipmentId)).to.equal(true);
    });

    it("receiveShipment reverts when the shipped quantity differs from the shipment", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      await expect(receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 31n, 31n))
        .to.be.revertedWithCustomError(c.batches, "ShipmentDetailsMismatch")
        .withArgs(shipmentId);
      expect(await c.batches.isInTransit(shipmentId)).to.equal(true);
    });

    it("receiveShipment reverts when the shipper differs from the shipment", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { shipmentId } = await ship(c, c.cmo, c.distributor2, c.batchId, 30n);
      await expect(receive(c, c.distributor2, c.distributor, c.batchId, shipmentId, 30n))
        .to.be.revertedWithCustomError(c.batches, "ShipmentDetailsMismatch")
        .withArgs(shipmentId);
    });

    it("receiveShipment reverts when the batch differs from the shipment", async () => {
      const c = await loadFixture(releasedStock);
      const other = await releasedBatch(c, "B-CUS-OTHER", 100n, 4);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      const before = await batchSnapshot(c, other.batchId);
      await expect(receive(c, c.distributor, c.cmo, other.batchId, shipmentId, 30n))
        .to.be.revertedWithCustomError(c.batches, "ShipmentDetailsMismatch")
        .withArgs(shipmentId);
      expect(await batchSnapshot(c, other.batchId)).to.deep.equal(before);
    });

    it("receiveShipment reverts when more is received than was shipped", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      const before = await batchSnapshot(c, c.batchId);
      await expect(receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 30n, 31n))
        .to.be.revertedWithCustomError(c.batches, "ReceivedQuantityExceedsShipped")
        .withArgs(shipmentId, 30n, 31n);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("receiveShipment reverts when the addressee was suspended while the goods travelled", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      await suspendOrganization(c, c.distributor.id);
      await expect(receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 30n))
        .to.be.revertedWithCustomError(c.registry, "SuspendedOrganization")
        .withArgs(c.distributor.id);
      expect(await c.batches.isInTransit(shipmentId)).to.equal(true);
    });

    it("receiveShipment reverts when the receipt is signed by another organization's key", async () => {
      const c = await loadFixture(releasedStock);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 30n);
      const { message, signature } = await c.sign("BatchLedger", "Receipt", c.distributor2.key, {
        recipientId: c.distributor.id,
        shipmentId,
        batchId: c.batchId,
        shipperId: c.cmo.id,
        shippedQuantity: 30n,
        receivedQuantity: 30n,
      });
      await expect(c.batches.receiveShipment(message as never, signature))
        .to.be.revertedWithCustomError(c.registry, "SignerNotOfOrganization")
        .withArgs(c.distributor2.key.address, c.distributor.id);
      expect(await c.batches.isInTransit(shipmentId)).to.equal(true);
    });
  });

  describe("dispensePacks", () => {
    it("dispensePacks decommissions the packs and debits the dispenser one unit per pack", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 3));
      for (const code of c.codes.slice(0, 3)) {
        expect(await c.batches.isPackDispensed(packId(code))).to.equal(true);
      }
      expect(await c.batches.isPackDispensed(packId(c.codes[3]!))).to.equal(false);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(7n);
    });

    it("dispensePacks of the last units takes the dispenser out of the holders", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 10));
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(0n);
      expect((await c.batches.batch(c.batchId)).holders).to.equal(2n);
    });

    it("dispensePacks emits PacksDispensed with every field, packs included", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { message, signature, packs, proof, proofFlags } = await signDispensing(c, c.dispenser, c.batchId, c.tree, [c.codes[2]!, c.codes[9]!]);
      await expect(c.batches.dispensePacks(message as never, proof, proofFlags, signature))
        .to.emit(c.batches, "PacksDispensed")
        .withArgs(c.batchId, c.dispenser.id, [c.dispenser.id, message.nonce, c.batchId, packs], c.dispenser.key.address, signature);
    });

    it("dispensePacks reverts when the organization is not a dispenser", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await expect(dispense(c, c.distributor, c.batchId, c.tree, c.codes.slice(0, 1)))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.distributor.id, Role.Distributor, Role.Dispenser);
    });

    it("dispensePacks reverts for an unknown batch", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const unknown = await c.batches.batchId(c.productId, "NO-SUCH-BATCH");
      await expect(dispense(c, c.dispenser, unknown, c.tree, c.codes.slice(0, 1)))
        .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
        .withArgs(unknown);
    });

    it("dispensePacks reverts before market release", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { tree, codes } = packTree("B-CUS-002", 4);
      const batchId = await recordBatch(c, "B-CUS-002", { codesRoot: tree.root });
      await expect(dispense(c, c.dispenser, batchId, tree, codes.slice(0, 1)))
        .to.be.revertedWithCustomError(c.batches, "BatchStateMismatch")
        .withArgs(batchId, BatchState.Manufactured, BatchState.MarketReleased);
    });

    it("dispensePacks reverts once the batch is recalled, and the packs stay undispensed", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await startRecall(c, c.regulator, c.batchId, RecallLevel.I);
      const before = await batchSnapshot(c, c.batchId);
      await expect(dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 2)))
        .to.be.revertedWithCustomError(c.batches, "BatchRecalled")
        .withArgs(c.batchId);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
      expect(await c.batches.isPackDispensed(packId(c.codes[0]!))).to.equal(false);
    });

    it("dispensePacks accepts the last second of the expiry date (23:59:59 China time)", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { expiresAt } = await c.batches.batch(c.batchId);
      const signed = await signDispensing(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1));
      await time.setNextBlockTimestamp(expiresAt);
      await c.batches.dispensePacks(signed.message as never, signed.proof, signed.proofFlags, signed.signature);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(9n);
    });

    it("dispensePacks reverts once the batch has expired", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { expiresAt } = await c.batches.batch(c.batchId);
      const signed = await signDispensing(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1));
      await time.setNextBlockTimestamp(expiresAt + 1n);
      await expect(c.batches.dispensePacks(signed.message as never, signed.proof, signed.proofFlags, signed.signature))
        .to.be.revertedWithCustomError(c.batches, "BatchExpired")
        .withArgs(c.batchId, expiresAt);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(10n);
    });

    it("dispensePacks reverts when no pack is named", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { message, signature } = await c.sign("BatchLedger", "Dispensing", c.dispenser.key, {
        dispenserId: c.dispenser.id,
        batchId: c.batchId,
        packs: [],
      });
      await expect(c.batches.dispensePacks(message as never, [c.tree.root], [], signature))
        .to.be.revertedWithCustomError(c.batches, "NoPacks")
        .withArgs();
    });

    it("dispensePacks reverts when the packs belong to another batch's codes", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const foreign = packTree("B-COUNTERFEIT", 16);
      await expect(dispense(c, c.dispenser, c.batchId, foreign.tree, foreign.codes.slice(0, 2)))
        .to.be.revertedWithCustomError(c.batches, "PacksNotInBatch")
        .withArgs(c.batchId);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(10n);
    });

    it("dispensePacks reverts when an inner node of the codes tree is passed as a pack", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const innerNode = c.tree.root;
      const { message, signature } = await c.sign("BatchLedger", "Dispensing", c.dispenser.key, {
        dispenserId: c.dispenser.id,
        batchId: c.batchId,
        packs: [innerNode],
      });
      await expect(c.batches.dispensePacks(message as never, [], [], signature))
        .to.be.revertedWithCustomError(c.batches, "PacksNotInBatch")
        .withArgs(c.batchId);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(10n);
    });

    it("dispensePacks reverts when the multiproof is tampered with", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { message, signature, proof, proofFlags } = await signDispensing(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 2));
      const tampered = [hashText("not a sibling"), ...proof.slice(1)];
      await expect(c.batches.dispensePacks(message as never, tampered, proofFlags, signature))
        .to.be.revertedWithCustomError(c.batches, "PacksNotInBatch")
        .withArgs(c.batchId);
    });

    it("dispensePacks reverts when a pack was already dispensed, and dispenses none of the others", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 2));
      const before = await batchSnapshot(c, c.batchId);
      await expect(dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(1, 4)))
        .to.be.revertedWithCustomError(c.batches, "PackAlreadyDispensed")
        .withArgs(packId(c.codes[1]!));
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
      expect(await c.batches.isPackDispensed(packId(c.codes[2]!))).to.equal(false);
      expect(await c.batches.isPackDispensed(packId(c.codes[3]!))).to.equal(false);
    });

    it("dispensePacks reverts when the dispenser holds fewer units than packs", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const before = await batchSnapshot(c, c.batchId);
      await expect(dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 11)))
        .to.be.revertedWithCustomError(c.batches, "InsufficientHolding")
        .withArgs(c.batchId, c.dispenser.id, 10n, 11n);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
      expect(await c.batches.isPackDispensed(packId(c.codes[0]!))).to.equal(false);
    });
  });

  describe("destroyStock", () => {
    it("destroyStock debits the holder", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await destroy(c, c.distributor, c.batchId, 12n);
      expect(await quantityHeld(c, c.batchId, c.distributor)).to.equal(18n);
      expect((await c.batches.batch(c.batchId)).holders).to.equal(3n);
    });

    it("destroyStock of a whole holding takes the holder out of the holders", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await destroy(c, c.dispenser, c.batchId, 10n);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(0n);
      expect((await c.batches.batch(c.batchId)).holders).to.equal(2n);
    });

    it("destroyStock is accepted for a batch that never left the factory", async () => {
      const c = await loadFixture(releasedStock);
      const batchId = await recordBatch(c, "B-CUS-REJECTED", { quantity: 500n });
      await destroy(c, c.cmo, batchId, 500n);
      expect(await quantityHeld(c, batchId, c.cmo)).to.equal(0n);
      expect((await c.batches.batch(batchId)).state).to.equal(BatchState.Manufactured);
    });

    it("destroyStock is accepted after the batch has expired", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { expiresAt } = await c.batches.batch(c.batchId);
      await time.increaseTo(expiresAt + 1n);
      await destroy(c, c.dispenser, c.batchId, 10n);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(0n);
    });

    it("destroyStock emits StockDestroyed with every field of the destruction", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const { message, signature } = await signDestruction(c, c.distributor, c.batchId, 3n);
      await expect(c.batches.destroyStock(message as never, signature))
        .to.emit(c.batches, "StockDestroyed")
        .withArgs(
          c.batchId,
          c.distributor.id,
          [c.distributor.id, message.nonce, c.batchId, 3n, hashText("temperature excursion")],
          c.distributor.key.address,
          signature,
        );
    });

    it("destroyStock reverts for an unknown batch", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const unknown = await c.batches.batchId(c.productId, "NO-SUCH-BATCH");
      await expect(destroy(c, c.cmo, unknown, 1n))
        .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
        .withArgs(unknown);
    });

    it("destroyStock reverts when the quantity is zero", async () => {
      const c = await loadFixture(stockAtPharmacy);
      await expect(destroy(c, c.cmo, c.batchId, 0n))
        .to.be.revertedWithCustomError(c.batches, "ZeroQuantity")
        .withArgs();
    });

    it("destroyStock reverts when the holder holds less than it destroys", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const before = await batchSnapshot(c, c.batchId);
      await expect(destroy(c, c.dispenser, c.batchId, 11n))
        .to.be.revertedWithCustomError(c.batches, "InsufficientHolding")
        .withArgs(c.batchId, c.dispenser.id, 10n, 11n);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });
  });

  describe("views", () => {
    it("isPackOfBatch proves every code of the batch against its committed root", async () => {
      const c = await loadFixture(releasedStock);
      for (const code of c.codes) {
        expect(await c.batches.isPackOfBatch(c.batchId, packId(code), c.tree.getProof([code]))).to.equal(true);
      }
    });

    it("isPackOfBatch is false for a code of another batch", async () => {
      const c = await loadFixture(releasedStock);
      const foreign = packTree("B-COUNTERFEIT", 16);
      const code = foreign.codes[0]!;
      const proof = foreign.tree.getProof([code]);
      expect(await c.batches.isPackOfBatch(c.batchId, packId(code), proof)).to.equal(false);
    });

    it("isPackOfBatch is false for a code of the batch with another code's proof", async () => {
      const c = await loadFixture(releasedStock);
      const proof = c.tree.getProof([c.codes[1]!]);
      expect(await c.batches.isPackOfBatch(c.batchId, packId(c.codes[6]!), proof)).to.equal(false);
    });

    it("isPackOfBatch is false for an inner node of the codes tree, such as the root with an empty proof", async () => {
      const c = await loadFixture(releasedStock);
      expect(await c.batches.isPackOfBatch(c.batchId, c.tree.root, [])).to.equal(false);
      const [code] = c.codes;
      const proof = c.tree.getProof([code!]);
      const pair = [c.tree.leafHash([code!]), proof[0]!].sort();
      const parent = keccak256(concat(pair));
      expect(await c.batches.isPackOfBatch(c.batchId, parent, proof.slice(1))).to.equal(false);
    });

    it("isPackOfBatch is false for an unknown batch, even for the zero leaf with an empty proof", async () => {
      const c = await loadFixture(releasedStock);
      const unknown = await c.batches.batchId(c.productId, "NO-SUCH-BATCH");
      expect(await c.batches.isPackOfBatch(unknown, ZeroHash, [])).to.equal(false);
      const code = c.codes[0]!;
      expect(await c.batches.isPackOfBatch(unknown, packId(code), c.tree.getProof([code]))).to.equal(false);
    });

    it("isPackDispensed is false until the pack is dispensed, then true", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const pack = packId(c.codes[5]!);
      expect(await c.batches.isPackDispensed(pack)).to.equal(false);
      await dispense(c, c.dispenser, c.batchId, c.tree, [c.codes[5]!]);
      expect(await c.batches.isPackDispensed(pack)).to.equal(true);
      expect(await c.batches.isPackDispensed(packId(c.codes[4]!))).to.equal(false);
    });

    it("isInTransit is false for an unknown shipment, true once shipped and false once received", async () => {
      const c = await loadFixture(releasedStock);
      expect(await c.batches.isInTransit(hashText("no such shipment"))).to.equal(false);
      const { shipmentId } = await ship(c, c.cmo, c.distributor, c.batchId, 10n);
      expect(await c.batches.isInTransit(shipmentId)).to.equal(true);
      await receive(c, c.distributor, c.cmo, c.batchId, shipmentId, 10n, 9n);
      expect(await c.batches.isInTransit(shipmentId)).to.equal(false);
    });

    it("holding is zero and unacknowledged for an organization that never held the batch", async () => {
      const c = await loadFixture(stockAtPharmacy);
      const h = await c.batches.holding(c.batchId, c.distributor2.id);
      expect(h.quantity).to.equal(0n);
      expect(h.recallAcknowledged).to.equal(false);
      const unknown = await c.batches.holding(hashText("no such batch"), c.cmo.id);
      expect(unknown.quantity).to.equal(0n);
    });

    it("holding reports each custodian's quantity along the chain", async () => {
      const c = await loadFixture(stockAtPharmacy);
      expect(await quantityHeld(c, c.batchId, c.cmo)).to.equal(60n);
      expect(await quantityHeld(c, c.batchId, c.distributor)).to.equal(30n);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(10n);
      expect(await quantityHeld(c, c.batchId, c.mah)).to.equal(0n);
    });
  });

  describe("conservation of quantity", () => {
    /** Σ holdings + in transit + dispensed + destroyed + shortfall, from the views and the events alone. */
    async function accountFor(c: Stock) {
      const filters = c.batches.filters;
      const [recorded] = await c.batches.queryFilter(filters.BatchRecorded(c.batchId));
      const shipped = await c.batches.queryFilter(filters.BatchShipped(undefined, c.batchId));
      const received = await c.batches.queryFilter(filters.ShipmentReceived(undefined, c.batchId));
      const dispensed = await c.batches.queryFilter(filters.PacksDispensed(c.batchId));
      const destroyed = await c.batches.queryFilter(filters.StockDestroyed(c.batchId));

      let held = 0n;
      for (const party of holdersOf(c)) held += await quantityHeld(c, c.batchId, party);
      let inTransit = 0n;
      for (const e of shipped) {
        if (await c.batches.isInTransit(e.args.shipmentId)) inTransit += e.args.shipment.quantity;
      }
      const shortfall = received.reduce((sum, e) => sum + e.args.receipt.shippedQuantity - e.args.receipt.receivedQuantity, 0n);
      const dispensedUnits = dispensed.reduce((sum, e) => sum + BigInt(e.args.dispensing.packs.length), 0n);
      const destroyedUnits = destroyed.reduce((sum, e) => sum + e.args.destruction.quantity, 0n);
      return {
        made: recorded!.args.record.quantity,
        held,
        inTransit,
        dispensed: dispensedUnits,
        destroyed: destroyedUnits,
        shortfall,
      };
    }

    it("what the CMO made equals what is held, in transit, dispensed, destroyed and missing", async () => {
      const c = await loadFixture(releasedStock);
      const toDistributor = await ship(c, c.cmo, c.distributor, c.batchId, 60n);
      await receive(c, c.distributor, c.cmo, c.batchId, toDistributor.shipmentId, 60n, 58n);
      await handOver(c, c.distributor, c.dispenser, c.batchId, 20n);
      await ship(c, c.distributor, c.distributor2, c.batchId, 10n);
      await dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 3));
      await destroy(c, c.dispenser, c.batchId, 2n);
      await destroy(c, c.cmo, c.batchId, 5n);
      const lost = await ship(c, c.cmo, c.distributor2, c.batchId, 5n);
      await receive(c, c.distributor2, c.cmo, c.batchId, lost.shipmentId, 5n, 0n);

      const account = await accountFor(c);
      expect(account).to.deep.equal({
        made: 100n,
        held: 73n,
        inTransit: 10n,
        dispensed: 3n,
        destroyed: 7n,
        shortfall: 7n,
      });
      expect(account.held + account.inTransit + account.dispensed + account.destroyed + account.shortfall).to.equal(account.made);
      expect(await quantityHeld(c, c.batchId, c.cmo)).to.equal(30n);
      expect(await quantityHeld(c, c.batchId, c.distributor)).to.equal(28n);
      expect(await quantityHeld(c, c.batchId, c.distributor2)).to.equal(0n);
      expect(await quantityHeld(c, c.batchId, c.dispenser)).to.equal(15n);
      const b = await c.batches.batch(c.batchId);
      expect(b.holders).to.equal(3n);
      expect(b.shipmentsInTransit).to.equal(1n);
    });

    it("refused attestations leave the account unchanged", async () => {
      const c = await loadFixture(releasedStock);
      await handOver(c, c.cmo, c.distributor, c.batchId, 40n);
      const before = await accountFor(c);
      await expect(submitShipment(c, c.distributor, { batchId: c.batchId, recipientId: c.dispenser.id, quantity: 41n }))
        .to.be.revertedWithCustomError(c.batches, "InsufficientHolding")
        .withArgs(c.batchId, c.distributor.id, 40n, 41n);
      await expect(destroy(c, c.cmo, c.batchId, 61n))
        .to.be.revertedWithCustomError(c.batches, "InsufficientHolding")
        .withArgs(c.batchId, c.cmo.id, 60n, 61n);
      await expect(dispense(c, c.dispenser, c.batchId, c.tree, c.codes.slice(0, 1)))
        .to.be.revertedWithCustomError(c.batches, "InsufficientHolding")
        .withArgs(c.batchId, c.dispenser.id, 0n, 1n);
      expect(await accountFor(c)).to.deep.equal(before);
      expect(before.held).to.equal(100n);
    });
  });
});
