import { AbiCoder, keccak256, Wallet, id as hashText } from "ethers";
import { AgreementKind, PersonRole, ReleaseTester, RiskLevel, Role } from "../../src/ledger";
import { agreementMessage, onboard, signAgreementBy, signQualityAgreement, ZHEJIANG } from "./fixtures";
import type { Consortium, Party } from "./fixtures";

/** The MAH adds `key` as one of its signing keys, so a person can sign with it for the organization. */
export async function addMahKey(c: Consortium, key = Wallet.createRandom()) {
  const { message, signature } = await c.sign("ConsortiumRegistry", "SigningKeyAddition", c.mah.key, {
    organizationId: c.mah.id,
    signingKey: key.address,
  });
  await c.registry.addSigningKey(message as never, signature);
  return key;
}

export async function signAppointment(c: Consortium, personKey: string, overrides: Record<string, unknown> = {}, by: Party = c.mah) {
  return c.sign("QualityDuties", "PersonAppointment", by.key, {
    mahId: by.id,
    productId: c.productId,
    personKey,
    role: PersonRole.QualifiedPerson,
    name: "王敏 Wang Min",
    ...overrides,
  });
}

/** The MAH names the holder of a new key of its own the product's quality authorized person (or another role). */
export async function appointPerson(c: Consortium, role: number = PersonRole.QualifiedPerson, name = "王敏 Wang Min") {
  const key = await addMahKey(c);
  const { message, signature } = await signAppointment(c, key.address, { role, name });
  await c.qualityDuties.appointPerson(message as never, signature);
  return key;
}

export async function revokePerson(c: Consortium, personKey: string, by: Party = c.mah) {
  const { message, signature } = await c.sign("QualityDuties", "PersonRevocation", by.key, {
    mahId: by.id,
    productId: c.productId,
    personKey,
    reasonHash: hashText("left the company"),
  });
  return c.qualityDuties.revokePerson(message as never, signature);
}

export async function classifyProduct(c: Consortium, riskClass: number, by: Party = c.mah, productId = c.productId) {
  const { message, signature } = await c.sign("QualityDuties", "RiskClassification", by.key, { mahId: by.id, productId, riskClass });
  return c.qualityDuties.classifyProduct(message as never, signature);
}

export async function referenceSterileRecords(c: Consortium, batchId: string, overrides: Record<string, unknown> = {}, by: Party = c.cmo) {
  const { message, signature } = await c.sign("QualityDuties", "SterileRecords", by.key, {
    cmoId: by.id,
    batchId,
    environmentalMonitoringHash: hashText("EM record cleanroom B, shift 1"),
    cleaningRecordHash: hashText("cleaning record line 3"),
    ...overrides,
  });
  return c.qualityDuties.referenceSterileRecords(message as never, signature);
}

/** A contract laboratory onboarded by the regulator, with a testing agreement for the product (or all products). */
export async function contractLaboratory(c: Consortium, productId = c.productId) {
  const laboratory = await onboard(c, Role.Laboratory, ZHEJIANG, "Zhejiang Drug Testing Laboratory");
  const message = await agreementMessage(c, c.mah, laboratory, productId, { kind: AgreementKind.Testing, releaseTester: ReleaseTester.None });
  const signed = await signAgreementBy(c, c.mah, laboratory, message);
  await c.products.signAgreement(signed.message as never, signed.mahSignature, signed.counterpartySignature);
  const testingAgreementId = await c.products.agreementId(c.mah.id, message.nonce as bigint);
  return { laboratory, testingAgreementId };
}

/** Replaces the consortium's quality agreement with one naming a contract laboratory the release tester. */
export async function laboratoryTestedConsortium(c: Consortium) {
  const agreementId = await signQualityAgreement(c, c.mah, c.cmo, c.productId, { releaseTester: ReleaseTester.ContractLaboratory });
  return { ...c, agreementId, ...(await contractLaboratory(c)) };
}

export async function issueCertificate(
  c: Consortium,
  laboratory: Party,
  agreementId: string,
  batchId: string,
  passed = true,
  overrides: Record<string, unknown> = {},
) {
  const { message, signature } = await c.sign("QualityDuties", "TestCertificate", laboratory.key, {
    laboratoryId: laboratory.id,
    agreementId,
    batchId,
    certificateHash: hashText(`certificate of analysis ${batchId}`),
    passed,
    ...overrides,
  });
  return c.qualityDuties.issueTestCertificate(message as never, signature);
}

export async function fileQualityReview(c: Consortium, year: number, quarter: number, overrides: Record<string, unknown> = {}, by: Party = c.mah) {
  const { message, signature } = await c.sign("QualityDuties", "QualityReview", by.key, {
    mahId: by.id,
    productId: c.productId,
    year,
    quarter,
    riskLevel: RiskLevel.Low,
    reviewHash: hashText(`quality review ${year}Q${quarter}`),
    ...overrides,
  });
  return c.qualityDuties.fileQualityReview(message as never, signature);
}

/**
 * The market release signed with `key`, a signing key of the batch's MAH (its QP's, or another), stating the signer
 * as the QP appointed by appointPerson unless `signer` says otherwise.
 */
