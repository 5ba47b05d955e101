import { describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, id as hashText } from "ethers";
import { Role } from "../../src/ledger";
import { deployConsortium, deployLedger, JIANGSU, onboard, registerProduct, ZHEJIANG } from "./fixtures";
import type { Consortium, Party } from "./fixtures";

async function suspend(c: Consortium, target: number, by: Party = c.regulator) {
  const { message, signature } = await c.sign("ConsortiumRegistry", "Suspension", by.key, {
    regulatorId: by.id,
    organizationId: target,
    reasonHash: hashText("GSP inspection failed"),
  });
  return c.registry.suspendOrganization(message as never, signature);
}

async function reinstate(c: Consortium, target: number, by: Party = c.regulator) {
  const { message, signature } = await c.sign("ConsortiumRegistry", "Reinstatement", by.key, {
    regulatorId: by.id,
    organizationId: target,
    reasonHash: hashText("corrective actions verified"),
  });
  return c.registry.reinstateOrganization(message as never, signature);
}

async function keyChange(c: Consortium, type: "SigningKeyAddition" | "SigningKeyRevocation", by: Party, orgId: number, signingKey: string) {
  const { message, signature } = await c.sign("ConsortiumRegistry", type, by.key, { organizationId: orgId, signingKey });
  return type === "SigningKeyAddition"
    ? c.registry.addSigningKey(message as never, signature)
    : c.registry.revokeSigningKey(message as never, signature);
}

async function onboarding(c: Consortium, overrides: Record<string, unknown> = {}, by: Party = c.regulator) {
  return c.sign("ConsortiumRegistry", "Onboarding", by.key, {
    regulatorId: by.id,
    role: Role.Distributor,
    region: JIANGSU,
    licenceHash: hashText("药品经营许可证 苏AA0000001"),
    signingKey: Wallet.createRandom().address,
    name: "Wuxi Pharma Logistics",
    ...overrides,
  });
}

