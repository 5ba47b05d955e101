import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { BACKGROUND_NICE_OFFSET, LOWER_THREAD_PRIORITY } from "../../src/ops/thread-priority";
import { niceIn } from "./nice";

describe("a background worker thread's priority", () => {
  it("leaves libuv's thread pool at the process's priority, though the lowered worker is the first to use it", () => {
    // A process of its own: this one's thread pool was made long ago.
    const script = `
      const { Worker } = require("node:worker_threads");
      const fs = require("node:fs");
      const worker = new Worker(${JSON.stringify(`${LOWER_THREAD_PRIORITY}
        require("node:fs").readFile(__filename, () => require("node:worker_threads").parentPort.postMessage("read"));`)}, { eval: true });
      worker.on("message", () => {
        const nices = fs.readdirSync("/proc/self/task").map((tid) => fs.readFileSync("/proc/self/task/" + tid + "/stat", "utf8"));
        console.log(JSON.stringify(nices));
        process.exit(0);
      });`;
    const stats = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" })) as string[];
    const own = niceIn(readFileSync("/proc/thread-self/stat", "utf8"));
    // The worker alone is lowered; the pool's 4 threads and V8's are not.
    expect(stats.map(niceIn).filter((nice) => nice !== own)).toEqual([Math.min(19, own + BACKGROUND_NICE_OFFSET)]);
  });

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
