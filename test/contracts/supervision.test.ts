import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import { InspectionGrade, Role } from "../../src/ledger";
import { DAY, deployConsortium, JIANGSU, onboard, recordBatch, reviewAgreement, revokeAgreement, signQualityAgreement, ZHEJIANG } from "./fixtures";
import type { Party } from "./fixtures";
import {
  CROSS_PROVINCE,
  inspectionIdOf,
  inspectionOf,
  now,
  pendingAgreement,
  recognise,
  recordInspection,
  recordLicence,
  sampling,
} from "./supervision-fixtures";

async function consortium() {
  return deployConsortium();
}

describe("ConsortiumRegistry licences", () => {
  it("recordLicence stores the licence and its expiry, signed by a regulator of the organization's province", async () => {
    const c = await loadFixture(consortium);
    const validUntil = (await now(c)) + 365 * DAY;
    await expect(recordLicence(c, c.regulator2, c.cmo.id, validUntil)).to.emit(c.registry, "LicenceRecorded");
    const org = await c.registry.organization(c.cmo.id);
    expect(org.licenceValidUntil).to.equal(BigInt(validUntil));
    expect(org.licenceHash).to.equal(hashText(`licence of ${c.cmo.id} until ${validUntil}`));
  });

  it("recordLicence reverts for a regulator of another province, a non-regulator, an unknown organization or a past expiry", async () => {
    const c = await loadFixture(consortium);
    const validUntil = (await now(c)) + 365 * DAY;
    await expect(recordLicence(c, c.regulator, c.cmo.id, validUntil))
      .to.be.revertedWithCustomError(c.registry, "NotProvinceRegulator")
      .withArgs(c.regulator.id, c.cmo.id);
    await expect(recordLicence(c, c.mah, c.mah.id, validUntil))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.mah.id, Role.Mah, Role.Regulator);
    await expect(recordLicence(c, c.regulator, 99, validUntil))
      .to.be.revertedWithCustomError(c.registry, "UnknownOrganization")
      .withArgs(99);
    const past = (await now(c)) - 1;
    await expect(recordLicence(c, c.regulator2, c.cmo.id, past))
      .to.be.revertedWithCustomError(c.registry, "InvalidLicenceExpiry")
      .withArgs(past);
    expect((await c.registry.organization(c.cmo.id)).licenceValidUntil).to.equal(0n);
  });

  it("an expired licence blocks every attestation of the organization until a regulator renews it", async () => {
    const c = await loadFixture(consortium);
    const validUntil = (await now(c)) + 30 * DAY;
    await recordLicence(c, c.regulator2, c.cmo.id, validUntil);
    await recordBatch(c, "B-BEFORE");
    await time.increaseTo(validUntil);
    await expect(recordBatch(c, "B-AFTER")).to.be.revertedWithCustomError(c.registry, "LicenceExpired").withArgs(c.cmo.id, validUntil);
    await recordLicence(c, c.regulator2, c.cmo.id, validUntil + 365 * DAY);
    await recordBatch(c, "B-AFTER");
  });
});

