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
  "REJECTED",
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

/**
 * A verdict and why, in English (`reason`, what the CLI prints) and in Chinese (`reasonZh`, what the scan page shows
 * in Chinese); a verdict without Chinese words yet is shown with its English reason.
 */
export type Judgement = { verdict: Verdict; reason: string; reasonZh?: string };

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
  reasonZh: `${productName}（${productCode}）没有哪个批次含有这个追溯码：可能是假药${typed ? "；如果是手工输入的，请先核对数字" : ""}`,
});

/** A product this ledger does not hold says nothing about the pack: not a counterfeit verdict. */
export const notOnLedger = (productCode: string | null, typed = false): Judgement => ({
  verdict: "NOT_ON_LEDGER",
  reason:
    `this ledger does not hold product ${productCode}; verify the pack with its MAH or the national drug traceability platform` +
    (typed ? " (if the code was typed, check its first 7 digits, the product's code)" : ""),
  reasonZh:
    `本账本未收录产品 ${productCode}；请向上市许可持有人或国家药品追溯协同服务平台核实该盒药` +
    (typed ? "（如果是手工输入的，请核对前 7 位，即产品编码）" : ""),
});

/** An SSCC whose case or pallet no CMO registered: the ledger cannot say what is inside. */
export const UNREGISTERED_CONTAINER: Judgement = {
  verdict: "UNKNOWN_CODE",
  reason: "no case or pallet with this SSCC is registered on this ledger; scan the packs",
  reasonZh: "本账本没有登记这个 SSCC 的箱或托盘：请扫描药盒",
};

/**
 * A pack that is no longer in the supply chain (or is locked in it) must not be sold or dispensed, whatever its
 * batch's state: after a recall or a hold, these outrank everything else a pack could be.
 */
const PACK_STATE_JUDGEMENTS: Partial<Record<PackStateName, Judgement>> = {
  DISPENSED: {
    verdict: "ALREADY_DISPENSED",
    reason: "this pack was already dispensed: a second scan suggests a copied code",
    reasonZh: "这一盒已经售出或调配：再次扫到可能是复制的追溯码",
  },
  STOLEN: {
    verdict: "STOLEN",
    reason: "this pack was reported stolen: do not sell or dispense it; keep it aside and tell its MAH and your regulator",
    reasonZh: "这一盒已报失窃：不得销售或调配；请单独存放，并告知上市许可持有人和监管部门",
  },
  LOCKED: {
    verdict: "LOCKED",
    reason: "this pack is locked as suspect while it is investigated: do not sell or dispense it",
    reasonZh: "这一盒因可疑在调查中被锁定：不得销售或调配",
  },
  DESTROYED: {
    verdict: "DESTROYED",
    reason: "this pack was recorded as destroyed: a pack in hand with this code suggests a copied code or diverted stock; do not sell or dispense it",
    reasonZh: "这一盒已登记销毁：手中有此追溯码的药盒，可能是复制的追溯码或非法回流的药品；不得销售或调配",
  },
  SAMPLE: {
    verdict: "SAMPLE",
    reason: "this pack was taken as a sample: it is not for sale or dispensing",
    reasonZh: "这一盒已作为样品取出：不得销售或调配",
  },
  EXPORTED: {
    verdict: "EXPORTED",
    reason: "this pack was recorded as exported from this market: it is not for sale or dispensing here",
    reasonZh: "这一盒已登记出口至本市场以外：不得在此销售或调配",
  },
};

/**
 * The verdict on a pack of a known batch, most urgent first: a recall outranks everything a pack could otherwise be,
 * and a hold comes right after it (a hold is a recall that may not happen).
 */
