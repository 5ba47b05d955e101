import { describeExpiry, isExpired, printedExpiryMismatch } from "./expiry";
import type { BatchStateName, PackStateName, RecallLevelName, RecallStatusName } from "./vocabulary";

/**
 * The answer a pharmacist acts on when scanning a pack, and the words that go with it: decided here, from facts
 * the read model holds, with no I/O, so every layer (API, CLI, pages, alerts) means the same by each verdict.
 */
export const VERDICTS = [
  "GENUINE",
  "UNKNOWN_CODE",
  "NOT_ON_LEDGER",
  "NOT_RELEASED",
  "RECALLED",
  "ON_HOLD",
  "EXPIRED",
  "ALREADY_DISPENSED",
  "STOLEN",
  "LOCKED",
  "SUSPECT",
  "DESTROYED",
  "SAMPLE",
  "EXPORTED",
  "UNEXPECTED_HOLDER",
  "UNVERIFIED",
] as const;
export type Verdict = (typeof VERDICTS)[number];

export type Judgement = { verdict: Verdict; reason: string };

/** What the scanned pack says of itself: a GS1 code's printed batch and expiry (AI 10 and 17). */
export type PrintedLabel = { batch?: string; expiryDate?: string };

/** What the ledger holds about the pack's batch, and about the pack. */
export type PackFacts = {
  batch: {
    batchNumber: string;
    expiresAt: number;
    state: BatchStateName;
    recallStatus: RecallStatusName;
    recallLevel: RecallLevelName | null;
    /** Held short of a recall by its MAH, a regulator, or a deviation opened on it once on the market. */
    onHold: boolean;
  };
  /** The pack's own state on the ledger (ACTIVE: in the supply chain). */
  packState: PackStateName;
  /**
   * Attestations on the batch's path (its record, releases, shipments, receipts, dispensings, recalls…) whose
   * signatures the indexer has not verified: pending deferred verification, or failed verification. While there is
   * one, the pack is never called GENUINE.
   */
  unverifiedAttestations: number;
  /** Whether an open suspect-product report names the pack, or its whole batch (AlertCases). */
  suspectReported?: boolean;
  /**
   * For a signed-in scan, the scanning organization and whether it is where the pack should be: a regulator, the
   * batch's MAH, or an organization that holds the batch or has a shipment of it on the way. Absent when anonymous.
   */
  scanner?: { organizationId: number; expected: boolean };
};

/**
 * A serial the ledger does not know, under a product it holds: the counterfeit suspicion. A `typed` code (NMPA
 * codes have no check digit) may just be mistyped, so the reason says where to look first.
 */
export const unknownSerial = (productName: string, productCode: string, typed = false): Judgement => ({
  verdict: "UNKNOWN_CODE",
  reason: `no batch of ${productName} (${productCode}) contains this code: it may be counterfeit${typed ? "; if it was typed, check the digits first" : ""}`,
});

/** A product this ledger does not hold says nothing about the pack: not a counterfeit verdict. */
export const notOnLedger = (productCode: string | null, typed = false): Judgement => ({
  verdict: "NOT_ON_LEDGER",
  reason:
    `this ledger does not hold product ${productCode}; verify the pack with its MAH or the national drug traceability platform` +
    (typed ? " (if the code was typed, check its first 7 digits, the product's code)" : ""),
});

/** An SSCC whose case or pallet no CMO registered: the ledger cannot say what is inside. */
export const UNREGISTERED_CONTAINER: Judgement = {
  verdict: "UNKNOWN_CODE",
  reason: "no case or pallet with this SSCC is registered on this ledger; scan the packs",
};

/**
 * A pack that is no longer in the supply chain (or is locked in it) must not be sold or dispensed, whatever its
 * batch's state: after a recall or a hold, these outrank everything else a pack could be.
 */
