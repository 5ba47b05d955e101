import { availableParallelism } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Deployment, LedgerEvent } from "./decode";
import { prepareLogs, preparationReady, recoverAll } from "./prepare";
import type { PreparedLogs } from "./prepare";
import type { ChainLog } from "./sync";
import type { RecoveredSigners } from "./verify";

/**
 * Range preparation in worker threads: ABI decoding, EIP-712 digests and secp256k1 recovery (about 40 µs per
 * signature with the system's libsecp256k1, 55-60 with the `secp256k1` package's, against 40 for decoding and the
 * digest together), so that the main thread only applies events and writes them, while the workers prepare the
 * next ranges.
 */
export type PreparePool = {
  /** prepareLogs, the logs shared among the workers in order; the result is in the logs' order. */
  prepare(logs: ChainLog[], deployment: Deployment, recover?: boolean): Promise<PreparedLogs>;
  /** recoverAll for events already applied (deferred verification), shared among the workers in order. */
  recover(events: LedgerEvent[], chainId: number): Promise<RecoveredSigners[]>;
  readonly threads: number;
  /** How many logs were prepared in the workers and how many on the calling thread (too few, or a worker failed). */
  readonly counts: { inWorkers: number; onCallingThread: number };
};

// The worker is plain JavaScript that registers tsx's CommonJS loader and then loads prepare.ts itself, whatever
// runs the main thread (tsx, vitest, ts-node): the very code the calling thread runs when there are no workers.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
require(workerData.tsx).register();
const { prepareLogs, preparationReady, recoverAll } = require(workerData.prepare);
const tasks = {
  prepare: ({ items, deployment, recover }) => prepareLogs(items, deployment, recover),
  recover: ({ items, chainId }) => recoverAll(items, chainId),
};
parentPort.on("message", async (job) => {
  await preparationReady();
  let answer;
  const id = job.id;
  try {
    answer = { id, result: tasks[job.task](job) };
  } catch (error) {
    answer = { id, error: String((error && error.message) || error) };
  }
  parentPort.postMessage(answer);
});
`;

/** Below this many logs a round trip to a worker is not worth it (follow mode's few events a block). */
const INLINE_BELOW = 32;

type Job = { resolve(result: unknown): void; reject(error: Error): void };
type Answer = { id: number; result?: unknown; error?: string };

/** A task the workers run on a list of items: the calling thread's own version of it, and how parts are joined. */
type Task<I, R> = {
  name: "prepare" | "recover";
  items: I[];
  /** Sent with each part (beside the items). */
  context: Record<string, unknown>;
  run(items: I[]): R;
  join(parts: R[]): R;
};

/**
 * A pool of `threads` workers (none: preparation on the calling thread). Idle workers do not keep the process
 * alive. If a worker fails, its share is prepared on the calling thread and the pool carries on without workers.
 */
export function createPreparePool(threads: number): PreparePool {
  let workers: Worker[] | undefined;
  let broken = false;
  let nextId = 0;
  let busy = 0;
  const pending = new Map<number, Job>();
  const counts = { inWorkers: 0, onCallingThread: 0 };

  async function inline<I, R>(task: Task<I, R>, items: I[]): Promise<R> {
    await preparationReady();
    counts.onCallingThread += items.length;
    return task.run(items);
  }

  function start(): Worker[] {
    workers ??= Array.from({ length: threads }, () => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { tsx: require.resolve("tsx/cjs/api"), prepare: path.join(__dirname, "prepare.ts") },
      });
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

  function send<I, R>(worker: Worker, task: Task<I, R>, items: I[]): Promise<R> {
    const id = nextId++;
    if (busy++ === 0) for (const w of workers!) w.ref();
    return new Promise<R>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      worker.postMessage({ id, task: task.name, items, ...task.context });
    })
      .then((result) => {
        counts.inWorkers += items.length;
        return result;
      })
      .catch(() => inline(task, items))
      .finally(() => {
        if (--busy === 0 && !broken) for (const w of workers!) w.unref();
      });
  }

  /** Runs `task` over its items, shared in order among the workers (or on this thread). */
  async function run<I, R>(task: Task<I, R>): Promise<R> {
    const { items } = task;
    if (threads === 0 || broken || items.length < INLINE_BELOW) return inline(task, items);
    const pool = start();
    const share = Math.ceil(items.length / pool.length);
    const parts: Promise<R>[] = [];
    for (let first = 0, w = 0; first < items.length; first += share, w++) parts.push(send(pool[w]!, task, items.slice(first, first + share)));
    return task.join(await Promise.all(parts));
  }

  return {
    threads,
    counts,
    prepare(logs, deployment, recover = true) {
      return run<ChainLog, PreparedLogs>({
        name: "prepare",
        items: logs,
        context: { deployment: { chainId: deployment.chainId, contracts: deployment.contracts }, recover },
        run: (items) => prepareLogs(items, deployment, recover),
        join: (parts) => ({ decoded: parts.flatMap((p) => p.decoded), ...(recover ? { recovered: parts.flatMap((p) => p.recovered!) } : {}) }),
      });
    },
    recover(events, chainId) {
      return run<LedgerEvent, RecoveredSigners[]>({
        name: "recover",
        items: events,
        context: { chainId },
        run: (items) => recoverAll(items, chainId),
        join: (parts) => parts.flat(),
      });
    },
  };
}

let shared: PreparePool | undefined;

/** The process's pool: one worker per available core. */
export function sharedPreparePool(): PreparePool {
  shared ??= createPreparePool(Math.max(1, availableParallelism()));
  return shared;
}