export function judgePack(printed: PrintedLabel, facts: PackFacts, now: number): Judgement {
  const { batch } = facts;
  const label = printedMismatch(printed, batch);
  if (label) return { verdict: "UNKNOWN_CODE", reason: `${label.en}: the pack may be counterfeit`, reasonZh: `${label.zh}：可能是假药` };
  if (batch.recallStatus === "OPEN") {
    return {
      verdict: "RECALLED",
      reason: `batch ${batch.batchNumber} is under a level ${batch.recallLevel} recall: quarantine the pack and do not sell it`,
      reasonZh: `批次 ${batch.batchNumber} 正在进行 ${batch.recallLevel} 级召回：隔离这一盒，不得销售`,
    };
  }
  if (batch.recallStatus === "CLOSED") {
    // The recall is over (every unit accounted for), but the batch stays recalled: a pack of it is not for sale.
    return {
      verdict: "RECALLED",
      reason: `batch ${batch.batchNumber} was recalled (level ${batch.recallLevel}, the recall is closed): the pack must not be sold or dispensed; return it for destruction`,
      reasonZh: `批次 ${batch.batchNumber} 已被召回（${batch.recallLevel} 级，召回已结束）：这一盒不得销售或调配，请退回销毁`,
    };
  }
  if (batch.onHold) {
    return {
      verdict: "ON_HOLD",
      reason: `batch ${batch.batchNumber} is on hold: do not sell or dispense the pack; keep it aside awaiting the MAH's decision`,
      reasonZh: `批次 ${batch.batchNumber} 已暂控：不得销售或调配这一盒，请单独存放，等待上市许可持有人决定`,
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
  if (batch.state === "REJECTED") {
    return {
      verdict: "REJECTED",
      reason: `batch ${batch.batchNumber} was refused market release by its MAH and is to be destroyed: the pack must never be sold or dispensed; keep it aside and tell its MAH and your regulator`,
      reasonZh: `批次 ${batch.batchNumber} 已被上市许可持有人拒绝放行、待销毁：这一盒不得销售或调配；请单独存放，并告知上市许可持有人和监管部门`,
    };
  }
  if (isExpired(batch.expiresAt, now)) {
    return {
      verdict: "EXPIRED",
      reason: `batch ${batch.batchNumber} expired: it was valid to the end of ${describeExpiry(batch.expiresAt)}`,
      reasonZh: `批次 ${batch.batchNumber} 已过期：有效期至 ${describeExpiry(batch.expiresAt)}`,
    };
  }
  if (batch.state !== "MARKET_RELEASED")
    return {
      verdict: "NOT_RELEASED",
      reason: `batch ${batch.batchNumber} has not been released to the market by its MAH`,
      reasonZh: `批次 ${batch.batchNumber} 尚未由上市许可持有人放行上市`,
    };
  if (facts.scanner?.expected === false) {
    return {
      verdict: "UNEXPECTED_HOLDER",
      reason: `organization ${facts.scanner.organizationId} neither holds batch ${batch.batchNumber} nor has a shipment of it on the way`,
      reasonZh: `机构 ${facts.scanner.organizationId} 既不持有批次 ${batch.batchNumber}，也没有该批次发往它的在途货物`,
    };
  }
  if (facts.unverifiedAttestations > 0) {
    return {
      verdict: "UNVERIFIED",
      reason: `${facts.unverifiedAttestations} signed ${facts.unverifiedAttestations === 1 ? "attestation" : "attestations"} on the path of batch ${batch.batchNumber} ${facts.unverifiedAttestations === 1 ? "is" : "are"} not verified (pending, or failed verification): do not treat the pack as genuine yet; scan again shortly, and report it if this persists`,
      reasonZh: `批次 ${batch.batchNumber} 流转路径上有 ${facts.unverifiedAttestations} 项签名尚未验证或验证失败：暂不能认定为正品；请稍后重扫，如持续出现请报告`,
    };
  }
  return {
    verdict: "GENUINE",
    reason: `a released pack of batch ${batch.batchNumber}, expiring ${describeExpiry(batch.expiresAt)}`,
    reasonZh: `批次 ${batch.batchNumber} 已放行的一盒，有效期至 ${describeExpiry(batch.expiresAt)}`,
  };
}

/** A batch or expiry printed on the pack that is not the batch's own, in English and Chinese. */
function printedMismatch(printed: PrintedLabel, batch: PackFacts["batch"]): { en: string; zh: string } | undefined {
  if (printed.batch !== undefined && printed.batch !== batch.batchNumber) {
    return {
      en: `the pack says batch ${printed.batch}, but its serial belongs to batch ${batch.batchNumber}`,
      zh: `药盒上印的批号是 ${printed.batch}，但其序列号属于批次 ${batch.batchNumber}`,
    };
  }
  const expiry = printed.expiryDate === undefined ? undefined : printedExpiryMismatch(printed.expiryDate, batch.expiresAt);
  return expiry === undefined
    ? undefined
    : { en: expiry, zh: `药盒上印的有效期是 ${printed.expiryDate}，但该批次有效期至 ${describeExpiry(batch.expiresAt)}` };
}
