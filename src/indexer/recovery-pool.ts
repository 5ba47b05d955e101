import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { recoverFast } from "./signatures";

/**
 * Signer recovery in worker threads. Recovering a public key from a secp256k1 signature is the costliest step of
 * indexing (about 60 µs per signature with libsecp256k1 here, against a few µs for everything else an event
 * needs); workers do it beside the main thread, which meanwhile decodes the next range and writes the previous one.
 */
export type RecoveryJobs = {
  /** 32 bytes per signature: the EIP-712 digests. */
  digests: Uint8Array;
  /** 65 bytes per signature: r ‖ s ‖ v, v being 27 or 28 (signatures.ts fastSignature). */
  signatures: Uint8Array;
  count: number;
};

export type RecoveryPool = {
  /** The lowercase 0x address each signature recovers to, or null where none. */
  recover(jobs: RecoveryJobs): Promise<(string | null)[]>;
  readonly threads: number;
};

// The worker is plain JavaScript (no TypeScript loader in a worker thread, whatever runs the main one), and loads
// the same packages by their resolved paths: libsecp256k1's binding itself, so a worker without it fails (and its
// share is recovered on the calling thread) rather than recovering with another library.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const secp256k1 = require(workerData.secp256k1);
const hasher = require(workerData.hashWasm).createKeccak(256);
parentPort.on("message", async ({ id, digests, signatures, count }) => {
  const keccak = await hasher;
  const addresses = new Uint8Array(20 * count);
  const found = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    let publicKey;
    try {
      publicKey = secp256k1.ecdsaRecover(signatures.subarray(65 * i, 65 * i + 64), signatures[65 * i + 64] - 27, digests.subarray(32 * i, 32 * i + 32), false);
    } catch {
      continue;
    }
    keccak.init();
    keccak.update(publicKey.subarray(1));
    addresses.set(keccak.digest("binary").subarray(12), 20 * i);
    found[i] = 1;
  }
  parentPort.postMessage({ id, addresses, found }, [addresses.buffer, found.buffer]);
});
`;

/** Below this many signatures a round trip to a worker is not worth it. */
const INLINE_BELOW = 32;

type Job = { resolve(result: { addresses: Uint8Array; found: Uint8Array }): void; reject(error: Error): void };

function inline({ digests, signatures, count }: RecoveryJobs): (string | null)[] {
  const recovered: (string | null)[] = [];
  for (let i = 0; i < count; i++) {
    recovered.push(recoverFast(digests.subarray(32 * i, 32 * i + 32), signatures.subarray(65 * i, 65 * i + 65)));
  }
  return recovered;
}

/**
 * A pool of `threads` workers (none: recovery on the calling thread). Idle workers do not keep the process alive.
 * If a worker fails, its share is recovered on the calling thread and the pool carries on without workers.
 */
export function createRecoveryPool(threads: number): RecoveryPool {
  let workers: Worker[] | undefined;
  let broken = false;
  let nextId = 0;
  let busy = 0;
  const pending = new Map<number, Job>();

  function start(): Worker[] {
    workers ??= Array.from({ length: threads }, () => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { secp256k1: require.resolve("secp256k1/bindings"), hashWasm: require.resolve("hash-wasm") },
      });
      worker.on("message", ({ id, addresses, found }: { id: number; addresses: Uint8Array; found: Uint8Array }) => {
        const job = pending.get(id);
        pending.delete(id);
        job?.resolve({ addresses, found });
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

  function send(worker: Worker, jobs: RecoveryJobs): Promise<(string | null)[]> {
    const id = nextId++;
    if (busy++ === 0) for (const w of workers!) w.ref();
    return new Promise<{ addresses: Uint8Array; found: Uint8Array }>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, digests: jobs.digests, signatures: jobs.signatures, count: jobs.count });
    })
      .then(({ addresses, found }) => {
        const hex = Buffer.from(addresses.buffer, addresses.byteOffset, addresses.byteLength).toString("hex");
        return Array.from(found, (ok, i) => (ok ? `0x${hex.slice(40 * i, 40 * i + 40)}` : null));
      })
      .catch(() => inline(jobs))
      .finally(() => {
        if (--busy === 0 && !broken) for (const w of workers!) w.unref();
      });
  }

  return {
    threads,
    async recover(jobs) {
      if (threads === 0 || broken || jobs.count < INLINE_BELOW) return inline(jobs);
      const pool = start();
      const share = Math.ceil(jobs.count / pool.length);
      const parts: Promise<(string | null)[]>[] = [];
      for (let first = 0, w = 0; first < jobs.count; first += share, w++) {
        const count = Math.min(share, jobs.count - first);
        parts.push(
          send(pool[w]!, {
            digests: jobs.digests.slice(32 * first, 32 * (first + count)),
            signatures: jobs.signatures.slice(65 * first, 65 * (first + count)),
            count,
          }),
        );
      }
      return (await Promise.all(parts)).flat();
    },
  };
}

let shared: RecoveryPool | undefined;

/** The process's pool: one worker per available core. */
export function sharedRecoveryPool(): RecoveryPool {
  shared ??= createRecoveryPool(Math.max(1, availableParallelism()));
  return shared;
}