describe("ProductRegistry cross-province quality agreements", () => {
  it("a quality agreement with a CMO of another province awaits review: no batch until the opinion and the approval", async () => {
    const c = await loadFixture(consortium);
    const { productId, agreementId } = await pendingAgreement(c);
    expect((await c.products.agreementTerms(agreementId)).approval).to.equal(CROSS_PROVINCE.awaitingOpinion);
    const batch = (number: string) => recordBatch({ ...c, productId, agreementId }, number);
    await expect(batch("X-1"))
      .to.be.revertedWithCustomError(c.batches, "AgreementAwaitingApproval")
      .withArgs(agreementId, CROSS_PROVINCE.awaitingOpinion);
    await expect(reviewAgreement(c, "AgreementOpinion", c.regulator2, agreementId))
      .to.emit(c.products, "AgreementOpinionGiven")
      .withArgs(
        agreementId,
        c.regulator2.id,
        (review: unknown) => Boolean(review),
        () => true,
        () => true,
      );
    await expect(batch("X-1"))
      .to.be.revertedWithCustomError(c.batches, "AgreementAwaitingApproval")
      .withArgs(agreementId, CROSS_PROVINCE.awaitingApproval);
    await expect(reviewAgreement(c, "AgreementApproval", c.regulator, agreementId)).to.emit(c.products, "AgreementApproved");
    expect((await c.products.agreementTerms(agreementId)).approval).to.equal(CROSS_PROVINCE.approved);
    await batch("X-1");
  });

  it("the opinion comes from the CMO's province and the approval from the MAH's, in that order, once each", async () => {
    const c = await loadFixture(consortium);
    const { agreementId } = await pendingAgreement(c);
    await expect(reviewAgreement(c, "AgreementOpinion", c.regulator, agreementId))
      .to.be.revertedWithCustomError(c.products, "NotProvinceRegulator")
      .withArgs(c.regulator.id, c.cmo.id);
    await expect(reviewAgreement(c, "AgreementApproval", c.regulator, agreementId))
      .to.be.revertedWithCustomError(c.products, "AgreementOpinionMissing")
      .withArgs(agreementId);
    await reviewAgreement(c, "AgreementOpinion", c.regulator2, agreementId);
    await expect(reviewAgreement(c, "AgreementOpinion", c.regulator2, agreementId))
      .to.be.revertedWithCustomError(c.products, "AgreementOpinionAlreadyGiven")
      .withArgs(agreementId);
    await expect(reviewAgreement(c, "AgreementApproval", c.regulator2, agreementId))
      .to.be.revertedWithCustomError(c.products, "NotProvinceRegulator")
      .withArgs(c.regulator2.id, c.mah.id);
    await reviewAgreement(c, "AgreementApproval", c.regulator, agreementId);
    await expect(reviewAgreement(c, "AgreementApproval", c.regulator, agreementId))
      .to.be.revertedWithCustomError(c.products, "AgreementAlreadyApproved")
      .withArgs(agreementId);
  });

  it("review reverts for a non-regulator, an unknown, revoked or same-province agreement, keeping it as it was", async () => {
    const c = await loadFixture(consortium);
    const { agreementId } = await pendingAgreement(c);
    await expect(reviewAgreement(c, "AgreementOpinion", c.mah, agreementId))
      .to.be.revertedWithCustomError(c.products, "OrganizationRoleMismatch")
      .withArgs(c.mah.id, Role.Mah, Role.Regulator);
    await expect(reviewAgreement(c, "AgreementOpinion", c.regulator2, hashText("no agreement")))
      .to.be.revertedWithCustomError(c.products, "UnknownAgreement")
      .withArgs(hashText("no agreement"));
    const cmoInJiangsu = await onboard(c, Role.Cmo, JIANGSU + 500, "Nanjing CMO");
    const local = await signQualityAgreement(c, c.mah, cmoInJiangsu, c.productId);
    expect((await c.products.agreementTerms(local)).approval).to.equal(0n);
    await expect(reviewAgreement(c, "AgreementOpinion", c.regulator, local))
      .to.be.revertedWithCustomError(c.products, "AgreementNeedsNoApproval")
      .withArgs(local);
    await revokeAgreement(c, c.mah, agreementId);
    await expect(reviewAgreement(c, "AgreementOpinion", c.regulator2, agreementId))
      .to.be.revertedWithCustomError(c.products, "AgreementAlreadyRevoked")
      .withArgs(agreementId);
    expect((await c.products.agreementTerms(agreementId)).approval).to.equal(CROSS_PROVINCE.awaitingOpinion);
  });
});

