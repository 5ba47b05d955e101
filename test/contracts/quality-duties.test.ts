import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Wallet, ZeroHash } from "ethers";
import hre from "hardhat";
import { AgreementKind, BatchState, PersonRole, ReleaseTester, RiskClass, RiskLevel, Role } from "../../src/ledger";
import {
  agreementMessage,
  deployConsortium,
  onboard,
  recordBatch,
  registerProduct,
  releaseFromFactory,
  releaseToMarket,
  signAgreementBy,
  ZHEJIANG,
} from "./fixtures";
import {
  acknowledgeNotice,
  addMahKey,
  agreeCommunicationTerms,
  appointPerson,
  classifyProduct,
  contractLaboratory,
  fileQualityReview,
  issueCertificate,
  laboratoryTestedConsortium,
  referenceSterileRecords,
  releaseToMarketAs,
  revokePerson,
  sendNotice,
  signAppointment,
} from "./quality-fixtures";

describe("QualityDuties: named responsible persons", () => {
  it("appointPerson_recordsTheQualifiedPerson, whose key then signs the market release", async () => {
    const c = await loadFixture(deployConsortium);
    const qp = await appointPerson(c);
    expect((await c.qualityDuties.person(c.productId, qp.address)).role).to.equal(PersonRole.QualifiedPerson);
    const batchId = await recordBatch(c, "QP-1");
    expect((await c.batches.batch(batchId)).qualityChecked).to.equal(true);
    await releaseFromFactory(c, batchId);
    await releaseToMarketAs(c, batchId, qp);
    expect((await c.batches.batch(batchId)).state).to.equal(BatchState.MarketReleased);
  });

  it("releaseToMarket_revertsWhenAProductWithAQualifiedPersonIsReleasedBySomeoneElse", async () => {
    const c = await loadFixture(deployConsortium);
    await appointPerson(c);
    const batchId = await recordBatch(c, "QP-2");
    await releaseFromFactory(c, batchId);
    await expect(releaseToMarket(c, batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "ReleaseNotByResponsiblePerson")
      .withArgs(batchId, c.mah.key.address);
  });

  it("releaseToMarket_revertsWhenTheSignerIsAResponsiblePersonOfAnotherRole", async () => {
    const c = await loadFixture(deployConsortium);
    await appointPerson(c);
    const head = await appointPerson(c, PersonRole.ProductionHead, "李强 Li Qiang");
    const batchId = await recordBatch(c, "QP-3");
    await releaseFromFactory(c, batchId);
    await expect(releaseToMarketAs(c, batchId, head))
      .to.be.revertedWithCustomError(c.qualityDuties, "ResponsiblePersonRoleMismatch")
      .withArgs(batchId, head.address, PersonRole.ProductionHead, PersonRole.QualifiedPerson);
  });

  it("releaseToMarket_revertsWhenTheQualifiedPersonWasRevoked", async () => {
    const c = await loadFixture(deployConsortium);
    const qp = await appointPerson(c);
    const batchId = await recordBatch(c, "QP-4");
    await releaseFromFactory(c, batchId);
    await revokePerson(c, qp.address);
    await expect(releaseToMarketAs(c, batchId, qp))
      .to.be.revertedWithCustomError(c.qualityDuties, "ResponsiblePersonRevokedForRelease")
      .withArgs(batchId, qp.address);
  });

  it("a batch recorded before any person was named is released by any key of its MAH", async () => {
    const c = await loadFixture(deployConsortium);
    const batchId = await recordBatch(c, "QP-5");
    expect((await c.batches.batch(batchId)).qualityChecked).to.equal(false);
    await appointPerson(c);
    await releaseFromFactory(c, batchId);
    await releaseToMarket(c, batchId);
  });

  it("appointPerson_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(deployConsortium);
    const key = await addMahKey(c);
    const send = async (overrides: Record<string, unknown>, personKey = key.address, by = c.mah) => {
      const { message, signature } = await signAppointment(c, personKey, overrides, by);
      return c.qualityDuties.appointPerson(message as never, signature);
    };
    await expect(send({ role: PersonRole.None })).to.be.revertedWithCustomError(c.qualityDuties, "InvalidPersonRole");
    await expect(send({ name: "" })).to.be.revertedWithCustomError(c.qualityDuties, "EmptyPersonName");
    const stranger = Wallet.createRandom().address;
    await expect(send({}, stranger)).to.be.revertedWithCustomError(c.qualityDuties, "PersonKeyNotOfOrganization").withArgs(stranger, c.mah.id);
    await expect(send({}, c.cmo.key.address))
      .to.be.revertedWithCustomError(c.qualityDuties, "PersonKeyNotOfOrganization")
      .withArgs(c.cmo.key.address, c.mah.id);
    await expect(send({ mahId: c.cmo.id }, key.address, c.cmo))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.cmo.id, Role.Cmo, Role.Mah);
    const otherMah = await onboard(c, Role.Mah, ZHEJIANG, "Hangzhou MAH");
    await expect(send({ mahId: otherMah.id }, key.address, otherMah))
      .to.be.revertedWithCustomError(c.products, "NotProductMah")
      .withArgs(c.productId, otherMah.id);
    await expect(send({ productId: ZeroHash }))
      .to.be.revertedWithCustomError(c.products, "UnknownProduct")
      .withArgs(ZeroHash);
    await send({});
    await expect(send({})).to.be.revertedWithCustomError(c.qualityDuties, "ResponsiblePersonAlreadyAppointed").withArgs(c.productId, key.address);
  });

  it("revokePerson_revertsForAnUnknownOrAlreadyRevokedPerson", async () => {
    const c = await loadFixture(deployConsortium);
    const stranger = Wallet.createRandom().address;
    await expect(revokePerson(c, stranger))
      .to.be.revertedWithCustomError(c.qualityDuties, "UnknownResponsiblePerson")
      .withArgs(c.productId, stranger);
    const qp = await appointPerson(c);
    await revokePerson(c, qp.address);
    await expect(revokePerson(c, qp.address))
      .to.be.revertedWithCustomError(c.qualityDuties, "ResponsiblePersonAlreadyRevoked")
      .withArgs(c.productId, qp.address);
  });
});

