import { describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, id as hashText } from "ethers";
import { DEFAULT_UNDO_WINDOW, PersonRole, recoverAttester, signAttestation } from "../../src/ledger";
import type { AttestationDomain } from "../../src/ledger";
import { deployConsortium, recordBatch, releaseFromFactory, ZHEJIANG } from "./fixtures";
import type { Consortium } from "./fixtures";

/** A market release message for a factory-released batch, and the domain the ledger verifies it in. */
async function marketReleaseSetup(c: Consortium) {
  const batchId = await recordBatch(c, "B-2024-001");
  await releaseFromFactory(c, batchId);
  const message = {
    mahId: c.mah.id,
    nonce: c.nextNonce(),
    batchId,
    decisionHash: hashText("release"),
    signerRole: PersonRole.Organization,
    signerName: "",
  };
  const domain: AttestationDomain<"BatchLedger"> = {
    contract: "BatchLedger",
    chainId: c.chainId,
    verifyingContract: await c.batches.getAddress(),
  };
  return { batchId, message, domain };
}

describe("attestations", () => {
  it("a replayed attestation is rejected with the organization and nonce", async () => {
    const c = await loadFixture(deployConsortium);
    const { message, domain } = await marketReleaseSetup(c);
    const signature = await signAttestation(c.mah.key, { domain, type: "MarketRelease", message });
    await c.batches.releaseToMarket(message, signature);
    expect(await c.batches.isNonceUsed(c.mah.id, message.nonce)).to.equal(true);
    await expect(c.batches.releaseToMarket(message, signature))
      .to.be.revertedWithCustomError(c.batches, "AttestationNonceUsed")
      .withArgs(c.mah.id, message.nonce);
  });

  it("a nonce spent on one attestation cannot sign another", async () => {
    const c = await loadFixture(deployConsortium);
    const { message, domain } = await marketReleaseSetup(c);
    await c.batches.releaseToMarket(message, await signAttestation(c.mah.key, { domain, type: "MarketRelease", message }));
    const other = await recordBatch(c, "B-2024-002");
    const reused = { ...message, batchId: other };
    const signature = await signAttestation(c.mah.key, { domain, type: "MarketRelease", message: reused });
    await expect(c.batches.releaseToMarket(reused, signature))
      .to.be.revertedWithCustomError(c.batches, "AttestationNonceUsed")
      .withArgs(c.mah.id, message.nonce);
  });

  it("a forged signature by an unregistered key is rejected naming the key", async () => {
    const c = await loadFixture(deployConsortium);
    const { message, domain } = await marketReleaseSetup(c);
    const forger = Wallet.createRandom();
    const signature = await signAttestation(forger, { domain, type: "MarketRelease", message });
    await expect(c.batches.releaseToMarket(message, signature))
      .to.be.revertedWithCustomError(c.registry, "UnknownSigningKey")
      .withArgs(forger.address);
    expect(await c.batches.isNonceUsed(c.mah.id, message.nonce)).to.equal(false);
  });

  it("a tampered message no longer recovers to the signer", async () => {
    const c = await loadFixture(deployConsortium);
    const { message, domain } = await marketReleaseSetup(c);
    const signature = await signAttestation(c.mah.key, { domain, type: "MarketRelease", message });
    const tampered = { ...message, decisionHash: hashText("something else") };
    const recovered = recoverAttester({ domain, type: "MarketRelease", message: tampered }, signature);
    await expect(c.batches.releaseToMarket(tampered, signature)).to.be.revertedWithCustomError(c.registry, "UnknownSigningKey").withArgs(recovered);
  });

  it("a signature for another chain is rejected", async () => {
    const c = await loadFixture(deployConsortium);
    const { message, domain } = await marketReleaseSetup(c);
    const otherChain = { ...domain, chainId: domain.chainId + 1n };
    const signature = await signAttestation(c.mah.key, { domain: otherChain, type: "MarketRelease", message });
    const recovered = recoverAttester({ domain, type: "MarketRelease", message }, signature);
    await expect(c.batches.releaseToMarket(message, signature)).to.be.revertedWithCustomError(c.registry, "UnknownSigningKey").withArgs(recovered);
  });

  it("a signature for another deployment of the contract is rejected", async () => {
    const c = await loadFixture(deployConsortium);
    const { message, domain } = await marketReleaseSetup(c);
    const elsewhere = await hre.ethers.deployContract("BatchLedger", [
      await c.registry.getAddress(),
      await c.products.getAddress(),
      await c.qualityDuties.getAddress(),
      DEFAULT_UNDO_WINDOW,
    ]);
    const otherContract = { ...domain, verifyingContract: await elsewhere.getAddress() };
    const signature = await signAttestation(c.mah.key, { domain: otherContract, type: "MarketRelease", message });
    const recovered = recoverAttester({ domain, type: "MarketRelease", message }, signature);
    await expect(c.batches.releaseToMarket(message, signature)).to.be.revertedWithCustomError(c.registry, "UnknownSigningKey").withArgs(recovered);
  });

  it("a registered key cannot speak for another organization", async () => {
    const c = await loadFixture(deployConsortium);
    const { message, domain } = await marketReleaseSetup(c);
    const signature = await signAttestation(c.cmo.key, { domain, type: "MarketRelease", message });
    await expect(c.batches.releaseToMarket(message, signature))
      .to.be.revertedWithCustomError(c.registry, "SignerNotOfOrganization")
      .withArgs(c.cmo.key.address, c.mah.id);
  });

  it("a malformed signature is rejected by length", async () => {
    const c = await loadFixture(deployConsortium);
    const { message } = await marketReleaseSetup(c);
    await expect(c.batches.releaseToMarket(message, "0x1234")).to.be.revertedWithCustomError(c.batches, "ECDSAInvalidSignatureLength").withArgs(2);
  });

  it("a signature by a key of a suspended organization is rejected", async () => {
    const c = await loadFixture(deployConsortium);
    const { message, domain } = await marketReleaseSetup(c);
    const suspension = await c.sign("ConsortiumRegistry", "Suspension", c.regulator.key, {
      regulatorId: c.regulator.id,
      organizationId: c.mah.id,
      reasonHash: hashText("licence withdrawn"),
    });
    await c.registry.suspendOrganization(suspension.message as never, suspension.signature);
    const signature = await signAttestation(c.mah.key, { domain, type: "MarketRelease", message });
    await expect(c.batches.releaseToMarket(message, signature)).to.be.revertedWithCustomError(c.registry, "SuspendedOrganization").withArgs(c.mah.id);
  });

  describe("bundles (multicall)", () => {
    async function onboardingCall(c: Consortium, name: string) {
      const { message, signature } = await c.sign("ConsortiumRegistry", "Onboarding", c.regulator.key, {
        regulatorId: c.regulator.id,
        role: 4,
        region: ZHEJIANG,
        licenceHash: hashText(name),
        signingKey: Wallet.createRandom().address,
        name,
      });
      return c.registry.interface.encodeFunctionData("onboardOrganization", [message as never, signature]);
    }

    it("applies many attestations from different signers in one transaction", async () => {
      const c = await loadFixture(deployConsortium);
      const before = await c.registry.organizationCount();
      const calls = await Promise.all(["Pharmacy A", "Pharmacy B", "Pharmacy C"].map((n) => onboardingCall(c, n)));
      await expect(c.registry.multicall(calls)).to.emit(c.registry, "OrganizationOnboarded");
      expect(await c.registry.organizationCount()).to.equal(before + 3n);
    });

    it("one failing attestation fails the whole bundle with its own error and changes nothing", async () => {
      const c = await loadFixture(deployConsortium);
      const before = await c.registry.organizationCount();
      const good = await onboardingCall(c, "Pharmacy A");
      const { message, signature } = await c.sign("ConsortiumRegistry", "Onboarding", c.mah.key, {
        regulatorId: c.mah.id,
        role: 4,
        region: ZHEJIANG,
        licenceHash: hashText("x"),
        signingKey: Wallet.createRandom().address,
        name: "by a non-regulator",
      });
      const bad = c.registry.interface.encodeFunctionData("onboardOrganization", [message as never, signature]);
      await expect(c.registry.multicall([good, bad]))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.mah.id, 1, 5);
      expect(await c.registry.organizationCount()).to.equal(before);
    });
  });
});
