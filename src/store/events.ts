import type { EventArgs } from "../ledger";
import type { LedgerEventTable } from "./schema";

/**
 * A stored ledger event's decoded arguments: indexed ids, the attested struct's fields, signer(s) and
 * signature(s), integers beyond 2^53 - 1 as decimal strings (as the indexer decoded them).
 */
export function payloadOf(row: Pick<LedgerEventTable, "payload">): EventArgs {
  return JSON.parse(row.payload) as EventArgs;
}