describe("SupervisionRecords inspections", () => {
  it("recordInspection records a regulator's inspection with its findings, grade and document", async () => {
    const c = await loadFixture(consortium);
    const { message, signature } = await inspectionOf(c, c.regulator2);
    const id = inspectionIdOf(c.regulator2, message.nonce);
    await expect(c.supervision.recordInspection(message as never, signature))
      .to.emit(c.supervision, "InspectionRecorded")
      .withArgs(
        id,
        c.cmo.id,
        c.regulator2.id,
        (inspection: { site: string; grade: bigint }) => inspection.grade === 2n,
        () => true,
        signature,
      );
    expect(await c.supervision.inspectionProvince(id)).to.equal(BigInt(ZHEJIANG));
    expect(await c.supervision.isInspectionRecognised(id, ZHEJIANG)).to.equal(true);
  });

  it("another province's regulator recognises the inspection once; its own province cannot", async () => {
    const c = await loadFixture(consortium);
    const id = await recordInspection(c, c.regulator2);
    await expect(recognise(c, c.regulator2, id))
      .to.be.revertedWithCustomError(c.supervision, "OwnProvinceInspection")
      .withArgs(id, ZHEJIANG);
    await expect(recognise(c, c.regulator, id))
      .to.emit(c.supervision, "InspectionRecognised")
      .withArgs(
        id,
        c.regulator.id,
        JIANGSU,
        () => true,
        () => true,
        () => true,
      );
    expect(await c.supervision.isInspectionRecognised(id, JIANGSU)).to.equal(true);
    await expect(recognise(c, c.regulator, id))
      .to.be.revertedWithCustomError(c.supervision, "InspectionAlreadyRecognised")
      .withArgs(id, JIANGSU);
    await expect(recognise(c, c.regulator, hashText("none")))
      .to.be.revertedWithCustomError(c.supervision, "UnknownInspection")
      .withArgs(hashText("none"));
    await expect(recognise(c, c.mah, id))
      .to.be.revertedWithCustomError(c.supervision, "OrganizationRoleMismatch")
      .withArgs(c.mah.id, Role.Mah, Role.Regulator);
  });

  it("recordInspection reverts for a non-regulator, an unknown or regulator organization and malformed records", async () => {
    const c = await loadFixture(consortium);
    const attempt = async (by: Party, overrides: Record<string, unknown>) => {
      const { message, signature } = await inspectionOf(c, by, overrides);
      return c.supervision.recordInspection(message as never, signature);
    };
    const future = (await now(c)) + DAY;
    await expect(attempt(c.mah, {}))
      .to.be.revertedWithCustomError(c.supervision, "OrganizationRoleMismatch")
      .withArgs(c.mah.id, Role.Mah, Role.Regulator);
    await expect(attempt(c.regulator, { organizationId: 99 }))
      .to.be.revertedWithCustomError(c.supervision, "UnknownOrganization")
      .withArgs(99);
    await expect(attempt(c.regulator, { organizationId: c.regulator2.id }))
      .to.be.revertedWithCustomError(c.supervision, "NotSupervisedOrganization")
      .withArgs(c.regulator2.id);
    await expect(attempt(c.regulator, { scope: 0 })).to.be.revertedWithCustomError(c.supervision, "InvalidInspectionScope");
    await expect(attempt(c.regulator, { grade: 0 })).to.be.revertedWithCustomError(c.supervision, "InvalidInspectionGrade");
    await expect(attempt(c.regulator, { site: "" }))
      .to.be.revertedWithCustomError(c.supervision, "InvalidInspectionSite")
      .withArgs("");
    await expect(attempt(c.regulator, { inspectedAt: future }))
      .to.be.revertedWithCustomError(c.supervision, "InvalidInspectionDate")
      .withArgs(future);
    await expect(attempt(c.regulator, { criticalFindings: 1, grade: InspectionGrade.CompliantWithCorrections }))
      .to.be.revertedWithCustomError(c.supervision, "InspectionGradeContradictsFindings")
      .withArgs(InspectionGrade.CompliantWithCorrections, 1, 1);
    await expect(attempt(c.regulator, { majorFindings: 2, grade: InspectionGrade.Compliant }))
      .to.be.revertedWithCustomError(c.supervision, "InspectionGradeContradictsFindings")
      .withArgs(InspectionGrade.Compliant, 0, 2);
  });
});

describe("SupervisionRecords sampling", () => {
  it("recordSampling records a failed test of a batch sampled at a holder", async () => {
    const c = await loadFixture(consortium);
    const batchId = await recordBatch(c, "S-1");
    await expect(sampling(c, c.regulator, batchId)).to.emit(c.supervision, "SamplingRecorded");
  });

  it("recordSampling reverts for a non-regulator, an unknown batch or organization and an unnamed test", async () => {
    const c = await loadFixture(consortium);
    const batchId = await recordBatch(c, "S-1");
    await expect(sampling(c, c.mah, batchId))
      .to.be.revertedWithCustomError(c.supervision, "OrganizationRoleMismatch")
      .withArgs(c.mah.id, Role.Mah, Role.Regulator);
    await expect(sampling(c, c.regulator, hashText("no batch")))
      .to.be.revertedWithCustomError(c.supervision, "UnknownSampledBatch")
      .withArgs(hashText("no batch"));
    await expect(sampling(c, c.regulator, batchId, { sampledAtId: 99 }))
      .to.be.revertedWithCustomError(c.supervision, "UnknownOrganization")
      .withArgs(99);
    await expect(sampling(c, c.regulator, batchId, { test: "" }))
      .to.be.revertedWithCustomError(c.supervision, "InvalidSamplingTest")
      .withArgs("");
  });
});
