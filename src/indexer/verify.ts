import type { Verification } from "../store";
import { attestationOf, counterpartyAttestationOf, isUndecodable } from "./decode";
import type { EventAttestation, LedgerEvent, UndecodableLog } from "./decode";
import type { ReadModelWindow } from "./read-model";
import { recoverSigner } from "./signatures";

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
  return attestationsOf(event).map((attestation) =>
    recoverSigner(
      { contract: event.contract, chainId: BigInt(chainId), verifyingContract: event.address, type: attestation.type, message: attestation.message },
      attestation.signature,
    ),
  );
}

/** recoverSigners for every event of a range (none for an undecodable log). */
export function recoverAll(events: (LedgerEvent | UndecodableLog)[], chainId: number): RecoveredSigners[] {
  return events.map((event) => (isUndecodable(event) ? [] : recoverSigners(event, chainId)));
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