describe("ConsortiumRegistry", () => {
  describe("deployment", () => {
    it("bootstraps the deployer's regulator as organization 1", async () => {
      const ledger = await loadFixture(deployLedger);
      const org = await ledger.registry.organization(1);
      expect(org.role).to.equal(Role.Regulator);
      expect(org.region).to.equal(JIANGSU);
      expect(org.activeKeys).to.equal(1);
      expect(await ledger.registry.attesterRole(ledger.regulator.key.address, 1)).to.equal(Role.Regulator);
    });

    it("constructor reverts when the first organization is not a regulator", async () => {
      const registry = await hre.ethers.getContractFactory("ConsortiumRegistry");
      const first = {
        regulatorId: 0,
        nonce: 0,
        role: Role.Mah,
        region: JIANGSU,
        licenceHash: hashText("x"),
        signingKey: Wallet.createRandom().address,
        name: "not a regulator",
      };
      await expect(registry.deploy(first)).to.be.revertedWithCustomError(registry, "InvalidRole");
    });
  });

  describe("onboardOrganization", () => {
    it("admits an organization with its role, region, licence and key, and emits every field", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await onboarding(c);
      const expectedId = Number(await c.registry.organizationCount()) + 1;
      await expect(c.registry.onboardOrganization(message as never, signature))
        .to.emit(c.registry, "OrganizationOnboarded")
        .withArgs(
          expectedId,
          c.regulator.id,
          Role.Distributor,
          [message.regulatorId, message.nonce, message.role, message.region, message.licenceHash, message.signingKey, message.name],
          c.regulator.key.address,
          signature,
        );
      const org = await c.registry.organization(expectedId);
      expect([org.role, org.status, org.region, org.activeKeys, org.licenceHash]).to.deep.equal([
        BigInt(Role.Distributor),
        1n,
        BigInt(JIANGSU),
        1n,
        message.licenceHash,
      ]);
      expect(await c.registry.signingKey(message.signingKey as string)).to.deep.equal([BigInt(expectedId), false]);
    });

    it("lets a regulator of another province onboard too", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await onboarding(c, { region: ZHEJIANG }, c.regulator2);
      await expect(c.registry.onboardOrganization(message as never, signature)).to.emit(c.registry, "OrganizationOnboarded");
    });

    it("reverts when the signer's organization is not a regulator", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await onboarding(c, {}, c.mah);
      await expect(c.registry.onboardOrganization(message as never, signature))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.mah.id, Role.Mah, Role.Regulator);
    });

    it("reverts for role None", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await onboarding(c, { role: Role.None });
      await expect(c.registry.onboardOrganization(message as never, signature)).to.be.revertedWithCustomError(c.registry, "InvalidRole");
    });

    it("reverts for the zero signing key", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await onboarding(c, { signingKey: hre.ethers.ZeroAddress });
      await expect(c.registry.onboardOrganization(message as never, signature)).to.be.revertedWithCustomError(c.registry, "InvalidSigningKey");
    });

    it("reverts when the key already belongs to an organization", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await onboarding(c, { signingKey: c.mah.key.address });
      await expect(c.registry.onboardOrganization(message as never, signature))
        .to.be.revertedWithCustomError(c.registry, "SigningKeyAlreadyRegistered")
        .withArgs(c.mah.key.address);
    });

    it("reverts when the regulator is suspended", async () => {
      const c = await loadFixture(deployConsortium);
      await suspend(c, c.regulator2.id);
      const { message, signature } = await onboarding(c, {}, c.regulator2);
      await expect(c.registry.onboardOrganization(message as never, signature))
        .to.be.revertedWithCustomError(c.registry, "SuspendedOrganization")
        .withArgs(c.regulator2.id);
    });
  });

  describe("suspendOrganization and reinstateOrganization", () => {
    it("suspends with an event carrying the signed change, and the organization's attestations are rejected", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(suspend(c, c.mah.id))
        .to.emit(c.registry, "OrganizationSuspended")
        .withArgs(
          c.mah.id,
          c.regulator.id,
          [c.regulator.id, (v: bigint) => v >= 0n, c.mah.id, hashText("GSP inspection failed")],
          c.regulator.key.address,
          (s: string) => s.length === 132,
        );
      expect((await c.registry.organization(c.mah.id)).status).to.equal(2);
      await expect(registerProduct(c, c.mah, "6901234"))
        .to.be.revertedWithCustomError(c.registry, "SuspendedOrganization")
        .withArgs(c.mah.id);
      await expect(c.registry.activeRole(c.mah.id)).to.be.revertedWithCustomError(c.registry, "SuspendedOrganization").withArgs(c.mah.id);
    });

    it("reinstates a suspended organization, which may attest again", async () => {
      const c = await loadFixture(deployConsortium);
      await suspend(c, c.mah.id);
      await expect(reinstate(c, c.mah.id)).to.emit(c.registry, "OrganizationReinstated");
      expect((await c.registry.organization(c.mah.id)).status).to.equal(1);
      expect(await c.products.productMah(await registerProduct(c, c.mah, "6901234"))).to.equal(c.mah.id);
    });

    it("suspend reverts for an unknown organization", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(suspend(c, 999)).to.be.revertedWithCustomError(c.registry, "UnknownOrganization").withArgs(999);
    });

    it("suspend reverts when already suspended", async () => {
      const c = await loadFixture(deployConsortium);
      await suspend(c, c.cmo.id);
      await expect(suspend(c, c.cmo.id)).to.be.revertedWithCustomError(c.registry, "SuspendedOrganization").withArgs(c.cmo.id);
    });

    it("reinstate reverts when the organization is not suspended", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(reinstate(c, c.cmo.id)).to.be.revertedWithCustomError(c.registry, "OrganizationNotSuspended").withArgs(c.cmo.id);
    });

    it("suspend and reinstate revert when signed by a non-regulator", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(suspend(c, c.cmo.id, c.mah))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.mah.id, Role.Mah, Role.Regulator);
      await suspend(c, c.cmo.id);
      await expect(reinstate(c, c.cmo.id, c.distributor))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.distributor.id, Role.Distributor, Role.Regulator);
    });
  });

  describe("signing keys", () => {
    it("addSigningKey registers a second key that can attest, with an event", async () => {
      const c = await loadFixture(deployConsortium);
      const second = Wallet.createRandom();
      await expect(keyChange(c, "SigningKeyAddition", c.mah, c.mah.id, second.address))
        .to.emit(c.registry, "SigningKeyAdded")
        .withArgs(c.mah.id, second.address, [c.mah.id, (v: bigint) => v >= 0n, second.address], c.mah.key.address, (s: string) => s.length === 132);
      expect((await c.registry.organization(c.mah.id)).activeKeys).to.equal(2);
      expect(await c.products.productMah(await registerProduct(c, { ...c.mah, key: second }, "6901234"))).to.equal(c.mah.id);
    });

    it("addSigningKey reverts for a key already registered to any organization", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(keyChange(c, "SigningKeyAddition", c.mah, c.mah.id, c.cmo.key.address))
        .to.be.revertedWithCustomError(c.registry, "SigningKeyAlreadyRegistered")
        .withArgs(c.cmo.key.address);
    });

    it("addSigningKey reverts when signed by another organization's key", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(keyChange(c, "SigningKeyAddition", c.cmo, c.mah.id, Wallet.createRandom().address))
        .to.be.revertedWithCustomError(c.registry, "SignerNotOfOrganization")
        .withArgs(c.cmo.key.address, c.mah.id);
    });

    it("revokeSigningKey rotates a key: the old one is rejected, the new one attests", async () => {
      const c = await loadFixture(deployConsortium);
      const next = Wallet.createRandom();
      await keyChange(c, "SigningKeyAddition", c.mah, c.mah.id, next.address);
      await expect(keyChange(c, "SigningKeyRevocation", { ...c.mah, key: next }, c.mah.id, c.mah.key.address))
        .to.emit(c.registry, "SigningKeyRevoked")
        .withArgs(c.mah.id, c.mah.key.address, [c.mah.id, (v: bigint) => v >= 0n, c.mah.key.address], next.address, (s: string) => s.length === 132);
      expect(await c.registry.signingKey(c.mah.key.address)).to.deep.equal([BigInt(c.mah.id), true]);
      await expect(registerProduct(c, c.mah, "6901234"))
        .to.be.revertedWithCustomError(c.registry, "RevokedSigningKey")
        .withArgs(c.mah.key.address);
      expect(await c.products.productMah(await registerProduct(c, { ...c.mah, key: next }, "6901234"))).to.equal(c.mah.id);
    });

    it("revokeSigningKey reverts for the organization's last key", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(keyChange(c, "SigningKeyRevocation", c.cmo, c.cmo.id, c.cmo.key.address))
        .to.be.revertedWithCustomError(c.registry, "LastSigningKey")
        .withArgs(c.cmo.id, c.cmo.key.address);
    });

    it("revokeSigningKey reverts for another organization's key", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(keyChange(c, "SigningKeyRevocation", c.cmo, c.cmo.id, c.mah.key.address))
        .to.be.revertedWithCustomError(c.registry, "SignerNotOfOrganization")
        .withArgs(c.mah.key.address, c.cmo.id);
    });

    it("revokeSigningKey reverts for a key already revoked", async () => {
      const c = await loadFixture(deployConsortium);
      const [second, third] = [Wallet.createRandom(), Wallet.createRandom()];
      await keyChange(c, "SigningKeyAddition", c.cmo, c.cmo.id, second.address);
      await keyChange(c, "SigningKeyAddition", c.cmo, c.cmo.id, third.address);
      await keyChange(c, "SigningKeyRevocation", c.cmo, c.cmo.id, second.address);
      await expect(keyChange(c, "SigningKeyRevocation", c.cmo, c.cmo.id, second.address))
        .to.be.revertedWithCustomError(c.registry, "RevokedSigningKey")
        .withArgs(second.address);
    });

    it("a revoked key cannot be registered again, to any organization", async () => {
      const c = await loadFixture(deployConsortium);
      const second = Wallet.createRandom();
      await keyChange(c, "SigningKeyAddition", c.cmo, c.cmo.id, second.address);
      await keyChange(c, "SigningKeyRevocation", c.cmo, c.cmo.id, second.address);
      await expect(keyChange(c, "SigningKeyAddition", c.mah, c.mah.id, second.address))
        .to.be.revertedWithCustomError(c.registry, "SigningKeyAlreadyRegistered")
        .withArgs(second.address);
    });
  });

  describe("views", () => {
    it("attesterRole reverts for a key never registered", async () => {
      const c = await loadFixture(deployConsortium);
      const stranger = Wallet.createRandom().address;
      await expect(c.registry.attesterRole(stranger, c.mah.id)).to.be.revertedWithCustomError(c.registry, "UnknownSigningKey").withArgs(stranger);
    });

    it("activeRole reverts for an unknown organization and answers the role of an active one", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(c.registry.activeRole(0)).to.be.revertedWithCustomError(c.registry, "UnknownOrganization").withArgs(0);
      expect(await c.registry.activeRole(c.dispenser.id)).to.equal(Role.Dispenser);
    });

    it("onboards distinct organizations with increasing ids", async () => {
      const ledger = await loadFixture(deployLedger);
      const a = await onboard(ledger, Role.Mah, JIANGSU);
      const b = await onboard(ledger, Role.Cmo, ZHEJIANG);
      expect([a.id, b.id]).to.deep.equal([2, 3]);
    });
  });
});
