import { CHINA_OFFSET_SECONDS } from "./china-time";

/**
 * The MAH's quarterly quality review (QualityDuties.fileQualityReview): one per product per calendar quarter, in
 * China time. A quarter's review is due a configured time after the quarter ends (the alerts' qualityReviewDueSeconds).
 */
export type ReviewQuarter = { year: number; quarter: number; startsAt: number; endsAt: number };

/** The calendar quarter (China time) that `year`/`quarter` names: its first second and the first second after it. */
export function reviewQuarter(year: number, quarter: number): ReviewQuarter {
  const start = (y: number, q: number) => Date.UTC(y, (q - 1) * 3, 1) / 1000 - CHINA_OFFSET_SECONDS;
  return { year, quarter, startsAt: start(year, quarter), endsAt: quarter === 4 ? start(year + 1, 1) : start(year, quarter + 1) };
}

/** The quarter (China time) containing `seconds`. */
export function quarterAt(seconds: number): ReviewQuarter {
  const date = new Date((seconds + CHINA_OFFSET_SECONDS) * 1000);
  return reviewQuarter(date.getUTCFullYear(), Math.floor(date.getUTCMonth() / 3) + 1);
}

/** The quarter before `quarter`. */
export function previousQuarter({ year, quarter }: Pick<ReviewQuarter, "year" | "quarter">): ReviewQuarter {
  return quarter === 1 ? reviewQuarter(year - 1, 4) : reviewQuarter(year, quarter - 1);
}

/** "2026 Q3", as reviews are named. */
export function quarterLabel({ year, quarter }: Pick<ReviewQuarter, "year" | "quarter">): string {
  return `${year} Q${quarter}`;
}
