/** The ledger's parties keep China Standard Time (UTC+8, no daylight saving). */
export const CHINA_OFFSET = "+08:00";
export const CHINA_OFFSET_SECONDS = 8 * 3600;

/** `seconds` (unix) as an ISO 8601 time in China Standard Time: 2024-05-01T10:00:00.000+08:00. */
export function chinaTime(seconds: number): string {
  return new Date((seconds + CHINA_OFFSET_SECONDS) * 1000).toISOString().replace("Z", CHINA_OFFSET);
}

/** The calendar date in China of `seconds` (unix): 2024-05-01. */
export function chinaDate(seconds: number): string {
  return chinaTime(seconds).slice(0, 10);
}
