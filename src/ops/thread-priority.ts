import { Worker } from "node:worker_threads";
import type { MessagePort } from "node:worker_threads";

/** How much lower than the thread that starts it a background worker thread runs (nice values, up to 19). */
export const BACKGROUND_NICE_OFFSET = 10;

/**
 * JavaScript source run first in a worker thread doing background work (a code registration's parsing, tree and rows,
 * the indexer's signer recovery): lowers that thread's nice value BACKGROUND_NICE_OFFSET below the one it inherited
 * (why: README, design notes). On Linux each thread has a nice value of its own, and the thread's id from /proc/thread-self
 * ("PID/task/TID") names this one to setpriority. Elsewhere there is no /proc/thread-self and nothing changes:
 * setpriority on the process would lower the thread answering requests too.
 */
export const LOWER_THREAD_PRIORITY = `
try {
  // A thread starts with the nice value of the thread that made it. libuv's thread pool, the whole process's (file
  // system, crypto, DNS: the API's too), is made at its first use: used here first, before this thread is lowered,
  // it keeps the process's priority whichever thread uses it first.
  require("node:fs").access(".", () => {});
  const os = require("node:os");
  const thread = Number(require("node:fs").readlinkSync("/proc/thread-self").split("/task/")[1]);
  os.setPriority(thread, Math.min(19, os.getPriority(thread) + ${BACKGROUND_NICE_OFFSET}));
} catch {}
`;

/**
 * A background worker thread (at the lower priority above) that runs `entry(parentPort, data)`: `entry` is a
 * function the TypeScript module at `modulePath` exports, found there by its name. Its source is plain JavaScript
 * that registers tsx's CommonJS loader and then loads that module, whatever runs the calling thread (tsx, vitest):
 * the worker runs the very code the calling thread would.
 */
export function backgroundWorker<Data>(modulePath: string, entry: (port: MessagePort, data: Data) => void, data: Data): Worker {
  return new Worker(BACKGROUND_WORKER_SOURCE, {
    eval: true,
    workerData: { tsx: require.resolve("tsx/cjs/api"), modulePath, entry: entry.name, data },
  });
}

const BACKGROUND_WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
${LOWER_THREAD_PRIORITY}
require(workerData.tsx).register();
require(workerData.modulePath)[workerData.entry](parentPort, workerData.data);
`;
