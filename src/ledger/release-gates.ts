import type { AgreementKindName, BatchStateName, DeviationKindName, DeviationStatusName, HoldStatusName, RecallStatusName } from "./vocabulary";
import { PersonRole } from "./vocabulary";

/**
 * What an MAH's quality authorized person checks before signing a batch's market release, each a gate that is
 * green or not. The contract decides for itself (BatchLedger.releaseToMarket, QualityDuties.checkFactoryRelease and
 * checkMarketRelease, the registry's attester check); these gates show the same rules ahead of signing, plus what
 * the contract does not check at release (the quality agreement still in force). Where the read model cannot tell
 * exactly what the contract will decide, a gate errs red: the page is never green for a release the contract refuses.
 */
export const RELEASE_GATES = [
  "factoryRelease",
  "sterileRecords",
  "testCertificate",
  "retainedSamples",
  "deviations",
  "agreement",
  "hold",
  "recall",
  "expiry",
  "licence",
  "qualifiedPerson",
] as const;
export type ReleaseGateName = (typeof RELEASE_GATES)[number];

export type ReleaseFacts = {
  state: BatchStateName;
  recallStatus: RecallStatusName;
  holdStatus: HoldStatusName;
  expiresAt: number;
  factoryRelease: { certificateHash: string; at: number } | null;
  deviations: Array<{ kind: DeviationKindName; status: DeviationStatusName }>;
  agreement: { kind: AgreementKindName; validFrom: number; validUntil: number; revoked: boolean } | null;
  /**
   * The batch's quality duties (QualityDuties): sterile records for a sterile, TCM-injection or vaccine product and
   * a passing contract laboratory certificate where the agreement names one (both checked at factory release), the
   * retained samples of a sterile-class batch approved by its MAH (checked at market release), and the market release signed by a current quality authorized person where the product had one named when the batch
   * was recorded.
   */
  duties: {
    sterileRecordsRequired: boolean;
    sterileRecorded: boolean;
    certificateRequired: boolean;
    /** The laboratory's verdict; null while it issued none. */
    certificatePassed: boolean | null;
    /** Whether the MAH approved the batch's retained samples (QualityDuties' RetainedSamplesApproval). */
    retainedSamplesApproved: boolean;
    qualifiedPersonSigns: boolean;
    /** Whether the key that would sign is a current quality authorized person of the product. */
    signerIsQualifiedPerson: boolean;
  };
  /** The MAH as the registry's attester check sees it: active, and its licence's end (unix seconds) if recorded. */
  mah: { active: boolean; licenceValidUntil: number | null };
};

export type ReleaseGate = { gate: ReleaseGateName; passed: boolean };

/** Each gate at `now` (unix seconds), in the order a reviewer reads them; market release waits for all green. */
export function releaseGates(facts: ReleaseFacts, now: number): ReleaseGate[] {
  const { agreement, duties } = facts;
  const pastFactory = facts.factoryRelease !== null && facts.state !== "MANUFACTURED";
  const passed: Record<ReleaseGateName, boolean> = {
    // A batch already released passed this gate when it was released.
    factoryRelease: facts.factoryRelease !== null && facts.state !== "MANUFACTURED",
    // Both are checked at factory release: a batch past it passed them.
    sterileRecords: pastFactory || !duties.sterileRecordsRequired || duties.sterileRecorded,
    testCertificate: pastFactory || !duties.certificateRequired || duties.certificatePassed === true,
    // QualityDuties.checkMarketRelease: a sterile-class batch goes to market only once its retained samples are approved.
    retainedSamples: !duties.sterileRecordsRequired || duties.retainedSamplesApproved,
    deviations: facts.deviations.every((deviation) => deviation.status !== "OPEN"),
    agreement: agreement !== null && !agreement.revoked && agreement.validFrom <= now && now <= agreement.validUntil,
    hold: facts.holdStatus !== "ON_HOLD",
    recall: facts.recallStatus === "NONE",
    expiry: now <= facts.expiresAt,
    // ConsortiumRegistry refuses any attestation of a suspended organization or one whose licence has ended.
    licence: facts.mah.active && (facts.mah.licenceValidUntil === null || now < facts.mah.licenceValidUntil),
    qualifiedPerson: !duties.qualifiedPersonSigns || duties.signerIsQualifiedPerson,
  };
  return RELEASE_GATES.map((gate) => ({ gate, passed: passed[gate] }));
}

/** Whether the market release can be signed now: every gate green and the batch not yet on the market. */
export function releasable(facts: ReleaseFacts, now: number): boolean {
  return facts.state === "FACTORY_RELEASED" && releaseGates(facts, now).every((gate) => gate.passed);
}

/** The release review's quality duties (GET /v1/batches/{id}/release-review) that say who signs the market release. */
export type ReleaseReviewDuties = { qualifiedPersonSigns: boolean; qualifiedPersons: readonly { key: string; name: string }[] };

/**
 * What a market release signed by `key` states as its signer (QualityDuties.checkMarketRelease, BatchLedger): where
 * the batch's product named a QP, that key's appointed name and role; otherwise the MAH's own key, no person named.
 */
export function releaseSigner(duties: ReleaseReviewDuties, key: string): { signerName: string; signerRole: number } {
  const appointed = duties.qualifiedPersonSigns ? duties.qualifiedPersons.find((p) => p.key.toLowerCase() === key.toLowerCase()) : undefined;
  return appointed ? { signerName: appointed.name, signerRole: PersonRole.QualifiedPerson } : { signerName: "", signerRole: PersonRole.Organization };
}
