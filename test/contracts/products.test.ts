import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, ZeroHash, id as hashText } from "ethers";
import { AgreementKind, ReleaseTester, Role } from "../../src/ledger";
import { agreementMessage, deployConsortium, GTIN, JIANGSU, onboard, registerProduct, signAgreementBy, signQualityAgreement } from "./fixtures";
import type { Consortium, Party } from "./fixtures";

async function registration(c: Consortium, productCode: string, by: Party = c.mah) {
  return c.sign("ProductRegistry", "ProductRegistration", by.key, {
    mahId: by.id,
    productCode,
    approvalNumber: "国药准字H20240001",
    name: "阿莫西林胶囊 0.25g",
  });
}

async function revoke(c: Consortium, by: Party, agreementId: string) {
  const { message, signature } = await c.sign("ProductRegistry", "AgreementRevocation", by.key, {
    organizationId: by.id,
    agreementId,
    reasonHash: hashText("contract terminated"),
  });
  return c.products.revokeAgreement(message as never, signature);
}

async function submitAgreement(c: Consortium, counterparty: Party, overrides: Record<string, unknown> = {}) {
  const message = await agreementMessage(c, c.mah, counterparty, c.productId, overrides);
  const signed = await signAgreementBy(c, c.mah, counterparty, message);
  return c.products.signAgreement(signed.message as never, signed.mahSignature, signed.counterpartySignature);
}

