import { AbiCoder, id as hashText, keccak256 } from "ethers";
import { InspectionGrade, InspectionScope } from "../../src/ledger";
import { DAY, registerProduct, signQualityAgreement } from "./fixtures";
import type { Consortium, Party } from "./fixtures";

/** Regulators' records on the usual consortium: licences, cross-province agreement review, inspections, sampling. */

export const CROSS_PROVINCE = { awaitingOpinion: 1, awaitingApproval: 2, approved: 3 };

export async function now(c: Consortium) {
  return (await c.relayer.provider!.getBlock("latest"))!.timestamp;
}

export async function recordLicence(c: Consortium, by: Party, organizationId: number, validUntil: number) {
  const { message, signature } = await c.sign("ConsortiumRegistry", "LicenceRecord", by.key, {
    regulatorId: by.id,
    organizationId,
    licenceHash: hashText(`licence of ${organizationId} until ${validUntil}`),
    validUntil,
  });
  return c.registry.recordLicence(message as never, signature);
}

/** A second product of the Jiangsu MAH under a cross-province quality agreement with the Zhejiang CMO, not yet reviewed. */
export async function pendingAgreement(c: Consortium) {
  const productId = await registerProduct(c, c.mah, "06901234567809");
  const agreementId = await signQualityAgreement(c, c.mah, c.cmo, productId, {}, { review: false });
  return { productId, agreementId };
}

export async function inspectionOf(c: Consortium, by: Party, overrides: Record<string, unknown> = {}) {
  return c.sign("SupervisionRecords", "Inspection", by.key, {
    regulatorId: by.id,
    organizationId: c.cmo.id,
    site: "Hangzhou plant, workshop 2 (sterile injectables)",
    scope: InspectionScope.GmpCompliance,
    criticalFindings: 0,
    majorFindings: 1,
    minorFindings: 3,
    grade: InspectionGrade.CompliantWithCorrections,
    inspectedAt: (await now(c)) - DAY,
    documentHash: hashText("inspection report ZJ-2026-001"),
    ...overrides,
  });
}

export async function recordInspection(c: Consortium, by: Party, overrides: Record<string, unknown> = {}) {
  const { message, signature } = await inspectionOf(c, by, overrides);
  await c.supervision.recordInspection(message as never, signature);
  return inspectionIdOf(by, message.nonce);
}

/** keccak256(abi.encode(regulatorId, nonce)), as the contract derives it. */
export function inspectionIdOf(by: Party, nonce: bigint) {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint256"], [by.id, nonce]));
}

export async function recognise(c: Consortium, by: Party, inspectionId: string) {
  const { message, signature } = await c.sign("SupervisionRecords", "InspectionRecognition", by.key, { regulatorId: by.id, inspectionId });
  return c.supervision.recogniseInspection(message as never, signature);
}

export async function sampling(c: Consortium, by: Party, batchId: string, overrides: Record<string, unknown> = {}) {
  const { message, signature } = await c.sign("SupervisionRecords", "SamplingResult", by.key, {
    regulatorId: by.id,
    batchId,
    sampledAtId: c.distributor.id,
    test: "assay (HPLC)",
    passed: false,
    reportHash: hashText("sampling report"),
    ...overrides,
  });
  return c.supervision.recordSampling(message as never, signature);
}
