/**
 * What a batch's expiry means, in one place for every layer (contract inputs, CLI, demo, scan, EPCIS, web answers).
 *
 * The ledger's parties keep China Standard Time (UTC+8, no daylight saving). A batch's `expiresAt` (unix seconds)
 * is the LAST second the batch may be released to the market or dispensed: the contracts refuse those steps
 * once the block time is past it. An expiry given as a date only (2027-12-31, or a pack's GS1 (17) 271231) means the end of
 * that day in China, 2027-12-31T23:59:59+08:00, as GS1 AI (17) does; a (17) day "00" means the last day of its
 * month (GS1 General Specifications 3.4.7), which the code parser resolves before the date reaches this module.
 */

import { CHINA_OFFSET, CHINA_OFFSET_SECONDS, chinaDate, chinaTime } from "./china-time";

const DAY_SECONDS = 86_400;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date YYYY-MM-DD (2027-02-30 is not one), or undefined. */
function calendarDay(date: string): number | undefined {
  const match = ISO_DATE.exec(date);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(year, month - 1, day);
  return new Date(ms).toISOString().slice(0, 10) === date ? ms / 1000 : undefined;
}

/**
 * Answers of a pure function of one argument, remembered: every scan checks its pack's printed date and describes its
 * batch's expiry, each a Date and its ISO text (about 2 µs of a scan), over a few distinct values. Forgotten wholesale
 * past `limit` values, so no input can grow it without bound.
 */
function remembered<In, Out>(compute: (input: In) => Out, limit = 10_000): (input: In) => Out {
  const answers = new Map<In, Out>();
  return (input) => {
    let answer = answers.get(input);
    if (answer === undefined) {
      answer = compute(input);
      if (answers.size >= limit) answers.clear();
      answers.set(input, answer);
    }
    return answer;
  };
}

/** The expiry moment of a date-only expiry (YYYY-MM-DD): 23:59:59 China time that day. Throws on a non-date. */
export const endOfChinaDay = remembered((date: string): number => {
  const midnightUtc = calendarDay(date);
  if (midnightUtc === undefined) throw new RangeError(`${JSON.stringify(date)} is not a calendar date YYYY-MM-DD`);
  return midnightUtc - CHINA_OFFSET_SECONDS + DAY_SECONDS - 1;
});

/** Whether `expiresAt` is the end of a China day, i.e. a date-only expiry such as packs print. */
export function isEndOfChinaDay(expiresAt: number): boolean {
  return (expiresAt + CHINA_OFFSET_SECONDS + 1) % DAY_SECONDS === 0;
}

/** Whether a batch expiring at `expiresAt` has expired at `now`: only after its last second. */
export function isExpired(expiresAt: number, now: number): boolean {
  return now > expiresAt;
}

/** The date a pack of a batch expiring at `expiresAt` shows (its GS1 (17), EPCIS itemExpirationDate): its China day. */
export function expiryDate(expiresAt: number): string {
  return chinaDate(expiresAt);
}

/** An expiry in words: its date when it is the end of a China day (as printed), otherwise its exact moment. */
export const describeExpiry = remembered((expiresAt: number): string => (isEndOfChinaDay(expiresAt) ? expiryDate(expiresAt) : chinaTime(expiresAt)));

/**
 * An ISO 8601 date-time (2027-12-31T18:00, read in China time unless it names its offset or Z) as unix seconds, or
 * undefined when it is not one.
 */
export function parseChinaDateTime(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text)) return undefined;
  const ms = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}${CHINA_OFFSET}`);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/**
 * An expiry as typed: a date (2027-12-31: the end of that day, China time), an ISO 8601 date-time, or unix
 * seconds. Undefined when it is none of these.
 */
export function parseExpiry(text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) return Number(text);
  if (ISO_DATE.test(text)) return calendarDay(text) === undefined ? undefined : endOfChinaDay(text);
  return parseChinaDateTime(text);
}

/**
 * Why a pack's printed expiry (its (17) as a date) disagrees with the batch's `expiresAt`, or undefined when the
 * pack expires exactly when the batch does.
 */
export function printedExpiryMismatch(printedDate: string, expiresAt: number): string | undefined {
  if (endOfChinaDay(printedDate) === expiresAt) return undefined;
  return `the pack shows expiry ${printedDate} (end of that day, China time), but the batch expires ${describeExpiry(expiresAt)}`;
}
