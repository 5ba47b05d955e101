import { setMaxListeners } from "node:events";
import type { Logger } from "../log";
import type { Store } from "../store";
import { READ_MODEL_TABLES, REGISTERED_AGGREGATION_TABLES } from "../store/migrations";
import type { Deployment } from "./decode";
import { LEDGER_EVENT_TOPICS } from "./decode";
import { verifyPending } from "./deferred";
import { createProgress } from "./progress";
import type { Progress } from "./progress";
import { applyPrepared, loadCheckpoint, rollBack } from "./ranges";
import type { CheckpointIdentity, FetchedRange, PreparedRange } from "./ranges";
import { createPreparePool, sharedPreparePool } from "./prepare-pool";
import { libsecp256k1Builds, nativeRecoveryUnavailable } from "./signatures";
import { RangeTooLargeError } from "./sync";
import type { BlockInfo, BlockRef, ChainLog, ChainSource, HeadBlock } from "./sync";

export type IndexerOptions = {
  source: ChainSource;
  store: Store;
  deployment: Deployment & { startBlock?: number };
  log: Logger;
  /** Largest block range asked of eth_getLogs; halved when the node refuses, regrown after successes. */
  maxRange?: number;
  /**
   * How often follow mode asks for a new head when the node announces none (default 100 ms). While subscribed to
   * the node's new heads each announcement wakes the indexer, and it asks only every SUBSCRIBED_POLL_MS (or this,
   * if longer) in case announcements stop.
   */
  pollIntervalMs?: number;
  /** Show a progress bar or periodic log lines while catching up. */
  showProgress?: boolean;
  /** Worker threads decoding ranges and recovering signers while the main thread writes (default: one per core; 0: none). */
  verifyThreads?: number;
  /**
   * "full" (the default): every signature is recovered before its range is written. "deferred": rows are written
   * at once, "pending", and their signatures recovered behind the head (deferred.ts); scans withhold GENUINE from a
   * batch while any attestation on its path is unverified.
   */
  verification?: VerificationMode;
};

export type VerificationMode = "full" | "deferred";

/** A block range's logs, before the blocks they are in are known. */
type FoundLogs = { from: number; to: number; logs: ChainLog[] };

export type Indexer = {
  /**
   * Indexes everything up to the chain's current head and returns the block reached. While the node is unreachable
   * it retries; when `signal` aborts it stops at once (what was written stays, with its checkpoint) and rejects
   * with the signal's reason.
   */
  catchUp(signal?: AbortSignal): Promise<BlockRef>;
  /** Deferred verification: verifies the rows still pending (a no-op in full verification). */
  verifyBehind(): Promise<void>;
  /**
   * Catches up, then follows new blocks until `signal` aborts (verifying behind the head if deferred), and then
   * resolves: also while the node is down, which it waits out, resuming when the node is back.
   */
  follow(signal: AbortSignal): Promise<void>;
};

/** The configured chain is not the deployment's: indexing it would serve wrong answers. */
export class ChainMismatchError extends Error {}

const MAX_BACKOFF_MS = 30_000;
/** While new heads are announced, the poll that catches what an announcement missed. */
const SUBSCRIBED_POLL_MS = 5_000;
/** After a subscription failed or ended, how long until the next attempt (polling meanwhile). */
const RESUBSCRIBE_MS = 5_000;
/**
 * The first range asked for, before the chain's density of events is known: small, so that the pipeline's stages
 * start on it soon while the next ranges (twice as long each time) are fetched.
 */
const FIRST_RANGE = 10;
/** Ranges are sized to hold about this many events: big enough that a transaction's fixed costs vanish, small
 * enough that the next range is fetched and verified while this one is written. */
const EVENTS_PER_RANGE = 4_000;
/**
 * Ranges fetched and verified ahead of the one being written: with it, what a backfill holds in memory is about
 * (LOOKAHEAD + 1) × EVENTS_PER_RANGE events' logs and decoded events (a range is sized at the density seen before it).
 */
