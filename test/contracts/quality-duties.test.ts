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
  agreeTermsWithCountersignature,
  appointPerson,
  approveRetainedSamples,
  changeShortageListing,
  classifyProduct,
  countersignCommunicationTerms,
  EMAIL,
  contractLaboratory,
  fileQualityReview,
  issueCertificate,
  laboratoryTestedConsortium,
  recordRetainedSamples,
  referenceSterileRecords,
  releaseToMarketAs,
  reportStopProduction,
  revokePerson,
  sendNotice,
  signAppointment,
  TERMS_CLAUSE,
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

  it("releaseToMarket_emitsTheSignersNameAndRoleAsAppointed", async () => {
    const c = await loadFixture(deployConsortium);
    const qp = await appointPerson(c);
    const batchId = await recordBatch(c, "QP-6");
    await releaseFromFactory(c, batchId);
    const receipt = await (await releaseToMarketAs(c, batchId, qp)).wait();
    const released = receipt!.logs.map((log) => c.batches.interface.parseLog(log)).find((e) => e?.name === "BatchMarketReleased");
    expect(released!.args.release.signerRole).to.equal(PersonRole.QualifiedPerson);
    expect(released!.args.release.signerName).to.equal("王敏 Wang Min");
  });

  it("releaseToMarket_revertsWhenTheQualifiedPersonIsNamedOtherwiseThanAppointed", async () => {
    const c = await loadFixture(deployConsortium);
    const qp = await appointPerson(c);
    const batchId = await recordBatch(c, "QP-7");
    await releaseFromFactory(c, batchId);
    await expect(releaseToMarketAs(c, batchId, qp, { signerName: "王敏" }))
      .to.be.revertedWithCustomError(c.qualityDuties, "ReleaseSignerNameMismatch")
      .withArgs(batchId, qp.address, "王敏");
    expect((await c.batches.batch(batchId)).state).to.equal(BatchState.FactoryReleased);
  });

  it("releaseToMarket_revertsWhenTheQualifiedPersonStatesAnotherRole", async () => {
    const c = await loadFixture(deployConsortium);
    const qp = await appointPerson(c);
    const batchId = await recordBatch(c, "QP-8");
    await releaseFromFactory(c, batchId);
    await expect(releaseToMarketAs(c, batchId, qp, { signerRole: PersonRole.Organization }))
      .to.be.revertedWithCustomError(c.qualityDuties, "ReleaseSignerRoleMismatch")
      .withArgs(batchId, qp.address, PersonRole.Organization, PersonRole.QualifiedPerson);
  });

  it("releaseToMarket_revertsWhenTheOrganizationsOwnKeyNamesAPerson", async () => {
    const c = await loadFixture(deployConsortium);
    const batchId = await recordBatch(c, "QP-9");
    await releaseFromFactory(c, batchId);
    await expect(releaseToMarket(c, batchId, { signerName: "王敏 Wang Min" }))
      .to.be.revertedWithCustomError(c.batches, "ReleaseSignerNotOrganization")
      .withArgs(batchId, PersonRole.Organization, "王敏 Wang Min");
    await expect(releaseToMarket(c, batchId, { signerRole: PersonRole.QualifiedPerson, signerName: "" }))
      .to.be.revertedWithCustomError(c.batches, "ReleaseSignerNotOrganization")
      .withArgs(batchId, PersonRole.QualifiedPerson, "");
    expect((await c.batches.batch(batchId)).state).to.equal(BatchState.FactoryReleased);
    await releaseToMarket(c, batchId);
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
    await expect(send({ role: PersonRole.Organization })).to.be.revertedWithCustomError(c.qualityDuties, "InvalidPersonRole");
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
    await recordRetainedSamples(c, c.batchId);
    await approveRetainedSamples(c, c.batchId);
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
    await agreeTermsWithCountersignature(c);
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
    await expect((await sendNotice(c, c.cmo)).tx)
      .to.be.revertedWithCustomError(c.qualityDuties, "CommunicationTermsNotCountersigned")
      .withArgs(c.agreementId);
    await countersignCommunicationTerms(c);
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

describe("QualityDuties: the CMO countersigns the communication terms", () => {
  it("countersignCommunicationTerms_recordsBothSignatures, and new terms from the MAH need it anew", async () => {
    const c = await loadFixture(deployConsortium);
    await agreeCommunicationTerms(c);
    expect((await c.qualityDuties.communicationTerms(c.agreementId)).countersigned).to.equal(false);
    await countersignCommunicationTerms(c);
    const terms = await c.qualityDuties.communicationTerms(c.agreementId);
    expect([terms.countersigned, terms.termsHash, terms.responseSeconds]).to.deep.equal([true, TERMS_CLAUSE, BigInt(48 * 3600)]);
    await (
      await sendNotice(c, c.mah)
    ).tx;
    await agreeCommunicationTerms(c, { responseSeconds: 24 * 3600 });
    expect((await c.qualityDuties.communicationTerms(c.agreementId)).countersigned).to.equal(false);
    await expect((await sendNotice(c, c.mah)).tx)
      .to.be.revertedWithCustomError(c.qualityDuties, "CommunicationTermsNotCountersigned")
      .withArgs(c.agreementId);
  });

  it("countersignCommunicationTerms_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(deployConsortium);
    await expect(countersignCommunicationTerms(c))
      .to.be.revertedWithCustomError(c.qualityDuties, "CommunicationTermsMissing")
      .withArgs(c.agreementId);
    await agreeCommunicationTerms(c);
    await expect(countersignCommunicationTerms(c, { channels: 1 << EMAIL }))
      .to.be.revertedWithCustomError(c.qualityDuties, "CommunicationTermsMismatch")
      .withArgs(c.agreementId);
    await expect(countersignCommunicationTerms(c, { responseSeconds: 3600 })).to.be.revertedWithCustomError(
      c.qualityDuties,
      "CommunicationTermsMismatch",
    );
    await expect(countersignCommunicationTerms(c, { termsHash: ZeroHash })).to.be.revertedWithCustomError(
      c.qualityDuties,
      "CommunicationTermsMismatch",
    );
    await expect(countersignCommunicationTerms(c, { cmoId: c.mah.id }, c.mah))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.mah.id, Role.Mah, Role.Cmo);
    const otherCmo = await onboard(c, Role.Cmo, ZHEJIANG, "Ningbo CMO");
    await expect(countersignCommunicationTerms(c, { cmoId: otherCmo.id }, otherCmo))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotQualityAgreementParty")
      .withArgs(c.agreementId, otherCmo.id);
    expect((await c.qualityDuties.communicationTerms(c.agreementId)).countersigned).to.equal(false);
    await countersignCommunicationTerms(c);
    await expect(countersignCommunicationTerms(c))
      .to.be.revertedWithCustomError(c.qualityDuties, "CommunicationTermsAlreadyCountersigned")
      .withArgs(c.agreementId);
  });
});

