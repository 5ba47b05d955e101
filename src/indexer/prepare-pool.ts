import { availableParallelism } from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Deployment } from "./decode";
import { prepareLogs, preparationReady } from "./prepare";
import type { PreparedLogs } from "./prepare";
import type { ChainLog } from "./sync";

/**
 * Range preparation in worker threads: ABI decoding, EIP-712 digests and secp256k1 recovery (about 60 µs per
 * signature with libsecp256k1, against 40 for decoding and the digest together), so that the main thread only
 * applies events and writes them, while the workers prepare the next ranges.
 */
export type PreparePool = {
  /** prepareLogs, the logs shared among the workers in order; the result is in the logs' order. */
  prepare(logs: ChainLog[], deployment: Deployment, recover?: boolean): Promise<PreparedLogs>;
  readonly threads: number;
  /** How many logs were prepared in the workers and how many on the calling thread (too few, or a worker failed). */
  readonly counts: { inWorkers: number; onCallingThread: number };
};

// The worker is plain JavaScript that registers tsx's CommonJS loader and then loads prepare.ts itself, whatever
// runs the main thread (tsx, vitest, ts-node): the very code the calling thread runs when there are no workers.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
require(workerData.tsx).register();
const { prepareLogs, preparationReady } = require(workerData.prepare);
parentPort.on("message", async ({ id, logs, deployment, recover }) => {
  await preparationReady();
  let answer;
  try {
    answer = { id, prepared: prepareLogs(logs, deployment, recover) };
  } catch (error) {
    answer = { id, error: String((error && error.message) || error) };
  }
  parentPort.postMessage(answer);
});
`;

/** Below this many logs a round trip to a worker is not worth it (follow mode's few events a block). */
const INLINE_BELOW = 32;

type Job = { resolve(prepared: PreparedLogs): void; reject(error: Error): void };
type Answer = { id: number; prepared?: PreparedLogs; error?: string };


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

  async function inline(logs: ChainLog[], deployment: Deployment, recover: boolean): Promise<PreparedLogs> {
    await preparationReady();
    counts.onCallingThread += logs.length;
    return prepareLogs(logs, deployment, recover);
  }

  function start(): Worker[] {
    workers ??= Array.from({ length: threads }, () => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { tsx: require.resolve("tsx/cjs/api"), prepare: path.join(__dirname, "prepare.ts") },
      });
      worker.on("message", ({ id, prepared, error }: Answer) => {
        const job = pending.get(id);
        pending.delete(id);
        if (prepared) job?.resolve(prepared);
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

  function send(worker: Worker, logs: ChainLog[], deployment: Deployment, recover: boolean): Promise<PreparedLogs> {
    const id = nextId++;
    if (busy++ === 0) for (const w of workers!) w.ref();
    return new Promise<PreparedLogs>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, logs, deployment: { chainId: deployment.chainId, contracts: deployment.contracts }, recover });
    })
      .then((prepared) => {
        counts.inWorkers += logs.length;
        return prepared;
      })
      .catch(() => inline(logs, deployment, recover))
      .finally(() => {
        if (--busy === 0 && !broken) for (const w of workers!) w.unref();
      });
  }

  return {
    threads,
    counts,
    async prepare(logs, deployment, recover = true) {
      if (threads === 0 || broken || logs.length < INLINE_BELOW) return inline(logs, deployment, recover);
      const pool = start();
      const share = Math.ceil(logs.length / pool.length);
      const parts: Promise<PreparedLogs>[] = [];
      for (let first = 0, w = 0; first < logs.length; first += share, w++) {
        parts.push(send(pool[w]!, logs.slice(first, first + share), deployment, recover));
      }
      const prepared = await Promise.all(parts);
      return { decoded: prepared.flatMap((p) => p.decoded), recovered: prepared.flatMap((p) => p.recovered) };
    },
  };
}

let shared: PreparePool | undefined;

/** The process's pool: one worker per available core. */
export function sharedPreparePool(): PreparePool {
  shared ??= createPreparePool(Math.max(1, availableParallelism()));
  return shared;
}
