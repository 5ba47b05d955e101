import type { Kysely, Transaction } from "kysely";
import type { Database, LedgerEventTable, Verification } from "../store";
import { payloadOf, writeRows } from "../store";
import { READ_MODEL_TABLES } from "../store/migrations";
import { applyEvent, wantRows } from "./apply";
import { attestationOf, isUndecodable } from "./decode";
import type { Deployment, LedgerEvent, UndecodableLog } from "./decode";
import { prepareLogs, preparationReady } from "./prepare";
import type { PreparePool } from "./prepare-pool";
import { createWindow, loadWindow, writeWindow } from "./read-model";
import type { ReadModelWindow } from "./read-model";
import type { BlockInfo, BlockRef, ChainLog } from "./sync";
import { judgeSignatures, signersOf } from "./verify";
import type { RecoveredSigners } from "./verify";

/** A block range fetched from the chain, ready to apply: its logs and the blocks they (and the range end) are in. */
export type FetchedRange = { from: number; to: number; logs: ChainLog[]; blocks: Map<number, BlockInfo>; end: BlockRef };

/**
 * A fetched range decoded and its signers recovered: the work that needs no database, done ahead of the write.
 * Without `recovered` (deferred verification) its events are written "pending" and verified later (deferred.ts).
 */
export type PreparedRange = {
  range: FetchedRange;
  decoded: (LedgerEvent | UndecodableLog)[];
  recovered?: RecoveredSigners[];
};

/** What applying a range produced, for progress and reporting. */
export type AppliedRange = { events: number; problems: ProblemReport[] };
export type ProblemReport = { blockNumber: number; logIndex: number; name: string; verification: Verification; problem: string | null };

export type CheckpointIdentity = { chainId: number; genesisHash: string; deployment: string };

const SYNC_STATE_ID = 1;
/**
 * Event rows are written this many at a time within their range's transaction: all of a range's rows kept until
 * its end were copied by the young-generation collections that applying it triggers, and promoted.
 */
const EVENT_ROWS_PER_WRITE = 500;

/**
 * Decodes, verifies and applies one range, then writes its events, the read-model rows it changed and the
 * checkpoint (block number and hash) in one transaction: a crash leaves either all of it or none.
 */
export async function applyRange(
  db: Kysely<Database>,
  deployment: Deployment,
  identity: CheckpointIdentity,
  range: FetchedRange,
): Promise<AppliedRange> {
  return applyPrepared(db, identity, await prepareRange(deployment, range));
}

/**
 * Decodes a range and, unless `recover` is false (deferred verification), recovers the signer of every attestation
 * it carries; in `pool`'s workers if given.
 */
export async function prepareRange(deployment: Deployment, range: FetchedRange, pool?: PreparePool, recover = true): Promise<PreparedRange> {
  if (pool) return { range, ...(await pool.prepare(range.logs, deployment, recover)) };
  await preparationReady();
  return { range, ...prepareLogs(range.logs, deployment, recover) };
}

/** Judges and applies a prepared range and writes it with the checkpoint, in one transaction. */
export async function applyPrepared(db: Kysely<Database>, identity: CheckpointIdentity, prepared: PreparedRange): Promise<AppliedRange> {
  const { range, decoded, recovered } = prepared;
  const window = createWindow();
  for (const event of decoded) {
    if (isUndecodable(event)) continue;
    wantRows(window, event);
    for (const signer of signersOf(event)) window.signingKeys.want(signer);
  }
  return db.transaction().execute(async (trx) => {
    await loadWindow(window, trx);
    let rows: LedgerEventTable[] = [];
    const problems: ProblemReport[] = [];
    for (let i = 0; i < decoded.length; i++) {
      const event = decoded[i]!;
      const blockTime = range.blocks.get(event.blockNumber)?.timestamp ?? 0;
      const row = isUndecodable(event) ? undecodableRow(event, blockTime) : verifiedRow(event, recovered?.[i], window, blockTime);
      rows.push(row);
      if (row.verification !== "verified" && row.verification !== "bootstrap" && row.verification !== "pending") problems.push(reportOf(row));
      else if (row.problem) problems.push(reportOf(row));
      if (rows.length === EVENT_ROWS_PER_WRITE || i === decoded.length - 1) {
        await writeRows(db, trx, "ledger_events", rows);
        rows = [];
      }
    }
    await writeWindow(window, trx, db);
    await recordBlocks(db, trx, range);
    await saveCheckpoint(trx, identity, range.end);
    return { events: decoded.length, problems };
  });
}

function verifiedRow(event: LedgerEvent, recovered: RecoveredSigners | undefined, window: ReadModelWindow, blockTime: number): LedgerEventTable {
  const { verification, signer, signerOrganizationId } = judgeSignatures(event, recovered, window);
  const problem = applyEvent(window, { name: event.name, args: event.args, blockTime });
  return {
    block_number: event.blockNumber,
    log_index: event.logIndex,
    block_hash: event.blockHash,
    block_time: blockTime,
    tx_hash: event.txHash,
    contract: event.contract,
    address: event.address,
    name: event.name,
    batch_id: typeof event.args.batchId === "string" ? event.args.batchId : null,
    agreement_id: typeof event.args.agreementId === "string" && event.name.startsWith("Agreement") ? event.args.agreementId : null,
    organization_id: actingOrganization(event),
    signer,
    signer_organization_id: signerOrganizationId,
    verification,
    problem,
    payload: JSON.stringify(event.args),
  };
}