describe("QualityDuties: product risk class and sterile records", () => {
  async function sterileBatch() {
    const c = await deployConsortium();
    await classifyProduct(c, RiskClass.Sterile);
    const batchId = await recordBatch(c, "ST-1");
    return { ...c, batchId };
  }

  it("releaseFromFactory_revertsForASterileBatchWithoutItsEnvironmentalMonitoringAndCleaningRecords", async () => {
    const c = await loadFixture(sterileBatch);
    await expect(releaseFromFactory(c, c.batchId)).to.be.revertedWithCustomError(c.qualityDuties, "SterileRecordsMissing").withArgs(c.batchId);
    await referenceSterileRecords(c, c.batchId);
    await releaseFromFactory(c, c.batchId);
    await releaseToMarket(c, c.batchId);
  });

  it("referenceSterileRecords_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(sterileBatch);
    await expect(referenceSterileRecords(c, c.batchId, { cleaningRecordHash: ZeroHash })).to.be.revertedWithCustomError(
      c.qualityDuties,
      "EmptySterileRecord",
    );
    await expect(referenceSterileRecords(c, c.batchId, { cmoId: c.distributor.id }, c.distributor))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotBatchCmo")
      .withArgs(c.batchId, c.distributor.id);
    const unknown = ZeroHash.replace(/0$/, "1");
    await expect(referenceSterileRecords(c, unknown)).to.be.revertedWithCustomError(c.qualityDuties, "NoBatchDuties").withArgs(unknown);
    await referenceSterileRecords(c, c.batchId);
    await expect(referenceSterileRecords(c, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "SterileRecordsAlreadyReferenced")
      .withArgs(c.batchId);
  });

  it("referenceSterileRecords_revertsForABatchOfANonSterileProduct", async () => {
    const c = await loadFixture(deployConsortium);
    await classifyProduct(c, RiskClass.Biologic);
    await appointPerson(c);
    const batchId = await recordBatch(c, "BIO-1");
    await expect(referenceSterileRecords(c, batchId)).to.be.revertedWithCustomError(c.qualityDuties, "SterileRecordsNotRequired").withArgs(batchId);
  });

  it("classifyProduct_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(deployConsortium);
    await expect(classifyProduct(c, RiskClass.None)).to.be.revertedWithCustomError(c.qualityDuties, "InvalidRiskClass");
    await expect(classifyProduct(c, RiskClass.Sterile, c.cmo))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.cmo.id, Role.Cmo, Role.Mah);
    const otherMah = await onboard(c, Role.Mah, ZHEJIANG, "Hangzhou MAH");
    await expect(classifyProduct(c, RiskClass.Sterile, otherMah))
      .to.be.revertedWithCustomError(c.products, "NotProductMah")
      .withArgs(c.productId, otherMah.id);
    await classifyProduct(c, RiskClass.Vaccine);
    await expect(classifyProduct(c, RiskClass.Other))
      .to.be.revertedWithCustomError(c.qualityDuties, "RiskClassAlreadySet")
      .withArgs(c.productId, RiskClass.Vaccine);
    expect(await c.qualityDuties.riskClass(c.productId)).to.equal(RiskClass.Vaccine);
  });
});

