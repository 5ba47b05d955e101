import { z } from "zod";
import { badInput } from "../ledger/errors";
import { wholeNumber } from "./schemas";
import type { ChainPosition } from "../store/provenance-reads";

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

export const pageQuery = {
  limit: wholeNumber(1, MAX_PAGE)
    .default(DEFAULT_PAGE)
    .meta({ description: `page size (1-${MAX_PAGE})` }),
  cursor: z.string().max(500).optional().meta({ description: "the `nextCursor` of the previous page" }),
};

/** A position in a list ordered by (time descending, id): opaque to clients. */
export type Cursor = { at: number; id: string };

export function encodeCursor(cursor: Cursor) {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString("base64url");
}

export function decodeCursor(text: string | undefined): Cursor | undefined {
  if (text === undefined) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(text, "base64url").toString()) as unknown[];
    // Only what `encodeCursor` writes: a time in whole seconds and a row id (a 32-byte hex id). Anything else would
    // reach the database as a fraction or a NUL byte that PostgreSQL refuses for a bigint or text column.
    if (Number.isSafeInteger(at) && typeof id === "string" && /^0x[0-9a-f]{64}$/.test(id)) return { at: at as number, id };
  } catch {
    // answered below
  }
  throw badInput("INVALID_CURSOR", "the cursor is not one this API returned", "cursor");
}

/** Takes one row more than the page to know whether another page follows. */
export function page<T>(rows: T[], limit: number, cursorOf: (row: T) => Cursor) {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(cursorOf(last)) : null };
}

/** A position in chain order (block, log index): where a page of ledger events ends. Opaque to clients. */
export type ChainCursor = ChainPosition;

export function encodeChainCursor(cursor: ChainCursor) {
  return Buffer.from(JSON.stringify([cursor.block, cursor.logIndex])).toString("base64url");
}

export function decodeChainCursor(text: string | undefined): ChainCursor | undefined {
  if (text === undefined) return undefined;
  try {
    const [block, logIndex] = JSON.parse(Buffer.from(text, "base64url").toString()) as unknown[];
    if (isPosition(block) && isPosition(logIndex)) return { block, logIndex };
  } catch {
    // answered below
  }
  throw badInput("INVALID_CURSOR", "the cursor is not one this API returned", "cursor");
}

const isPosition = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