const LOOKAHEAD = 2;

export function createIndexer(options: IndexerOptions): Indexer {
  const { source, store, deployment, log } = options;
  const maxRange = options.maxRange ?? 2_000;
  let range = Math.min(maxRange, FIRST_RANGE);
  let identity: CheckpointIdentity | undefined;
  const pool = options.verifyThreads === undefined ? sharedPreparePool() : createPreparePool(options.verifyThreads);
  const deferred = options.verification === "deferred";
  const nativeMissing = nativeRecoveryUnavailable();
  if (nativeMissing !== undefined) {
    log.warn({ err: nativeMissing }, "libsecp256k1's binding did not load: signers are recovered by ethers' JavaScript, about 30 times the CPU");
  } else if (libsecp256k1Builds[0]!.unavailable !== undefined) {
    log.warn(
      { err: libsecp256k1Builds[0]!.unavailable },
      "the system's libsecp256k1 (native/, built at install from libsecp256k1-dev) did not load: signers are recovered with the secp256k1 package's 2019 build, about 1.5 times the CPU",
    );
  }

  /**
   * Calls the node until it answers, backing off while it is unreachable; rejects with `signal`'s reason as soon as
   * it aborts, without waiting for a call under way (a node that hangs would hold it for the request timeout).
   */
  async function retrying<T>(what: string, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      try {
        return await untilAborted(call(), signal);
      } catch (error) {
        if (error instanceof RangeTooLargeError || signal?.aborted) throw error;
        const delay = Math.min(250 * 2 ** attempt, MAX_BACKOFF_MS);
        log.warn({ err: (error as Error).message, retryInMs: delay, attempt: attempt + 1 }, `${what} failed; retrying`);
        await sleep(delay, signal);
      }
    }
  }

  async function establishIdentity(signal?: AbortSignal): Promise<CheckpointIdentity> {
    const chainId = await retrying("eth_chainId", () => source.chainId(), signal);
    if (chainId !== deployment.chainId) {
      throw new ChainMismatchError(`the node serves chain ${chainId}, the deployment is on chain ${deployment.chainId}`);
    }
    const genesis = await retrying("genesis block", () => source.block(0), signal);
    return { chainId, genesisHash: genesis?.hash ?? "", deployment: JSON.stringify(deployment.contracts) };
  }

  /** Starts over when the store mirrors another chain or deployment (a new genesis, new contract addresses). */
  async function discardForeignState(current: CheckpointIdentity) {
    const checkpoint = await loadCheckpoint(store.db);
    if (!checkpoint) return;
    const same =
      Number(checkpoint.chain_id) === current.chainId &&
      checkpoint.genesis_hash === current.genesisHash &&
      checkpoint.deployment === current.deployment;
    if (same) return;
    log.warn(
      { stored: { chainId: checkpoint.chain_id, genesis: checkpoint.genesis_hash }, chain: current },
      "the database mirrors another chain or deployment; rebuilding it from this chain",
    );
    // Registered codes go too: they were checked against the other chain's batch roots, not this one's.
    const discarded = [
      ...READ_MODEL_TABLES,
      "ledger_events",
      "indexed_blocks",
      "sync_state",
      "batch_codes",
      "code_trees",
      ...REGISTERED_AGGREGATION_TABLES,
      "code_registration_claims",
    ] as const;
    await store.db.transaction().execute(async (trx) => {
      for (const table of discarded) {
        await trx.deleteFrom(table).execute();
      }
    });
  }

  /** Detects that the chain no longer contains the checkpoint block and rolls back to the common ancestor. */
  async function reconcileReorg(current: CheckpointIdentity, head: HeadBlock, signal?: AbortSignal) {
    const checkpoint = await loadCheckpoint(store.db);
    if (!checkpoint) return;
    // The head's parent is the checkpoint (follow mode's usual new block): the chain still holds it.
    if (head.number === checkpoint.block_number + 1 && head.parentHash === checkpoint.block_hash) return;
    const onChain = checkpoint.block_number <= head.number ? await blockAt(checkpoint.block_number, signal) : undefined;
    if (onChain?.hash === checkpoint.block_hash) return;
    const ancestor = await commonAncestor(Math.min(checkpoint.block_number, head.number), signal);
    log.warn({ checkpoint: checkpoint.block_number, ancestor: ancestor.number }, "chain reorganized; rolling back");
    await rollBack(store.db, current, ancestor);
  }

  async function commonAncestor(below: number, signal?: AbortSignal): Promise<BlockRef> {
    const known = await store.db
      .selectFrom("indexed_blocks")
      .select(["block_number", "block_hash"])
      .where("block_number", "<=", below)
      .orderBy("block_number", "desc")
      .execute();
    for (const block of known) {
      if ((await blockAt(block.block_number, signal))?.hash === block.block_hash) {
        return { number: block.block_number, hash: block.block_hash };
      }
    }
    const start = Math.max((deployment.startBlock ?? 0) - 1, 0);
    return (await blockAt(start, signal)) ?? { number: 0, hash: "" };
  }

  const blockAt = (number: number, signal?: AbortSignal) => retrying(`block ${number}`, () => source.block(number), signal);

  /** The range's logs, from the node; the blocks they are in are asked for apart (blocksOf). */
  async function fetchLogs(from: number, to: number, signal?: AbortSignal): Promise<FoundLogs> {
    const logs = await retrying(
      `logs ${from}-${to}`,
      () =>
        source.logs({
          fromBlock: from,
          toBlock: to,
          addresses: Object.values(deployment.contracts),
          topics: LEDGER_EVENT_TOPICS,
        }),
      signal,
    );
    return { from, to, logs };
  }

  /** The blocks a range's logs are in, and its end block: their hashes and times. */
  async function blocksOf({ from, to, logs }: FoundLogs, head: HeadBlock, signal?: AbortSignal): Promise<FetchedRange> {
    const blocks = new Map<number, BlockInfo>();
    // The head, when the node gave its timestamp, need not be asked for again.
    if (head.timestamp !== undefined && head.number <= to)
      blocks.set(head.number, { number: head.number, hash: head.hash, timestamp: head.timestamp });
    const numbers = [...new Set([...logs.map((l) => l.blockNumber), to])].filter((n) => !blocks.has(n));
    const fetched = await Promise.all(numbers.map((n) => retrying(`block ${n}`, () => source.block(n), signal)));
    for (const block of fetched) if (block) blocks.set(block.number, block);
    const end = blocks.get(to);
    if (!end) throw new Error(`the node has no block ${to}`);
    return { from, to, logs, blocks, end };
  }

  /**
   * Fetches the next range's logs, halving the range while the node refuses and growing it back after successes,
   * up to the span that holds about EVENTS_PER_RANGE events at the density just seen.
   */
  async function fetchAdaptively(from: number, head: HeadBlock, signal?: AbortSignal): Promise<FoundLogs> {
    for (;;) {
      const to = Math.min(from + range - 1, head.number);
      try {
        const found = await fetchLogs(from, to, signal);
        const span = to - from + 1;
        const dense = found.logs.length > 0 ? Math.floor((span * EVENTS_PER_RANGE) / found.logs.length) : Infinity;
        range = Math.max(1, Math.min(range * 2, maxRange, dense));
        return found;
      } catch (error) {
        if (!(error instanceof RangeTooLargeError) || range === 1) throw error;
        range = Math.max(1, Math.floor(range / 2));
        log.debug({ from, range }, "node refused the log range; narrowing");
      }
    }
  }

  /**
   * Indexes up to the head: the one the node `announced`, if it is beyond the checkpoint, which spares asking the
   * node for it; else the node's current head (an announcement not beyond the checkpoint may be one that arrived
   * after a poll had seen a later block, and must not be taken for a reorganisation).
   */
  async function indexToHead(signal?: AbortSignal, announced?: HeadBlock): Promise<BlockRef> {
    identity ??= await establishIdentity(signal);
    await discardForeignState(identity);
    const known = await loadCheckpoint(store.db);
    const head =
      announced && (!known || announced.number > known.block_number) ? announced : await retrying("chain head", () => source.head(), signal);
    // Nothing new (follow mode's usual poll): the checkpoint is the head itself, so no reorg can concern it.
    if (known && known.block_number === head.number && known.block_hash === head.hash) return head;
    await reconcileReorg(identity, head, signal);
    const checkpoint = await loadCheckpoint(store.db);
    const from = checkpoint ? checkpoint.block_number + 1 : (deployment.startBlock ?? 0);
    let reached: BlockRef = checkpoint ? { number: checkpoint.block_number, hash: checkpoint.block_hash } : head;
    if (from > head.number) return reached;
    const progress: Progress | undefined = options.showProgress && head.number - from > maxRange ? createProgress(log, from) : undefined;

    // A pipeline: the node is asked for one range at a time, the next as soon as the one before arrives, while
    // fewer than LOOKAHEAD ranges wait to be written; each range is decoded and its signers recovered (in the
    // pool's workers) as it arrives, and the writer writes them in chain order, each in its own transaction.
    const stop = new AbortController();
    const halt = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    // Each block of a range is asked for at once, each call listening for the abort.
    setMaxListeners(0, halt);
    // In chain order: ranges being fetched or prepared, or ready to write.
    const ahead: Promise<PreparedRange>[] = [];
    let next = from;
    let fetching = false;
    const fetchAhead = () => {
      if (fetching || next > head.number || halt.aborted || ahead.length >= LOOKAHEAD) return;
      fetching = true;
      const prepared = fetchAdaptively(next, head, halt).then(async (found) => {
        next = found.to + 1;
        // The node is asked for this range's blocks, then for the next range's logs in a request of their own (a
        // batch is answered when all its calls are done), and the decoding waits until both requests have left
        // (the HTTP agent gives a request its socket on the next tick).
        const fetched = blocksOf(found, head, halt);
        fetched.catch(() => undefined);
        await Promise.resolve();
        fetching = false;
        fetchAhead();
        await new Promise(process.nextTick);
        // Stopped meanwhile (a failure or shutdown): the pool, perhaps shared with another indexer, is spared it.
        halt.throwIfAborted();
        const { decoded, recovered } = await pool.prepare(found.logs, deployment, !deferred);
        return { range: await fetched, decoded, recovered };
      });
      // A range that fails is reported when the writer reaches it (a failed log query stops the fetching, and no
      // more than LOOKAHEAD ranges are held meanwhile); until then it must not count as an unhandled rejection
      // (which ends the process).
      prepared.catch(() => undefined);
      ahead.push(prepared);
    };
    try {
      fetchAhead();
      while (ahead.length > 0) {
        // Taken off the queue once ready: until then it counts among the ranges ahead of the writer.
        const prepared = await ahead[0]!;
        ahead.shift();
        signal?.throwIfAborted();
        fetchAhead();
        // Writing a range holds the thread for a while: first the node's answers and the workers' results that have
        // arrived are taken in, so that the node and the workers have the next ranges to work on meanwhile.
        await new Promise(setImmediate);
        const applied = await applyPrepared(store.db, identity, prepared);
        for (const problem of applied.problems) log.error(problem, "ledger event failed verification or does not fit");
        progress?.advance({ block: prepared.range.to, head: head.number, events: applied.events });
        reached = prepared.range.end;
      }
    } finally {
      // On a failure, work still under way ahead stops at its next call to the node, and its outcome is dropped.
      stop.abort();
      progress?.stop();
    }
    return reached;
  }

  /**
   * Keeps a subscription to the node's new heads while `signal` lasts, each head calling `wake`; when the node
   * serves none, or the subscription ends, the indexer polls and tries again after RESUBSCRIBE_MS.
   */
  function subscribeHeads(wake: (head?: HeadBlock) => void, signal: AbortSignal) {
    let live = false;
    const pollIntervalMs = options.pollIntervalMs ?? 100;
    const run = async (watch: NonNullable<ChainSource["watchHeads"]>) => {
      let said: string | undefined;
      let toldUnsupported = false;
      while (!signal.aborted) {
        const heads = watch(wake);
        const stop = () => heads.close();
        signal.addEventListener("abort", stop, { once: true });
        if (await heads.subscribed) {
          live = true;
          said = undefined;
          log.info("following the node's new heads by subscription");
          // A block mined before the subscription took effect was announced to no one.
          wake();
        }
        const { reason, unsupported } = await heads.ended;
        live = false;
        signal.removeEventListener("abort", stop);
        if (signal.aborted) return;
        // A node that serves no subscriptions is a setting, not an incident: said once, at info level. A subscription
        // lost (the node restarting, the network) is said once per cause, not every RESUBSCRIBE_MS.
        if (unsupported && !toldUnsupported) log.info({ reason, pollIntervalMs }, "no new-head subscription; polling the node");
        else if (!unsupported && reason !== said) log.warn({ reason, pollIntervalMs }, "new-head subscription lost; polling the node meanwhile");
        toldUnsupported ||= unsupported;
        said = reason;
        await sleep(RESUBSCRIBE_MS, signal);
      }
    };
    if (source.watchHeads) void run(source.watchHeads.bind(source));
    return { live: () => live };
  }

  async function verifyBehind() {
    if (!deferred) return;
    const { verified, failed } = await verifyPending(store.db, deployment, pool);
    for (const problem of failed) log.error(problem, "ledger event failed deferred verification");
    if (verified + failed.length > 0) log.debug({ verified, failed: failed.length }, "verified pending events behind the head");
  }

  async function follow(signal: AbortSignal) {
    const pollIntervalMs = options.pollIntervalMs ?? 100;
    const wake = createWake();
    const heads = subscribeHeads(wake.notify, signal);
    while (!signal.aborted) {
      // A head announced from here on wakes the next wait: none is lost while catching up.
      const announced = wake.take();
      try {
        await indexToHead(signal, announced);
        await verifyBehind();
      } catch (error) {
        // Asked to stop (also while waiting out a node that is down): a clean end, not a failure.
        if (signal.aborted) return;
        if (error instanceof ChainMismatchError) throw error;
        log.error({ err: (error as Error).message }, "indexing failed; retrying");
      }
      await wake.wait(heads.live() ? Math.max(pollIntervalMs, SUBSCRIBED_POLL_MS) : pollIntervalMs, signal);
    }
  }

  return { catchUp: (signal) => indexToHead(signal), verifyBehind, follow };
}

