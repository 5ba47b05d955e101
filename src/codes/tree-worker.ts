import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { MessagePort } from "node:worker_threads";
import { CodeError } from "./errors";
import type { CodeErrorCode } from "./errors";
import { backgroundWorker } from "../ops/thread-priority";
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

/** The worker thread (at a lower priority: hashing yields the cores to the thread answering requests). */
export function treeWorkerMain(port: MessagePort, { keysFile, treePath }: { keysFile: string; treePath: string }) {
  buildTreeFromKeyFile(keysFile, treePath).then(
    (summary) => port.postMessage({ summary }),
    (error: unknown) => {
      const failure = error as { code?: string; message?: string } | undefined;
      port.postMessage({ error: { code: failure?.code, message: String(failure?.message || error) } });
    },
  );
}

/**
 * buildTreeFromKeyFile in a worker thread: hashing 10,000,000 leaves and the levels above them takes tens of
 * seconds of CPU, which on the calling thread would stall every request the API server answers meanwhile. A
 * refusal of the codes (duplicates) comes back as the CodeError it was.
 */
export function buildTreeInWorker(keysFile: string, treePath: string): Promise<TreeSummary> {
  const worker = backgroundWorker(__filename, treeWorkerMain, { keysFile, treePath });
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