const PACK_STATE_JUDGEMENTS: Partial<Record<PackStateName, Judgement>> = {
  DISPENSED: { verdict: "ALREADY_DISPENSED", reason: "this pack was already dispensed: a second scan suggests a copied code" },
  STOLEN: {
    verdict: "STOLEN",
    reason: "this pack was reported stolen: do not sell or dispense it; keep it aside and tell its MAH and your regulator",
  },
  LOCKED: { verdict: "LOCKED", reason: "this pack is locked as suspect while it is investigated: do not sell or dispense it" },
  DESTROYED: {
    verdict: "DESTROYED",
    reason: "this pack was recorded as destroyed: a pack in hand with this code suggests a copied code or diverted stock; do not sell or dispense it",
  },
  SAMPLE: { verdict: "SAMPLE", reason: "this pack was taken as a sample: it is not for sale or dispensing" },
  EXPORTED: { verdict: "EXPORTED", reason: "this pack was recorded as exported from this market: it is not for sale or dispensing here" },
};

/**
 * The verdict on a pack of a known batch, most urgent first: a recall outranks everything a pack could otherwise be,
 * and a hold comes right after it (a hold is a recall that may not happen).
 */
export function judgePack(printed: PrintedLabel, facts: PackFacts, now: number): Judgement {
  const { batch } = facts;
  const label = printedMismatch(printed, batch);
  if (label) return { verdict: "UNKNOWN_CODE", reason: `${label}: the pack may be counterfeit` };
  if (batch.recallStatus !== "NONE") {
    return {
      verdict: "RECALLED",
      reason: `batch ${batch.batchNumber} is under a level ${batch.recallLevel} recall: quarantine the pack and do not sell it`,
    };
  }
  if (batch.onHold) {
    return {
      verdict: "ON_HOLD",
      reason: `batch ${batch.batchNumber} is on hold: do not sell or dispense the pack; keep it aside awaiting the MAH's decision`,
    };
  }
  const packJudgement = PACK_STATE_JUDGEMENTS[facts.packState];
  if (packJudgement) return packJudgement;
  // A report stands until a regulator terminates it, even where the pack's lock was undone or never possible.
  if (facts.suspectReported) {
    return {
      verdict: "SUSPECT",
      reason: `a suspect-product report on ${facts.packState === "ACTIVE" ? "this pack or its batch" : "this pack"} is under investigation: do not sell or dispense it until a regulator terminates the report`,
    };
  }
  if (isExpired(batch.expiresAt, now)) {
    return { verdict: "EXPIRED", reason: `batch ${batch.batchNumber} expired: it was valid to the end of ${describeExpiry(batch.expiresAt)}` };
  }
  if (batch.state !== "MARKET_RELEASED")
    return { verdict: "NOT_RELEASED", reason: `batch ${batch.batchNumber} has not been released to the market by its MAH` };
  if (facts.scanner?.expected === false) {
    return {
      verdict: "UNEXPECTED_HOLDER",
      reason: `organization ${facts.scanner.organizationId} neither holds batch ${batch.batchNumber} nor has a shipment of it on the way`,
    };
  }
  if (facts.unverifiedAttestations > 0) {
    return {
      verdict: "UNVERIFIED",
      reason: `${facts.unverifiedAttestations} signed ${facts.unverifiedAttestations === 1 ? "attestation" : "attestations"} on the path of batch ${batch.batchNumber} ${facts.unverifiedAttestations === 1 ? "is" : "are"} not verified (pending, or failed verification): do not treat the pack as genuine yet; scan again shortly, and report it if this persists`,
    };
  }
  return { verdict: "GENUINE", reason: `a released pack of batch ${batch.batchNumber}, expiring ${describeExpiry(batch.expiresAt)}` };
}

/** A batch or expiry printed on the pack that is not the batch's own. */
function printedMismatch(printed: PrintedLabel, batch: PackFacts["batch"]): string | undefined {
  if (printed.batch !== undefined && printed.batch !== batch.batchNumber) {
    return `the pack says batch ${printed.batch}, but its serial belongs to batch ${batch.batchNumber}`;
  }
  return printed.expiryDate === undefined ? undefined : printedExpiryMismatch(printed.expiryDate, batch.expiresAt);
}