function undecodableRow(event: UndecodableLog, blockTime: number): LedgerEventTable {
  return {
    block_number: event.blockNumber,
    log_index: event.logIndex,
    block_hash: event.blockHash,
    block_time: blockTime,
    tx_hash: event.txHash,
    contract: "unknown",
    address: event.address,
    name: "Undecodable",
    batch_id: null,
    agreement_id: null,
    organization_id: null,
    signer: null,
    signer_organization_id: null,
    verification: "undecodable",
    problem: event.reason,
    payload: "{}",
  };
}

/**
 * The organization that attested: the one the signed message speaks for (a receipt's recipient, a shipment's
 * shipper); for the deployer's bootstrap regulator, which signed nothing, the organization itself.
 */
function actingOrganization(event: LedgerEvent): number | null {
  const attestation = attestationOf(event);
  if (attestation) return attestation.organizationId;
  return typeof event.args.organizationId === "number" ? event.args.organizationId : null;
}

function reportOf(row: LedgerEventTable): ProblemReport {
  return {
    blockNumber: row.block_number,
    logIndex: row.log_index,
    name: row.name,
    verification: row.verification,
    problem: row.problem,
  };
}

/** Keeps the hash of every block with events and of the range end: what reorg detection compares later. */
async function recordBlocks(db: Kysely<Database>, trx: Transaction<Database>, range: FetchedRange) {
  const blocks = new Map(range.blocks);
  blocks.set(range.end.number, { ...range.end, timestamp: range.blocks.get(range.end.number)?.timestamp ?? 0 });
  const rows = [...blocks.values()].map((b) => ({ block_number: b.number, block_hash: b.hash, block_time: b.timestamp }));
  await writeRows(db, trx, "indexed_blocks", rows, { key: ["block_number"], update: ["block_hash"] });
}

export async function saveCheckpoint(trx: Transaction<Database>, identity: CheckpointIdentity, block: BlockRef) {
  const row = {
    id: SYNC_STATE_ID,
    chain_id: identity.chainId,
    genesis_hash: identity.genesisHash,
    deployment: identity.deployment,
    block_number: block.number,
    block_hash: block.hash,
  };
  await trx
    .insertInto("sync_state")
    .values(row)
    .onConflict((c) =>
      c.column("id").doUpdateSet({
        chain_id: row.chain_id,
        genesis_hash: row.genesis_hash,
        deployment: row.deployment,
        block_number: row.block_number,
        block_hash: row.block_hash,
      }),
    )
    .execute();
}

export async function loadCheckpoint(db: Kysely<Database>) {
  return db.selectFrom("sync_state").selectAll().where("id", "=", SYNC_STATE_ID).executeTakeFirst();
}

const REPLAY_CHUNK = 5_000;

/**
 * Rolls the store back to `ancestor`: drops later events and blocks, then rebuilds the read model by replaying the
 * remaining events through the same reducer, all in one transaction. On QBFT networks blocks are final and this
 * never runs; on a development chain (evm_revert) a full replay is simple and cannot drift from the forward path.
 */
export async function rollBack(db: Kysely<Database>, identity: CheckpointIdentity, ancestor: BlockRef) {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom("ledger_events").where("block_number", ">", ancestor.number).execute();
    await trx.deleteFrom("indexed_blocks").where("block_number", ">", ancestor.number).execute();
    for (const table of READ_MODEL_TABLES) {
      await trx.deleteFrom(table).execute();
    }
    await replayEvents(trx, db);
    await saveCheckpoint(trx, identity, ancestor);
  });
}

async function replayEvents(trx: Transaction<Database>, db: Kysely<Database>) {
  let after = { block: -1, log: -1 };
  for (;;) {
    const rows = await trx
      .selectFrom("ledger_events")
      .select(["block_number", "log_index", "name", "payload", "block_time", "verification"])
      .where((eb) => eb.or([eb("block_number", ">", after.block), eb.and([eb("block_number", "=", after.block), eb("log_index", ">", after.log)])]))
      .orderBy("block_number")
      .orderBy("log_index")
      .limit(REPLAY_CHUNK)
      .execute();
    if (rows.length === 0) return;
    const events = rows
      .filter((row) => row.verification !== "undecodable")
      .map((row) => ({ name: row.name, args: payloadOf(row), blockTime: row.block_time }));
    const window = createWindow();
    for (const event of events) wantRows(window, event);
    await loadWindow(window, trx);
    for (const event of events) applyEvent(window, event);
    await writeWindow(window, trx, db);
    const last = rows[rows.length - 1]!;
    after = { block: last.block_number, log: last.log_index };
  }
}
