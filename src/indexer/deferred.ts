import type { Kysely } from "kysely";
import type { LedgerContract } from "../ledger";
import { newFactsVersion, payloadOf } from "../store";
import type { Database } from "../store";
import type { Deployment, LedgerEvent } from "./decode";
import type { PreparePool } from "./prepare-pool";
import type { ProblemReport } from "./ranges";
import { signaturesMatch } from "./verify";

/** Pending rows verified per pass: one transaction each. */
const CHUNK = 4_000;

export const DEFERRED_MISMATCH = "deferred verification: a signature does not recover to the signer the event names";

type PendingRow = Pick<
  Database["ledger_events"],
  "block_number" | "log_index" | "block_hash" | "tx_hash" | "contract" | "address" | "name" | "payload" | "problem" | "batch_id"
>;

/**
 * Deferred verification (`--verify deferred`): rows were applied at once, their keys judged but their signatures
 * not recovered, and stored "pending". This recovers their signers in the pool's workers, behind the head, and marks
 * each row verified or signature_mismatch (the alert engine raises an alert for the latter, and scans withhold
 * GENUINE from its batch). The keys were judged when the row was applied, against the read model at that point of
 * the chain, as full verification judges them. Returns what failed.
 */
export async function verifyPending(
  db: Kysely<Database>,
  deployment: Deployment,
  pool: PreparePool,
): Promise<{ verified: number; failed: ProblemReport[] }> {
  const outcome = { verified: 0, failed: [] as ProblemReport[] };
  for (;;) {
    const rows: PendingRow[] = await db
      .selectFrom("ledger_events")
      .select(["block_number", "log_index", "block_hash", "tx_hash", "contract", "address", "name", "payload", "problem", "batch_id"])
      .where("verification", "=", "pending")
      .orderBy("block_number")
      .orderBy("log_index")
      .limit(CHUNK)
      .execute();
    if (rows.length === 0) return outcome;
    const events = rows.map(eventOf);
    const recovered = await pool.recover(events, deployment.chainId);
    const failed = rows.filter((_, i) => !signaturesMatch(events[i]!, recovered[i]!));
    await db.transaction().execute(async (trx) => {
      for (const row of failed) {
        await trx
          .updateTable("ledger_events")
          .set({ verification: "signature_mismatch", problem: row.problem ?? DEFERRED_MISMATCH })
          .where("block_number", "=", row.block_number)
          .where("log_index", "=", row.log_index)
          .execute();
      }
      // Every other row of the chunk's span was pending and checked out: rows are only ever added after it.
      const [first, last] = [rows[0]!, rows[rows.length - 1]!];
      await trx
        .updateTable("ledger_events")
        .set({ verification: "verified" })
        .where("verification", "=", "pending")
        .where((eb) =>
          eb.and([
            eb.or([
              eb("block_number", ">", first.block_number),
              eb.and([eb("block_number", "=", first.block_number), eb("log_index", ">=", first.log_index)]),
            ]),
            eb.or([
              eb("block_number", "<", last.block_number),
              eb.and([eb("block_number", "=", last.block_number), eb("log_index", "<=", last.log_index)]),
            ]),
          ]),
        )
        .execute();
      // The batches' unverified attestations changed: scans' cached facts of them are stale (src/store/scan-reads.ts).
      const batches = [...new Set(rows.flatMap((row) => (row.batch_id === null ? [] : [row.batch_id])))];
      if (batches.length > 0) await trx.updateTable("batches").set({ facts_version: newFactsVersion() }).where("id", "in", batches).execute();
    });
    outcome.verified += rows.length - failed.length;
    for (const row of failed) {
      outcome.failed.push({
        blockNumber: row.block_number,
        logIndex: row.log_index,
        name: row.name,
        verification: "signature_mismatch",
        problem: row.problem ?? DEFERRED_MISMATCH,
      });
    }
  }
}

/** The event as it was decoded when applied: its stored arguments are the decoder's. */
function eventOf(row: PendingRow): LedgerEvent {
  return {
    blockNumber: row.block_number,
    logIndex: row.log_index,
    blockHash: row.block_hash,
    txHash: row.tx_hash,
    contract: row.contract as LedgerContract,
    address: row.address,
    name: row.name,
    args: payloadOf(row),
  };
}
