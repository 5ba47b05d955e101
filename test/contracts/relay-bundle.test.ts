import { describe, it } from "vitest";
import { expect } from "chai";
import { id as hashText, ZeroHash } from "ethers";
import { encodeCall } from "../../src/ledger";
import type { SignedAttestation } from "../../src/ledger";
import { deployConsortium, releasedBatch } from "./fixtures";
import type { Consortium, Party } from "./fixtures";

/** A shipment attestation's call data, signed by its shipper. */
async function shipmentCall(c: Consortium, from: Party, to: Party, batchId: string, quantity: bigint) {
  const { message, signature } = await c.sign("BatchLedger", "Shipment", from.key, {
    shipperId: from.id,
    batchId,
    recipientId: to.id,
    quantity,
    codesRoot: ZeroHash,
  });
  return encodeCall({ contract: "BatchLedger", type: "Shipment", message, signature } as SignedAttestation);
}

describe("RelayBundle", () => {
  it("relayAll_appliesEveryCallAcrossContracts", async () => {
    const c = await deployConsortium();
    const { batchId } = await releasedBatch(c, "RB-1", 10n);
    const ledger = await c.batches.getAddress();
    const { message, signature } = await c.sign("ConsortiumRegistry", "Suspension", c.regulator.key, {
      regulatorId: c.regulator.id,
      organizationId: c.distributor2.id,
      reasonHash: hashText("GMP inspection failed"),
    });
    const suspension = encodeCall({ contract: "ConsortiumRegistry", type: "Suspension", message, signature } as SignedAttestation);
    const shipment = await shipmentCall(c, c.cmo, c.distributor, batchId, 2n);
    await (await c.relayBundle.relayAll([await c.registry.getAddress(), ledger], [suspension, shipment])).wait();
    expect((await c.registry.organization(c.distributor2.id)).status).to.equal(2n);
    expect((await c.batches.holding(batchId, c.cmo.id)).quantity).to.equal(8n);
  });

  it("relayAll_revertsEveryCallWithTheFailingCallsErrorWhenTheLastFails", async () => {
    const c = await deployConsortium();
    const { batchId } = await releasedBatch(c, "RB-2", 10n);
    const ledger = await c.batches.getAddress();
    const first = await shipmentCall(c, c.cmo, c.distributor, batchId, 2n);
    const last = await shipmentCall(c, c.cmo, c.distributor, batchId, 100n);
    await expect(c.relayBundle.relayAll([ledger, ledger], [first, last])).to.be.revertedWithCustomError(c.batches, "InsufficientHolding");
    expect((await c.batches.holding(batchId, c.cmo.id)).quantity, "the first shipment was not applied either").to.equal(10n);
  });

  it("relayAll_revertsWhenEmpty", async () => {
    const c = await deployConsortium();
    await expect(c.relayBundle.relayAll([], [])).to.be.revertedWithCustomError(c.relayBundle, "RelayBundleEmpty");
  });

  it("relayAll_revertsWhenTargetsAndCallsDifferInLength", async () => {
    const c = await deployConsortium();
    await expect(c.relayBundle.relayAll([await c.batches.getAddress()], ["0x", "0x"]))
      .to.be.revertedWithCustomError(c.relayBundle, "RelayBundleLengthMismatch")
      .withArgs(1, 2);
  });

  it("relayAll_revertsWhenATargetIsNotAContract", async () => {
    const c = await deployConsortium();
    const nobody = c.regulator.key.address;
    await expect(c.relayBundle.relayAll([await c.batches.getAddress(), nobody], ["0x", "0x"]))
      .to.be.revertedWithCustomError(c.relayBundle, "RelayBundleTargetNotContract")
      .withArgs(1, nobody);
  });
});