/**
 * A wake-up call that a wait started after it was given still hears, with the head it announced: the latest
 * given, or none if the latest wake-up call came without one (then the node is asked).
 */
function createWake() {
  let notified = false;
  let announced: HeadBlock | undefined;
  let waiting: (() => void) | undefined;
  return {
    notify(head?: HeadBlock) {
      notified = true;
      announced = head;
      waiting?.();
    },
    /** The head announced since the last take, if any; later wake-up calls wake the next wait. */
    take(): HeadBlock | undefined {
      const head = announced;
      notified = false;
      announced = undefined;
      return head;
    },
    /** Waits `ms`, or until notified (at once if notified since the last take), or until `signal` aborts. */
    async wait(ms: number, signal: AbortSignal) {
      if (notified) return;
      const woken = new AbortController();
      waiting = () => woken.abort();
      await sleep(ms, AbortSignal.any([signal, woken.signal]));
      waiting = undefined;
    },
  };
}

/** `work`, or a rejection with `signal`'s reason as soon as it aborts (the work itself goes on, unheard). */
function untilAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason as Error);
    signal.addEventListener("abort", abort, { once: true });
    if (signal.aborted) abort();
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** Waits `ms`, or until `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal) {
  return new Promise<void>((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal?.addEventListener("abort", wake, { once: true });
  });
}
