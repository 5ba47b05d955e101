import type { Verification } from "../store";
import { attestationOf, counterpartyAttestationOf, isUndecodable } from "./decode";
import type { EventAttestation, LedgerEvent, UndecodableLog } from "./decode";
import type { ReadModelWindow } from "./read-model";
import { jobsRecoverable, recoverJobs, recoverReference, recoverSigner, signerOf, SignatureJobs } from "./signatures";
import type { AttestationToVerify } from "./signatures";

/** What re-verifying an event's signature(s) found, and whose key signed it. */
export type VerificationResult = {
  verification: Verification;
  signer: string | null;
  signerOrganizationId: number | null;
};

/** The address each signature of the event recovers to: pure cryptography, done before the range is applied. */
export type RecoveredSigners = (string | null)[];

/** Recovers the signer of each attestation the event carries, off-chain, in the contract's EIP-712 domain. */
export function recoverSigners(event: LedgerEvent, chainId: number): RecoveredSigners {
  return attestationsOf(event).map((attestation) => recoverSigner(toVerify(event, attestation, BigInt(chainId)), attestation.signature));
}

function toVerify(event: LedgerEvent, attestation: EventAttestation, chainId: bigint): AttestationToVerify {
  return { contract: event.contract, chainId, verifyingContract: event.address, type: attestation.type, message: attestation.message };
}

/** recoverSigners for every event of a range (none for an undecodable log), with native/'s batch where it loaded. */
export function recoverAll(events: (LedgerEvent | UndecodableLog)[], chainId: number): RecoveredSigners[] {
  if (!jobsRecoverable()) return events.map((event) => (isUndecodable(event) ? [] : recoverSigners(event, chainId)));
  const plan = planRecovery(events, chainId);
  return plan.finish(recoverJobs(plan.jobs.bytes(), plan.jobs.count));
}

/**
 * A range's signatures as jobs for native/'s batch recovery (wherever they run: the preparation pool hands them to
 * its workers), and how the jobs' results give each event's recovered signers, exactly as recoverSigners would: the
 * few signatures the fast path does not take are recovered by the reference here and now. Needs jobsRecoverable().
 */
export type RecoveryPlan = { jobs: SignatureJobs; finish(results: Uint8Array): RecoveredSigners[] };

export function planRecovery(events: (LedgerEvent | UndecodableLog)[], chainId: number): RecoveryPlan {
  const jobs = new SignatureJobs();
  const chain = BigInt(chainId);
  // Per event, per attestation: the index of its job, or the signer the reference recovered.
  const slots = events.map((event) =>
    isUndecodable(event)
      ? []
      : attestationsOf(event).map((attestation): number | string | null => {
          const toRecover = toVerify(event, attestation, chain);
          try {
            if (jobs.add(toRecover, attestation.signature)) return jobs.count - 1;
          } catch {
            return null;
          }
          return recoverReference(toRecover, attestation.signature);
        }),
  );
  return { jobs, finish: (results) => slots.map((slot) => slot.map((s) => (typeof s === "number" ? signerOf(results, s) : s))) };
}

/**
 * Judges an event's signatures against the signing keys the read model holds at that point of the chain: the
 * signature must recover to the signer the event names, and that key must be an unrevoked key of the organization
 * the attestation speaks for. Without `recovered` (deferred verification) the keys are judged now and the
 * signatures later: an event whose keys pass is "pending" until its signers are recovered (deferred.ts).
 */
export function judgeSignatures(event: LedgerEvent, recovered: RecoveredSigners | undefined, window: ReadModelWindow): VerificationResult {
  const attestations = attestationsOf(event);
  if (attestations.length === 0) return { verification: "bootstrap", signer: null, signerOrganizationId: null };
  let verification: Verification = "verified";
  attestations.forEach((attestation, i) => {
    const found = judgeOne(attestation, recovered ? (recovered[i] ?? null) : attestation.signer, window);
    if (verification === "verified") verification = found;
  });
  const signer = attestations[0]!.signer;
  const key = window.signingKeys.get(signer);
  return {
    verification: !recovered && verification === "verified" ? "pending" : verification,
    signer,
    signerOrganizationId: key?.organization_id ?? null,
  };
}

/** Whether every signature of the event recovers to the signer the event names. */
export function signaturesMatch(event: LedgerEvent, recovered: RecoveredSigners): boolean {
  return attestationsOf(event).every((attestation, i) => recovered[i] === attestation.signer);
}

/** The signing keys an event's verification needs from the read model. */
export function signersOf(event: LedgerEvent): string[] {
  return attestationsOf(event).map((attestation) => attestation.signer);
}

function judgeOne(attestation: EventAttestation, recovered: string | null, window: ReadModelWindow): Verification {
  if (recovered === null || recovered !== attestation.signer) return "signature_mismatch";
  const key = window.signingKeys.get(attestation.signer);
  if (!key) return "unknown_key";
  if (key.organization_id !== attestation.organizationId) return "key_not_of_organization";
  if (key.revoked) return "revoked_key";
  return "verified";
}

function attestationsOf(event: LedgerEvent): EventAttestation[] {
  return [attestationOf(event), counterpartyAttestationOf(event)].filter((a): a is EventAttestation => !!a);
}