describe("QualityDuties: stop-production reports for shortage-listed drugs", () => {
  const now = async () => (await hre.ethers.provider.getBlock("latest"))!.timestamp;

  it("a regulator lists the product; the MAH reports the stop before it", async () => {
    const c = await loadFixture(deployConsortium);
    await changeShortageListing(c, c.regulator);
    expect(await c.qualityDuties.isShortageListed(c.productId)).to.equal(true);
    const stopAt = (await now()) + 180 * 86_400;
    await expect(reportStopProduction(c, stopAt)).to.emit(c.qualityDuties, "StopProductionReported");
    expect(await c.qualityDuties.reportedStopAt(c.productId)).to.equal(BigInt(stopAt));
  });

  it("reportStopProduction_revertsWhenFiledAtOrAfterTheStop", async () => {
    const c = await loadFixture(deployConsortium);
    await changeShortageListing(c, c.mah);
    const stopAt = (await now()) + 1;
    await expect(reportStopProduction(c, stopAt))
      .to.be.revertedWithCustomError(c.qualityDuties, "StopProductionReportLate")
      .withArgs(c.productId, stopAt, stopAt);
    const past = (await now()) - 86_400;
    await expect(reportStopProduction(c, past)).to.be.revertedWithCustomError(c.qualityDuties, "StopProductionReportLate");
    expect(await c.qualityDuties.reportedStopAt(c.productId)).to.equal(0n);
  });

  it("reportStopProduction_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(deployConsortium);
    const stopAt = (await now()) + 30 * 86_400;
    await expect(reportStopProduction(c, stopAt)).to.be.revertedWithCustomError(c.qualityDuties, "ProductNotShortageListed").withArgs(c.productId);
    await changeShortageListing(c, c.regulator);
    await expect(reportStopProduction(c, stopAt, c.cmo))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.cmo.id, Role.Cmo, Role.Mah);
    const otherMah = await onboard(c, Role.Mah, ZHEJIANG, "Hangzhou MAH");
    await expect(reportStopProduction(c, stopAt, otherMah))
      .to.be.revertedWithCustomError(c.products, "NotProductMah")
      .withArgs(c.productId, otherMah.id);
  });

  it("changeShortageListing_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(deployConsortium);
    await expect(changeShortageListing(c, c.cmo)).to.be.revertedWithCustomError(c.qualityDuties, "NotShortageLister").withArgs(c.cmo.id);
    const otherMah = await onboard(c, Role.Mah, ZHEJIANG, "Hangzhou MAH");
    await expect(changeShortageListing(c, otherMah)).to.be.revertedWithCustomError(c.products, "NotProductMah").withArgs(c.productId, otherMah.id);
    await expect(changeShortageListing(c, c.regulator, true, ZeroHash))
      .to.be.revertedWithCustomError(c.products, "UnknownProduct")
      .withArgs(ZeroHash);
    await expect(changeShortageListing(c, c.regulator, false))
      .to.be.revertedWithCustomError(c.qualityDuties, "ShortageListingUnchanged")
      .withArgs(c.productId, false);
    await changeShortageListing(c, c.regulator);
    await expect(changeShortageListing(c, c.mah))
      .to.be.revertedWithCustomError(c.qualityDuties, "ShortageListingUnchanged")
      .withArgs(c.productId, true);
    await changeShortageListing(c, c.mah, false);
    expect(await c.qualityDuties.isShortageListed(c.productId)).to.equal(false);
  });
});