describe("QualityDuties: contract laboratories and test certificates", () => {
  async function laboratoryTestedBatch() {
    const c = await laboratoryTestedConsortium(await deployConsortium());
    const batchId = await recordBatch(c, "LAB-1");
    return { ...c, batchId };
  }

  it("a testing agreement binds a laboratory, onboarded by a regulator; not a distributor", async () => {
    const c = await loadFixture(deployConsortium);
    const message = await agreementMessage(c, c.mah, c.distributor, c.productId, { kind: AgreementKind.Testing, releaseTester: ReleaseTester.None });
    const signed = await signAgreementBy(c, c.mah, c.distributor, message);
    await expect(c.products.signAgreement(signed.message as never, signed.mahSignature, signed.counterpartySignature))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.distributor.id, Role.Distributor, Role.Laboratory);
  });

  it("releaseFromFactory_revertsWhenTheReleaseTestersCertificateIsMissingOrFailed", async () => {
    const c = await loadFixture(laboratoryTestedBatch);
    await expect(releaseFromFactory(c, c.batchId)).to.be.revertedWithCustomError(c.qualityDuties, "TestCertificateMissing").withArgs(c.batchId);
    await issueCertificate(c, c.laboratory, c.testingAgreementId, c.batchId, false);
    await expect(releaseFromFactory(c, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "TestCertificateFailed")
      .withArgs(c.batchId, c.laboratory.id);
  });

  it("a passed certificate lets the batch be released", async () => {
    const c = await loadFixture(laboratoryTestedBatch);
    await issueCertificate(c, c.laboratory, c.testingAgreementId, c.batchId, true);
    await releaseFromFactory(c, c.batchId);
    await releaseToMarket(c, c.batchId);
    const duties = await c.qualityDuties.batchDuties(c.batchId);
    expect([duties.laboratoryId, duties.certificatePassed]).to.deep.equal([BigInt(c.laboratory.id), true]);
  });

  it("issueTestCertificate_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(laboratoryTestedBatch);
    await expect(issueCertificate(c, c.cmo, c.testingAgreementId, c.batchId, true, { laboratoryId: c.cmo.id }))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.cmo.id, Role.Cmo, Role.Laboratory);
    await expect(issueCertificate(c, c.laboratory, c.agreementId, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotTestingAgreement")
      .withArgs(c.agreementId);
    const other = await contractLaboratory(c);
    await expect(issueCertificate(c, c.laboratory, other.testingAgreementId, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotAgreementLaboratory")
      .withArgs(other.testingAgreementId, c.laboratory.id);
    const otherProduct = await registerProduct(c, c.mah, "06901234567885");
    const elsewhere = await contractLaboratory(c, otherProduct);
    await expect(issueCertificate(c, elsewhere.laboratory, elsewhere.testingAgreementId, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "AgreementNotForBatch")
      .withArgs(elsewhere.testingAgreementId, c.batchId);
    const { message, signature } = await c.sign("ProductRegistry", "AgreementRevocation", c.mah.key, {
      organizationId: c.mah.id,
      agreementId: other.testingAgreementId,
      reasonHash: ZeroHash,
    });
    await c.products.revokeAgreement(message as never, signature);
    await expect(issueCertificate(c, other.laboratory, other.testingAgreementId, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "TestingAgreementNotInForce")
      .withArgs(other.testingAgreementId);
    await issueCertificate(c, c.laboratory, c.testingAgreementId, c.batchId);
    await expect(issueCertificate(c, c.laboratory, c.testingAgreementId, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "TestCertificateAlreadyIssued")
      .withArgs(c.batchId);
  });

  it("issueTestCertificate_revertsForABatchWhoseReleaseTesterIsNotALaboratory", async () => {
    const c = await loadFixture(deployConsortium);
    const { laboratory, testingAgreementId } = await contractLaboratory(c);
    await classifyProduct(c, RiskClass.Sterile);
    const batchId = await recordBatch(c, "CMO-TESTED");
    await expect(issueCertificate(c, laboratory, testingAgreementId, batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "TestCertificateNotRequired")
      .withArgs(batchId);
  });
});

describe("QualityDuties: quarterly quality review", () => {
  it("fileQualityReview_recordsTheReviewOnce", async () => {
    const c = await loadFixture(deployConsortium);
    await fileQualityReview(c, 2026, 3, { riskLevel: RiskLevel.Medium });
    expect(await c.qualityDuties.isQualityReviewFiled(c.productId, 2026, 3)).to.equal(true);
    await expect(fileQualityReview(c, 2026, 3))
      .to.be.revertedWithCustomError(c.qualityDuties, "QualityReviewAlreadyFiled")
      .withArgs(c.productId, 2026, 3);
  });

  it("fileQualityReview_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(deployConsortium);
    await expect(fileQualityReview(c, 2026, 5))
      .to.be.revertedWithCustomError(c.qualityDuties, "InvalidReviewPeriod")
      .withArgs(2026, 5);
    await expect(fileQualityReview(c, 2026, 0))
      .to.be.revertedWithCustomError(c.qualityDuties, "InvalidReviewPeriod")
      .withArgs(2026, 0);
    await expect(fileQualityReview(c, 1999, 1))
      .to.be.revertedWithCustomError(c.qualityDuties, "InvalidReviewPeriod")
      .withArgs(1999, 1);
    await expect(fileQualityReview(c, 2026, 1, { riskLevel: RiskLevel.None })).to.be.revertedWithCustomError(c.qualityDuties, "InvalidRiskLevel");
    await expect(fileQualityReview(c, 2026, 1, { mahId: c.cmo.id }, c.cmo))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.cmo.id, Role.Cmo, Role.Mah);
    await expect(fileQualityReview(c, 2026, 1, { productId: ZeroHash })).to.be.revertedWithCustomError(c.products, "UnknownProduct");
  });
});

describe("QualityDuties: binding to the batch ledger", () => {
  it("recordBatchDuties_revertsForAnyCallerButTheBatchLedger", async () => {
    const c = await loadFixture(deployConsortium);
    const [caller] = await hre.ethers.getSigners();
    await expect(c.qualityDuties.recordBatchDuties(ZeroHash, c.productId, c.mah.id, c.cmo.id, true))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotBatchLedger")
      .withArgs(caller!.address);
  });

  it("bindBatchLedger_revertsOnceBoundOrForAnotherCaller", async () => {
    const c = await loadFixture(deployConsortium);
    const [, other] = await hre.ethers.getSigners();
    await expect(c.qualityDuties.bindBatchLedger(other!.address))
      .to.be.revertedWithCustomError(c.qualityDuties, "BatchLedgerAlreadyBound")
      .withArgs(await c.batches.getAddress());
    await expect(c.qualityDuties.connect(other!).bindBatchLedger(other!.address))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotDeployer")
      .withArgs(other!.address);
  });
});

describe("QualityDuties: communication log of a quality agreement", () => {
  it("a notice over an agreed channel is due within the agreed time and acknowledged once by the addressee", async () => {
    const c = await loadFixture(deployConsortium);
    await agreeCommunicationTerms(c);
    const { tx, noticeId } = await sendNotice(c, c.cmo);
    await (await tx).wait();
    const sent = await c.qualityDuties.notice(noticeId);
    expect([sent.senderId, sent.recipientId, sent.acknowledged]).to.deep.equal([BigInt(c.cmo.id), BigInt(c.mah.id), false]);
    const sentAt = (await hre.ethers.provider.getBlock("latest"))!.timestamp;
    expect(sent.dueAt).to.equal(BigInt(sentAt + 48 * 3600));
    await expect(acknowledgeNotice(c, c.cmo, noticeId))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotNoticeRecipient")
      .withArgs(noticeId, c.cmo.id);
    await acknowledgeNotice(c, c.mah, noticeId);
    await expect(acknowledgeNotice(c, c.mah, noticeId))
      .to.be.revertedWithCustomError(c.qualityDuties, "NoticeAlreadyAcknowledged")
      .withArgs(noticeId);
    await expect(acknowledgeNotice(c, c.mah, ZeroHash))
      .to.be.revertedWithCustomError(c.qualityDuties, "UnknownNotice")
      .withArgs(ZeroHash);
  });

  it("sendNotice_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(deployConsortium);
    await expect((await sendNotice(c, c.cmo)).tx)
      .to.be.revertedWithCustomError(c.qualityDuties, "CommunicationTermsMissing")
      .withArgs(c.agreementId);
    await agreeCommunicationTerms(c);
    await expect((await sendNotice(c, c.cmo, { channel: 2 })).tx)
      .to.be.revertedWithCustomError(c.qualityDuties, "ChannelNotAgreed")
      .withArgs(c.agreementId, 2);
    await expect((await sendNotice(c, c.cmo, { channel: 9 })).tx)
      .to.be.revertedWithCustomError(c.qualityDuties, "ChannelNotAgreed")
      .withArgs(c.agreementId, 9);
    await expect((await sendNotice(c, c.cmo, { kind: 0 })).tx).to.be.revertedWithCustomError(c.qualityDuties, "InvalidNoticeKind");
    await expect((await sendNotice(c, c.distributor, { senderId: c.distributor.id })).tx)
      .to.be.revertedWithCustomError(c.qualityDuties, "NotQualityAgreementParty")
      .withArgs(c.agreementId, c.distributor.id);
  });

  it("agreeCommunicationTerms_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(deployConsortium);
    await expect(agreeCommunicationTerms(c, { channels: 0 }))
      .to.be.revertedWithCustomError(c.qualityDuties, "InvalidCommunicationTerms")
      .withArgs(0, 48 * 3600);
    await expect(agreeCommunicationTerms(c, { responseSeconds: 0 })).to.be.revertedWithCustomError(c.qualityDuties, "InvalidCommunicationTerms");
    await expect(agreeCommunicationTerms(c, { mahId: c.cmo.id }, c.cmo))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.cmo.id, Role.Cmo, Role.Mah);
    const otherMah = await onboard(c, Role.Mah, ZHEJIANG, "Hangzhou MAH");
    await expect(agreeCommunicationTerms(c, { mahId: otherMah.id }, otherMah))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotQualityAgreementParty")
      .withArgs(c.agreementId, otherMah.id);
    const storage = await onboard(c, Role.Distributor, ZHEJIANG, "Storage");
    const message = await agreementMessage(c, c.mah, storage, ZeroHash, { kind: AgreementKind.Storage, releaseTester: ReleaseTester.None });
    const signed = await signAgreementBy(c, c.mah, storage, message);
    await c.products.signAgreement(signed.message as never, signed.mahSignature, signed.counterpartySignature);
    const storageAgreement = await c.products.agreementId(c.mah.id, message.nonce as bigint);
    await expect(agreeCommunicationTerms(c, { agreementId: storageAgreement }))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotQualityAgreementParty")
      .withArgs(storageAgreement, c.mah.id);
  });
});
