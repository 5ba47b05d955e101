import type { AgreementKindName, BatchStateName, DeviationKindName, DeviationStatusName, HoldStatusName, RecallStatusName } from "./vocabulary";

/**
 * What an MAH's quality authorized person checks before signing a batch's market release, each a gate that is
 * green or not. The contract decides for itself (BatchLedger.releaseToMarket); these gates show the same rules
 * ahead of signing, plus what the contract does not check at release (the quality agreement still in force).
 */
export const RELEASE_GATES = ["factoryRelease", "deviations", "agreement", "hold", "recall", "expiry"] as const;
export type ReleaseGateName = (typeof RELEASE_GATES)[number];

export type ReleaseFacts = {
  state: BatchStateName;
  recallStatus: RecallStatusName;
  holdStatus: HoldStatusName;
  expiresAt: number;
  factoryRelease: { certificateHash: string; at: number } | null;
  deviations: Array<{ kind: DeviationKindName; status: DeviationStatusName }>;
  agreement: { kind: AgreementKindName; validFrom: number; validUntil: number; revoked: boolean } | null;
};

export type ReleaseGate = { gate: ReleaseGateName; passed: boolean };

/** Each gate at `now` (unix seconds), in the order a reviewer reads them; market release waits for all green. */
export function releaseGates(facts: ReleaseFacts, now: number): ReleaseGate[] {
  const { agreement } = facts;
  const passed: Record<ReleaseGateName, boolean> = {
    // A batch already released passed this gate when it was released.
    factoryRelease: facts.factoryRelease !== null && facts.state !== "MANUFACTURED",
    deviations: facts.deviations.every((deviation) => deviation.status !== "OPEN"),
    agreement: agreement !== null && !agreement.revoked && agreement.validFrom <= now && now <= agreement.validUntil,
    hold: facts.holdStatus !== "ON_HOLD",
    recall: facts.recallStatus === "NONE",
    expiry: now <= facts.expiresAt,
  };
  return RELEASE_GATES.map((gate) => ({ gate, passed: passed[gate] }));
}

/** Whether the market release can be signed now: every gate green and the batch not yet on the market. */
export function releasable(facts: ReleaseFacts, now: number): boolean {
  return facts.state === "FACTORY_RELEASED" && releaseGates(facts, now).every((gate) => gate.passed);
}