describe("QualityDuties: retained samples approved by the MAH", () => {
  async function sterileBatch() {
    const c = await deployConsortium();
    await classifyProduct(c, RiskClass.Sterile);
    const batchId = await recordBatch(c, "RS-1");
    await referenceSterileRecords(c, batchId);
    await releaseFromFactory(c, batchId);
    return { ...c, batchId };
  }

  it("releaseToMarket_revertsForASterileBatchUntilTheMahApprovedItsRetainedSamples", async () => {
    const c = await loadFixture(sterileBatch);
    await expect(releaseToMarket(c, c.batchId)).to.be.revertedWithCustomError(c.qualityDuties, "RetainedSamplesNotApproved").withArgs(c.batchId);
    await recordRetainedSamples(c, c.batchId);
    await expect(releaseToMarket(c, c.batchId)).to.be.revertedWithCustomError(c.qualityDuties, "RetainedSamplesNotApproved").withArgs(c.batchId);
    await approveRetainedSamples(c, c.batchId);
    expect(await c.qualityDuties.retainedSamples(c.batchId)).to.deep.equal([true, true]);
    await releaseToMarket(c, c.batchId);
    expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.MarketReleased);
  });

  it("a batch of a product without a sterile class is released without retained samples", async () => {
    const c = await loadFixture(deployConsortium);
    const batchId = await recordBatch(c, "RS-PLAIN");
    await releaseFromFactory(c, batchId);
    await releaseToMarket(c, batchId);
  });

  it("recordRetainedSamples_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(sterileBatch);
    const { expiresAt } = await c.batches.batch(c.batchId);
    const requiredUntil = Number(expiresAt) + 365 * 86_400;
    await expect(recordRetainedSamples(c, c.batchId, { retainUntil: requiredUntil - 1 }))
      .to.be.revertedWithCustomError(c.qualityDuties, "RetentionTooShort")
      .withArgs(c.batchId, requiredUntil - 1, requiredUntil);
    await expect(recordRetainedSamples(c, c.batchId, { quantity: 0 })).to.be.revertedWithCustomError(c.qualityDuties, "InvalidRetainedSamples");
    await expect(recordRetainedSamples(c, c.batchId, { location: "" })).to.be.revertedWithCustomError(c.qualityDuties, "InvalidRetainedSamples");
    const otherCmo = await onboard(c, Role.Cmo, ZHEJIANG, "Ningbo CMO");
    await expect(recordRetainedSamples(c, c.batchId, { cmoId: otherCmo.id }, otherCmo))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotBatchCmo")
      .withArgs(c.batchId, otherCmo.id);
    await expect(recordRetainedSamples(c, c.batchId, { cmoId: c.mah.id }, c.mah))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.mah.id, Role.Mah, Role.Cmo);
    const unknown = ZeroHash.replace(/0$/, "1");
    await expect(
      c
        .sign("QualityDuties", "RetainedSamples", c.cmo.key, {
          cmoId: c.cmo.id,
          batchId: unknown,
          quantity: 1,
          retainUntil: requiredUntil,
          location: "x",
        })
        .then(({ message, signature }) => c.qualityDuties.recordRetainedSamples(message as never, signature)),
    )
      .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
      .withArgs(unknown);
    expect(await c.qualityDuties.retainedSamples(c.batchId)).to.deep.equal([false, false]);
    await recordRetainedSamples(c, c.batchId);
    await expect(recordRetainedSamples(c, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "RetainedSamplesAlreadyRecorded")
      .withArgs(c.batchId);
  });

  it("approveRetainedSamples_revertsOnEveryBrokenRule", async () => {
    const c = await loadFixture(sterileBatch);
    await expect(approveRetainedSamples(c, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "RetainedSamplesNotRecorded")
      .withArgs(c.batchId);
    await recordRetainedSamples(c, c.batchId);
    const otherMah = await onboard(c, Role.Mah, ZHEJIANG, "Hangzhou MAH");
    await expect(approveRetainedSamples(c, c.batchId, otherMah))
      .to.be.revertedWithCustomError(c.qualityDuties, "NotBatchMah")
      .withArgs(c.batchId, otherMah.id);
    await expect(approveRetainedSamples(c, c.batchId, c.cmo))
      .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
      .withArgs(c.cmo.id, Role.Cmo, Role.Mah);
    await approveRetainedSamples(c, c.batchId);
    await expect(approveRetainedSamples(c, c.batchId))
      .to.be.revertedWithCustomError(c.qualityDuties, "RetainedSamplesAlreadyApproved")
      .withArgs(c.batchId);
  });
});
