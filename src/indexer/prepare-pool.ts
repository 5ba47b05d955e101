import { availableParallelism } from "node:os";
import type { MessagePort, TransferListItem, Worker } from "node:worker_threads";
import { backgroundWorker } from "../ops/thread-priority";
import { createDecoder } from "./decode";
import type { Deployment, LedgerEvent, UndecodableLog } from "./decode";
import { preparationReady, recoverAll } from "./prepare";
import type { PreparedLogs } from "./prepare";
import { jobsRecoverable, recoverJobs } from "./signatures";
import type { ChainLog } from "./sync";
import { planRecovery } from "./verify";
import type { RecoveredSigners } from "./verify";

/**
 * Signer recovery in worker threads (about 40 µs per signature with the system's libsecp256k1, 55-60 with the
 * `secp256k1` package's), so that the main thread applies and writes one range while the workers recover the next.
 * The calling thread decodes the logs and lays their signatures out as bytes (SignatureJobs, a few µs per event);
 * a worker takes its share of those bytes (transferred, not copied) and gives back 21 bytes per signature, the
 * EIP-712 digests hashed and the signers recovered by native/ in one call: no log and no decoded event is cloned
 * between threads either way. Without native/ the decoded events go to the workers, which recover them one by one.
 */
export type PreparePool = {
  /** prepareLogs, the recovery shared among the workers in order; the result is in the logs' order. */
  prepare(logs: ChainLog[], deployment: Deployment, recover?: boolean): Promise<PreparedLogs>;
  /** recoverAll for events already applied (deferred verification), shared among the workers in order. */
  recover(events: (LedgerEvent | UndecodableLog)[], chainId: number): Promise<RecoveredSigners[]>;
  readonly threads: number;
  /**
   * How many signatures (events, without native/) were recovered in the workers and how many on the calling thread
   * (too few to share, or a worker failed).
   */
  readonly counts: { inWorkers: number; onCallingThread: number };
};

/**
 * A worker of the pool: the very code the calling thread runs when there are no workers, at a lower priority than
 * the calling thread, which applies and writes the ranges in order: the pipeline's critical path, and in a server
 * also the thread that answers scans (README, design notes).
 */
export function recoverInWorker(port: MessagePort) {
  type RecoveryRequest = { id: number; jobs?: Uint8Array; count: number; events: (LedgerEvent | UndecodableLog)[]; chainId: number };
  port.on("message", async ({ id, jobs, count, events, chainId }: RecoveryRequest) => {
    await preparationReady();
    try {
      if (jobs) {
        const result = recoverJobs(jobs, count);
        port.postMessage({ id, result }, [result.buffer as ArrayBuffer]);
      } else {
        port.postMessage({ id, result: recoverAll(events, chainId) });
      }
    } catch (error) {
      const failure = error as { message?: string } | undefined;
      port.postMessage({ id, error: String(failure?.message || error) });
    }
  });
}

/**
 * Logs decoded at a time in prepare: about a quarter of a backfill's range (indexer.ts), enough signatures per
 * worker that a hand-off costs little against the recovery it carries.
 */
export const DECODE_PIECE = 1_000;

/** Below this many signatures (or events) a round trip to a worker is not worth it (follow mode's few a block). */
const INLINE_BELOW = 32;

type Job = { resolve(result: unknown): void; reject(error: Error): void };
type Answer = { id: number; result?: unknown; error?: string };

/** Work on `count` items shared out in order: a part's message to a worker, the same part done here, and the join. */
type Shared<R> = {
  count: number;
  message(from: number, to: number): { message: Record<string, unknown>; transfer: TransferListItem[] };
  run(from: number, to: number): R;
  join(parts: R[]): R;
};

/**
 * A pool of `threads` workers (none: everything on the calling thread). Idle workers do not keep the process
 * alive. If a worker fails, its share is done on the calling thread and the pool carries on without workers.
 */
