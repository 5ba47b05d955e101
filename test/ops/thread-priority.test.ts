import { readFileSync } from "node:fs";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { BACKGROUND_NICE_OFFSET, LOWER_THREAD_PRIORITY } from "../../src/ops/thread-priority";
import { niceIn } from "./nice";

describe("a background worker thread's priority", () => {
  it("is lowered for the worker thread alone, relative to the thread that started it", async () => {
    const ownStat = "/proc/thread-self/stat";
    const before = niceIn(readFileSync(ownStat, "utf8"));
    const worker = new Worker(
      `${LOWER_THREAD_PRIORITY}
      const { parentPort } = require("node:worker_threads");
      const fs = require("node:fs");
      parentPort.postMessage({ stat: fs.readFileSync("/proc/thread-self/stat", "utf8"), process: fs.readFileSync("/proc/self/stat", "utf8") });`,
      { eval: true },
    );
    try {
      const [answer] = (await once(worker, "message")) as [{ stat: string; process: string }];
      expect(niceIn(answer.stat)).toBe(Math.min(19, before + BACKGROUND_NICE_OFFSET));
      // The thread that started it, and the process's main thread, keep theirs.
      expect(niceIn(readFileSync(ownStat, "utf8"))).toBe(before);
      expect(niceIn(answer.process)).toBe(niceIn(readFileSync("/proc/self/stat", "utf8")));
    } finally {
      await worker.terminate();
    }
  });
});
