import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { Worker } from "node:worker_threads";
import { CodeError } from "./errors";
import type { CodeErrorCode } from "./errors";
import { LOWER_THREAD_PRIORITY } from "../ops/thread-priority";
import { createTreeWriter } from "./tree-file";
import type { TreeSummary } from "./tree-file";

/** Builds the stored tree of the canonical keys in `keysFile` (one a line) at `treePath`. */
export async function buildTreeFromKeyFile(keysFile: string, treePath: string): Promise<TreeSummary> {
  const writer = await createTreeWriter(treePath);
  try {
    for await (const key of createInterface({ input: createReadStream(keysFile), crlfDelay: Infinity })) writer.add(key);
  } catch (error) {
    writer.abort();
    throw error;
  }
  return writer.finish();
}

// Plain JavaScript that registers tsx's CommonJS loader and then loads this module, whatever runs the calling
// thread (tsx, vitest), as the indexer's prepare pool does.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
// Hashing yields the cores to the thread answering requests.
${LOWER_THREAD_PRIORITY}
require(workerData.tsx).register();
const { buildTreeFromKeyFile } = require(workerData.module);
buildTreeFromKeyFile(workerData.keysFile, workerData.treePath).then(
  (summary) => parentPort.postMessage({ summary }),
  (error) => parentPort.postMessage({ error: { code: error && error.code, message: String((error && error.message) || error) } }),
);
`;

/**
 * buildTreeFromKeyFile in a worker thread: hashing 10,000,000 leaves and the levels above them takes tens of
 * seconds of CPU, which on the calling thread would stall every request the API server answers meanwhile. A
 * refusal of the codes (duplicates) comes back as the CodeError it was.
 */
export function buildTreeInWorker(keysFile: string, treePath: string): Promise<TreeSummary> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { tsx: require.resolve("tsx/cjs/api"), module: __filename, keysFile, treePath },
  });
  return new Promise<TreeSummary>((resolve, reject) => {
    worker.once("message", (answer: { summary?: TreeSummary; error?: { code?: string; message: string } }) => {
      if (answer.summary) resolve(answer.summary);
      else if (answer.error?.code?.startsWith("CODE_")) reject(new CodeError(answer.error.code as CodeErrorCode, answer.error.message));
      else reject(new Error(`building the code tree failed: ${answer.error?.message}`));
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`the code tree worker exited with ${code}`)));
  }).finally(() => void worker.terminate());
}