export function createPreparePool(threads: number): PreparePool {
  let workers: Worker[] | undefined;
  let broken = false;
  let nextId = 0;
  let busy = 0;
  const pending = new Map<number, Job>();
  const counts = { inWorkers: 0, onCallingThread: 0 };

  async function inline<R>(work: Shared<R>, from: number, to: number): Promise<R> {
    await preparationReady();
    counts.onCallingThread += to - from;
    return work.run(from, to);
  }

  function start(): Worker[] {
    workers ??= Array.from({ length: threads }, () => {
      const worker = backgroundWorker(__filename, recoverInWorker, undefined);
      worker.on("message", ({ id, result, error }: Answer) => {
        const job = pending.get(id);
        pending.delete(id);
        if (error === undefined) job?.resolve(result);
        else job?.reject(new Error(error));
      });
      worker.on("error", (error) => {
        broken = true;
        for (const job of pending.values()) job.reject(error);
        pending.clear();
        for (const w of workers ?? []) void w.terminate();
      });
      worker.unref();
      return worker;
    });
    return workers;
  }

  function send<R>(worker: Worker, work: Shared<R>, from: number, to: number): Promise<R> {
    const id = nextId++;
    if (busy++ === 0) for (const w of workers!) w.ref();
    return new Promise<R>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      const { message, transfer } = work.message(from, to);
      worker.postMessage({ id, ...message }, transfer);
    })
      .then((result) => {
        counts.inWorkers += to - from;
        return result;
      })
      .catch(() => inline(work, from, to))
      .finally(() => {
        if (--busy === 0 && !broken) for (const w of workers!) w.unref();
      });
  }

  /** Does `work`, its items shared in order among the workers (or on this thread). */
  async function share<R>(work: Shared<R>): Promise<R> {
    if (threads === 0 || broken || work.count < INLINE_BELOW) return inline(work, 0, work.count);
    const pool = start();
    const size = Math.ceil(work.count / pool.length);
    const parts: Promise<R>[] = [];
    for (let from = 0, w = 0; from < work.count; from += size, w++) parts.push(send(pool[w]!, work, from, Math.min(from + size, work.count)));
    return work.join(await Promise.all(parts));
  }

  async function recover(events: (LedgerEvent | UndecodableLog)[], chainId: number): Promise<RecoveredSigners[]> {
    if (!jobsRecoverable()) {
      return share<RecoveredSigners[]>({
        count: events.length,
        message: (from, to) => ({ message: { events: events.slice(from, to), chainId }, transfer: [] }),
        run: (from, to) => recoverAll(events.slice(from, to), chainId),
        join: (parts) => parts.flat(),
      });
    }
    const { jobs, finish } = planRecovery(events, chainId);
    const results = await share<Uint8Array>({
      count: jobs.count,
      message: (from, to) => {
        // A copy of the part's bytes, its buffer then handed over to the worker.
        const part = new Uint8Array(jobs.bytes(from, to));
        return { message: { jobs: part, count: to - from }, transfer: [part.buffer] };
      },
      run: (from, to) => recoverJobs(jobs.bytes(from, to), to - from),
      join: (parts) => Buffer.concat(parts),
    });
    return finish(results);
  }

  return {
    threads,
    counts,
    async prepare(logs, deployment, withRecovery = true) {
      const decode = createDecoder(deployment);
      if (!withRecovery) return { decoded: logs.map(decode) };
      // Decoded a piece at a time, each piece's signatures handed to the workers before the next is decoded: the
      // workers start on a range while the calling thread is still decoding it.
      const size = Math.ceil(logs.length / Math.max(1, Math.ceil(logs.length / DECODE_PIECE)));
      const decoded: (LedgerEvent | UndecodableLog)[] = [];
      const recovering: Promise<RecoveredSigners[]>[] = [];
      for (let from = 0; from < logs.length; from += size) {
        const piece = logs.slice(from, from + size).map(decode);
        for (const event of piece) decoded.push(event);
        recovering.push(recover(piece, deployment.chainId));
      }
      return { decoded, recovered: (await Promise.all(recovering)).flat() };
    },
    recover,
  };
}

let shared: PreparePool | undefined;

/** The process's pool: one worker per available core. */
export function sharedPreparePool(): PreparePool {
  shared ??= createPreparePool(Math.max(1, availableParallelism()));
  return shared;
}
