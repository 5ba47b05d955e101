import { randomBytes } from "node:crypto";
import type { Transaction } from "kysely";
import { conflict } from "../ledger/errors";
import type { Database, Store } from "../store";

/**
 * A claim not renewed for this long is a crashed (or hung) server's: another may take the batch over, and with it
 * the rows the first wrote. A live claim is renewed with every chunk it writes, a chunk taking well under a second.
 */
export const CLAIM_ABANDONED_AFTER_SECONDS = 120;
/** Rows a taken-over or abandoned registration deletes per transaction, for the same reason it writes in chunks. */
const ROWS_PER_DELETE = 2_000;

export function alreadyRegistered(batchId: string) {
  return conflict("CODES_ALREADY_REGISTERED", `batch ${batchId} already has its codes registered`);
}

/** This server's claim was taken over while it was writing: it must neither write nor delete any more. */
export class ClaimLostError extends Error {
  override name = "ClaimLostError";
  readonly answer = conflict(
    "CODES_REGISTRATION_TAKEN_OVER",
    "this registration stopped writing for too long and another server took the batch over; ask that server's answer, or register again",
  );
}

/**
 * Which server writes a batch's codes, in the shared database (table code_registration_claims). Rows are written a
 * chunk per transaction, so a batch's rows are partly written for a while; the claim says whose they are. Only the
 * claim's holder writes or deletes them, each transaction first renewing the claim, so two servers registering the
 * same batch never delete each other's rows: the second is refused while the first's claim lives, and takes over
 * (deleting the partial rows) only once it was abandoned.
 */
export function registrationClaims(store: Store, clock = () => Math.floor(Date.now() / 1000)) {
  const { db } = store;

  /** Deletes the batch's rows a chunk per transaction, each renewing `claim`. */
  async function deleteRows(batchId: string, renew: (trx: Transaction<Database>) => Promise<void>) {
    for (;;) {
      const deleted = await db.transaction().execute(async (trx) => {
        await renew(trx);
        const keys = await trx.selectFrom("batch_codes").select("canonical_key").where("batch_id", "=", batchId).limit(ROWS_PER_DELETE).execute();
        if (keys.length === 0) return 0;
        await trx
          .deleteFrom("batch_codes")
          .where(
            "canonical_key",
            "in",
            keys.map((row) => row.canonical_key),
          )
          .execute();
        return keys.length;
      });
      if (deleted === 0) return;
    }
  }

  return {
    /**
     * Claims the batch for this server, or takes over a claim abandoned by another (deleting the rows it left);
     * refuses 409 CODES_REGISTRATION_UNDER_WAY while another server's claim is alive.
     */
    async take(batchId: string) {
      const claim = randomBytes(9).toString("base64url");
      const renew = async (trx: Transaction<Database>) => {
        const renewed = await trx
          .updateTable("code_registration_claims")
          .set({ renewed_at: clock() })
          .where("batch_id", "=", batchId)
          .where("claim", "=", claim)
          .executeTakeFirst();
        if (Number(renewed.numUpdatedRows) !== 1) throw new ClaimLostError();
      };
      const takenOver = await db.transaction().execute(async (trx) => {
        const inserted = await trx
          .insertInto("code_registration_claims")
          .values({ batch_id: batchId, claim, renewed_at: clock() })
          .onConflict((c) => c.column("batch_id").doNothing())
          .executeTakeFirst();
        const claimed = Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
        const abandoned =
          !claimed &&
          Number(
            (
              await trx
                .updateTable("code_registration_claims")
                .set({ claim, renewed_at: clock() })
                .where("batch_id", "=", batchId)
                .where("renewed_at", "<", clock() - CLAIM_ABANDONED_AFTER_SECONDS)
                .executeTakeFirst()
            ).numUpdatedRows,
          ) === 1;
        if (!claimed && !abandoned) {
          throw conflict("CODES_REGISTRATION_UNDER_WAY", `another API server is registering the codes of batch ${batchId}; wait for its answer`);
        }
        // Read once the claim is held: a registration that finished gave its claim up in the transaction that
        // recorded it, so its rows are never taken for an abandoned registration's.
        if (await trx.selectFrom("code_trees").select("batch_id").where("batch_id", "=", batchId).executeTakeFirst())
          throw alreadyRegistered(batchId);
        return abandoned;
      });
      if (takenOver) await deleteRows(batchId, renew);
      return {
        /** The claim's token: a transaction renews the claim by updating the row that holds it (see store/code-rows-worker.ts). */
        token: claim,
        /** Runs `write` in a transaction that first renews the claim; throws ClaimLostError if it was taken over. */
        write: (write: (trx: Transaction<Database>) => Promise<unknown>) =>
          db.transaction().execute(async (trx) => {
            await renew(trx);
            await write(trx);
          }),
        /** Runs the last write and gives the claim up, in one transaction. */
        finish: (write: (trx: Transaction<Database>) => Promise<unknown>) =>
          db.transaction().execute(async (trx) => {
            await renew(trx);
            await write(trx);
            await trx.deleteFrom("code_registration_claims").where("batch_id", "=", batchId).where("claim", "=", claim).execute();
          }),
        /** Deletes the rows written so far and gives the claim up (unless it was taken over: then they are not ours). */
        async abandon() {
          try {
            await deleteRows(batchId, renew);
            await db.deleteFrom("code_registration_claims").where("batch_id", "=", batchId).where("claim", "=", claim).execute();
          } catch (error) {
            if (!(error instanceof ClaimLostError)) throw error;
          }
        },
      };
    },
  };
}