export async function releaseToMarketAs(
  c: Consortium,
  batchId: string,
  key: Wallet | Party["key"],
  signer: { signerRole?: number; signerName?: string } = {},
) {
  const { message, signature } = await c.sign("BatchLedger", "MarketRelease", key, {
    mahId: c.mah.id,
    batchId,
    decisionHash: hashText("market release decision"),
    signerRole: PersonRole.QualifiedPerson,
    signerName: "王敏 Wang Min",
    ...signer,
  });
  return c.batches.releaseToMarket(message as never, signature);
}

/** Bits of CommunicationTerms.channels: 1 email, 2 phone, 3 portal, 4 meeting. */
export const EMAIL = 1;
export const PORTAL = 3;
export const TERMS_CLAUSE = hashText("质量协议 第 9 条 沟通机制");

export async function agreeCommunicationTerms(c: Consortium, overrides: Record<string, unknown> = {}, by: Party = c.mah) {
  const { message, signature } = await c.sign("QualityDuties", "CommunicationTerms", by.key, {
    mahId: by.id,
    agreementId: c.agreementId,
    channels: (1 << EMAIL) | (1 << PORTAL),
    responseSeconds: 48 * 3600,
    termsHash: TERMS_CLAUSE,
    ...overrides,
  });
  return c.qualityDuties.agreeCommunicationTerms(message as never, signature);
}

/** `by` sends a notice under the consortium's quality agreement; returns the transaction and the notice's id. */
export async function sendNotice(c: Consortium, by: Party, overrides: Record<string, unknown> = {}) {
  const { message, signature } = await c.sign("QualityDuties", "QualityNotice", by.key, {
    senderId: by.id,
    agreementId: c.agreementId,
    kind: 1,
    channel: PORTAL,
    noticeHash: hashText("变更控制 CC-2025-014 更换原料药供应商"),
    ...overrides,
  });
  const tx = c.qualityDuties.sendNotice(message as never, signature);
  return { tx, noticeId: keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint256"], [by.id, message.nonce])) };
}

export async function acknowledgeNotice(c: Consortium, by: Party, noticeId: string) {
  const { message, signature } = await c.sign("QualityDuties", "NoticeAcknowledgement", by.key, {
    recipientId: by.id,
    noticeId,
    responseHash: hashText("已收到，评估中"),
  });
  return c.qualityDuties.acknowledgeNotice(message as never, signature);
}

/** The CMO countersigns the consortium's communication terms (by default the ones agreeCommunicationTerms records). */
export async function countersignCommunicationTerms(c: Consortium, overrides: Record<string, unknown> = {}, by: Party = c.cmo) {
  const { message, signature } = await c.sign("QualityDuties", "TermsCountersignature", by.key, {
    cmoId: by.id,
    agreementId: c.agreementId,
    channels: (1 << EMAIL) | (1 << PORTAL),
    responseSeconds: 48 * 3600,
    termsHash: TERMS_CLAUSE,
    ...overrides,
  });
  return c.qualityDuties.countersignCommunicationTerms(message as never, signature);
}

/** Terms recorded by the MAH and countersigned by the CMO: notices may flow. */
export async function agreeTermsWithCountersignature(c: Consortium) {
  await agreeCommunicationTerms(c);
  await countersignCommunicationTerms(c);
}

export async function changeShortageListing(c: Consortium, by: Party, listed = true, productId = c.productId) {
  const { message, signature } = await c.sign("QualityDuties", "ShortageListing", by.key, {
    organizationId: by.id,
    productId,
    listed,
    basisHash: hashText("国家短缺药品清单 2026"),
  });
  return c.qualityDuties.changeShortageListing(message as never, signature);
}

export async function reportStopProduction(c: Consortium, stopAt: number, by: Party = c.mah, productId = c.productId) {
  const { message, signature } = await c.sign("QualityDuties", "StopProductionReport", by.key, {
    mahId: by.id,
    productId,
    stopAt,
    reportHash: hashText("停产报告 2026-07"),
  });
  return c.qualityDuties.reportStopProduction(message as never, signature);
}

/** The CMO records a batch's retained samples, kept by default a year and a day past the batch's expiry. */
export async function recordRetainedSamples(c: Consortium, batchId: string, overrides: Record<string, unknown> = {}, by: Party = c.cmo) {
  const { expiresAt } = await c.batches.batch(batchId);
  const { message, signature } = await c.sign("QualityDuties", "RetainedSamples", by.key, {
    cmoId: by.id,
    batchId,
    quantity: 12,
    retainUntil: Number(expiresAt) + 366 * 86_400,
    location: "留样室 B-3",
    ...overrides,
  });
  return c.qualityDuties.recordRetainedSamples(message as never, signature);
}

export async function approveRetainedSamples(c: Consortium, batchId: string, by: Party = c.mah) {
  const { message, signature } = await c.sign("QualityDuties", "RetainedSampleApproval", by.key, {
    mahId: by.id,
    batchId,
    approvalHash: hashText(`留样批准 ${batchId}`),
  });
  return c.qualityDuties.approveRetainedSamples(message as never, signature);
}