describe("ProductRegistry", () => {
  describe("registerProduct", () => {
    it("registers a GTIN-14 product of the signing MAH with every field in the event", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await registration(c, "06901234567885");
      await expect(c.products.registerProduct(message as never, signature))
        .to.emit(c.products, "ProductRegistered")
        .withArgs(
          hashText("06901234567885"),
          c.mah.id,
          [message.mahId, message.nonce, message.productCode, message.approvalNumber, message.name],
          c.mah.key.address,
          signature,
        );
      expect(await c.products.productMah(hashText("06901234567885"))).to.equal(c.mah.id);
    });

    it("registers a 7-digit NMPA drug identification code", async () => {
      const c = await loadFixture(deployConsortium);
      const productId = await registerProduct(c, c.mah, "8612345");
      expect(await c.products.productMah(productId)).to.equal(c.mah.id);
    });

    for (const bad of ["690123", "69012345", "0690123456789", "06901234567893", "69O1234", "690-234", "", "069012345678920"]) {
      it(`reverts for the malformed product code "${bad}"`, async () => {
        const c = await loadFixture(deployConsortium);
        const { message, signature } = await registration(c, bad);
        await expect(c.products.registerProduct(message as never, signature))
          .to.be.revertedWithCustomError(c.products, "InvalidProductCode")
          .withArgs(bad);
      });
    }

    it("reverts when the product code is already registered", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await registration(c, GTIN);
      await expect(c.products.registerProduct(message as never, signature))
        .to.be.revertedWithCustomError(c.products, "ProductAlreadyRegistered")
        .withArgs(hashText(GTIN));
    });

    it("reverts when the signer's organization is not an MAH", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await registration(c, "8612345", c.cmo);
      await expect(c.products.registerProduct(message as never, signature))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.cmo.id, Role.Cmo, Role.Mah);
    });
  });

  describe("signAgreement", () => {
    it("records a quality agreement signed by both parties, visible at once with every field", async () => {
      const c = await loadFixture(deployConsortium);
      const message = await agreementMessage(c, c.mah, c.cmo, c.productId, { releaseTester: ReleaseTester.Mah });
      const signed = await signAgreementBy(c, c.mah, c.cmo, message);
      const agreementId = await c.products.agreementId(c.mah.id, message.nonce);
      await expect(c.products.signAgreement(signed.message as never, signed.mahSignature, signed.counterpartySignature))
        .to.emit(c.products, "AgreementSigned")
        .withArgs(
          agreementId,
          c.mah.id,
          c.cmo.id,
          [
            message.mahId,
            message.nonce,
            message.kind,
            message.counterpartyId,
            message.productId,
            message.documentHash,
            message.validFrom,
            message.validUntil,
            message.releaseTester,
          ],
          c.mah.key.address,
          signed.mahSignature,
          c.cmo.key.address,
          signed.counterpartySignature,
        );
      const terms = await c.products.agreementTerms(agreementId);
      expect([terms.kind, terms.releaseTester, terms.revoked, terms.mahId, terms.counterpartyId]).to.deep.equal([
        BigInt(AgreementKind.Quality),
        BigInt(ReleaseTester.Mah),
        false,
        BigInt(c.mah.id),
        BigInt(c.cmo.id),
      ]);
      expect([terms.validFrom, terms.validUntil, terms.productId]).to.deep.equal([
        BigInt(message.validFrom),
        BigInt(message.validUntil),
        c.productId,
      ]);
    });

    it("records an outsourced storage agreement with a distributor for all of the MAH's products", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(
        submitAgreement(c, c.distributor2, { kind: AgreementKind.Storage, productId: ZeroHash, releaseTester: ReleaseTester.None }),
      ).to.emit(c.products, "AgreementSigned");
    });

    for (const kind of [AgreementKind.Transport, AgreementKind.Sales]) {
      it(`records an outsourced ${kind === AgreementKind.Transport ? "transport" : "sales"} agreement for one product`, async () => {
        const c = await loadFixture(deployConsortium);
        await expect(submitAgreement(c, c.distributor, { kind })).to.emit(c.products, "AgreementSigned");
      });
    }

    it("reverts a quality agreement whose counterparty is not a CMO", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(submitAgreement(c, c.distributor))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.distributor.id, Role.Distributor, Role.Cmo);
    });

    it("reverts an outsourced storage agreement whose counterparty is not a distributor", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(submitAgreement(c, c.dispenser, { kind: AgreementKind.Storage }))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.dispenser.id, Role.Dispenser, Role.Distributor);
    });

    it("reverts for agreement kind None", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(submitAgreement(c, c.cmo, { kind: AgreementKind.None })).to.be.revertedWithCustomError(c.products, "InvalidAgreementKind");
    });

    it("reverts when the validity window is empty or inverted", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(submitAgreement(c, c.cmo, { validFrom: 2_000_000_000, validUntil: 2_000_000_000 }))
        .to.be.revertedWithCustomError(c.products, "InvalidValidityWindow")
        .withArgs(2_000_000_000, 2_000_000_000);
    });

    it("reverts a quality agreement that does not say who performs release testing", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(submitAgreement(c, c.cmo, { releaseTester: ReleaseTester.None })).to.be.revertedWithCustomError(
        c.products,
        "InvalidReleaseTester",
      );
    });

    it("reverts for an unknown product", async () => {
      const c = await loadFixture(deployConsortium);
      const unknown = hashText("no such product");
      await expect(submitAgreement(c, c.cmo, { productId: unknown }))
        .to.be.revertedWithCustomError(c.products, "UnknownProduct")
        .withArgs(unknown);
    });

    it("reverts for another MAH's product", async () => {
      const c = await loadFixture(deployConsortium);
      const otherMah = await onboard(c, Role.Mah, JIANGSU, "Other MAH");
      const theirs = await registerProduct(c, otherMah, "8612345");
      await expect(submitAgreement(c, c.cmo, { productId: theirs }))
        .to.be.revertedWithCustomError(c.products, "NotProductMah")
        .withArgs(theirs, c.mah.id);
    });

    it("reverts when the counterparty's signature is not its own", async () => {
      const c = await loadFixture(deployConsortium);
      const message = await agreementMessage(c, c.mah, c.cmo, c.productId);
      const signed = await signAgreementBy(c, c.mah, c.cmo, message);
      const forger = Wallet.createRandom();
      const forged = await c.sign("ProductRegistry", "Agreement", forger, message);
      await expect(c.products.signAgreement(signed.message as never, signed.mahSignature, forged.signature))
        .to.be.revertedWithCustomError(c.registry, "UnknownSigningKey")
        .withArgs(forger.address);
    });

    it("reverts when the counterparty is suspended", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await c.sign("ConsortiumRegistry", "Suspension", c.regulator.key, {
        regulatorId: c.regulator.id,
        organizationId: c.cmo.id,
        reasonHash: ZeroHash,
      });
      await c.registry.suspendOrganization(message as never, signature);
      await expect(submitAgreement(c, c.cmo)).to.be.revertedWithCustomError(c.registry, "SuspendedOrganization").withArgs(c.cmo.id);
    });
  });

  describe("revokeAgreement", () => {
    it("lets the MAH revoke, with every field in the event", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(revoke(c, c.mah, c.agreementId))
        .to.emit(c.products, "AgreementRevoked")
        .withArgs(
          c.agreementId,
          c.mah.id,
          [c.mah.id, (n: bigint) => n >= 0n, c.agreementId, hashText("contract terminated")],
          c.mah.key.address,
          (s: string) => s.length === 132,
        );
      expect((await c.products.agreementTerms(c.agreementId)).revoked).to.equal(true);
    });

    it("lets the counterparty revoke", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(revoke(c, c.cmo, c.agreementId)).to.emit(c.products, "AgreementRevoked");
    });

    it("reverts for an organization that is not a party", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(revoke(c, c.distributor, c.agreementId))
        .to.be.revertedWithCustomError(c.products, "NotAgreementParty")
        .withArgs(c.agreementId, c.distributor.id);
    });

    it("reverts when already revoked", async () => {
      const c = await loadFixture(deployConsortium);
      await revoke(c, c.mah, c.agreementId);
      await expect(revoke(c, c.cmo, c.agreementId))
        .to.be.revertedWithCustomError(c.products, "AgreementAlreadyRevoked")
        .withArgs(c.agreementId);
    });

    it("reverts for an unknown agreement", async () => {
      const c = await loadFixture(deployConsortium);
      const unknown = hashText("nothing");
      await expect(revoke(c, c.mah, unknown))
        .to.be.revertedWithCustomError(c.products, "UnknownAgreement")
        .withArgs(unknown);
    });
  });

  it("derives agreement ids from the MAH and its nonce", async () => {
    const c = await loadFixture(deployConsortium);
    const id = await signQualityAgreement(c, c.mah, c.cmo, c.productId);
    expect((await c.products.agreementTerms(id)).counterpartyId).to.equal(c.cmo.id);
  });
});
