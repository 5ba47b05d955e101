import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { BACKGROUND_NICE_OFFSET, LOWER_THREAD_PRIORITY } from "../../src/ops/thread-priority";
import { niceIn } from "./nice";

describe("a background worker thread's priority", () => {
  it("leaves libuv's thread pool at the process's priority, though the lowered worker is the first to use it", () => {
    // A process of its own: this one's thread pool was made long ago. The worker reports its own thread and nice
    // value, and stays (a port with a listener holds it) until the process exits.
    const script = `
      const { Worker } = require("node:worker_threads");
      const fs = require("node:fs");
      const worker = new Worker(${JSON.stringify(`${LOWER_THREAD_PRIORITY}
        const { parentPort } = require("node:worker_threads");
        const fs = require("node:fs");
        parentPort.on("message", () => {});
        fs.readFile(__filename, () => parentPort.postMessage({ tid: fs.readlinkSync("/proc/thread-self").split("/task/")[1], stat: fs.readFileSync("/proc/thread-self/stat", "utf8") }));`)}, { eval: true });
      worker.on("message", (worker) => {
        const others = fs.readdirSync("/proc/self/task").filter((tid) => tid !== worker.tid).map((tid) => fs.readFileSync("/proc/self/task/" + tid + "/stat", "utf8"));
        console.log(JSON.stringify({ worker: worker.stat, others }));
        process.exit(0);
      });`;
    const threads = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" })) as { worker: string; others: string[] };
    const own = niceIn(readFileSync("/proc/thread-self/stat", "utf8"));
    expect(niceIn(threads.worker), "the worker").toBe(Math.min(19, own + BACKGROUND_NICE_OFFSET));
    // The worker alone is lowered; the main thread, the pool's 4 threads and V8's are not.
    expect(threads.others.map(niceIn).filter((nice) => nice !== own)).toEqual([]);
    expect(threads.others.length).toBeGreaterThanOrEqual(5);
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
