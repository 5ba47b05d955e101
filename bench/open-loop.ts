/**
 * A load generator in its own process, driven over IPC by a benchmark:
 * - open loop (wrk2-style): requests are due at a fixed arrival rate whatever the server does, and each latency is
 *   measured from the moment its request was due, not from when a free connection sent it, in microseconds; a
 *   server that falls behind shows it in its latencies instead of slowing the load (no coordinated omission);
 * - closed loop: N connections each sending its next request when its answer arrives, for throughput.
 * Requests cycle through the given bodies. Run as a child: `fork("bench/open-loop.ts")`, then `loadGenerator()`.
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import * as http from "node:http";

export type LoadJob = {
  url: string;
  path: string;
  method: "GET" | "POST";
  /** Request bodies (POST) or paths (GET), used in turn. */
  requests: string[];
  headers?: Record<string, string>;
  seconds: number;
  connections: number;
  /** Requests per second for an open loop; absent for a closed loop. */
  rate?: number;
  /**
   * Closed loop: every connection first opens and has one request answered, untimed (counted, as the server did the
   * work), so the latencies are those of established connections. Without it the first requests of the last of 50
   * connections opened at once wait behind everything the established ones send: seconds when a request costs a
   * few milliseconds of server time (a bare node:http server doing 1.4 ms of work per request shows it too).
   */
  warm?: boolean;
  /** Return every latency too (µs, sorted), for percentiles over several runs. */
  keepLatencies?: boolean;
};

/**
 * `unanswered`: open-loop requests still unanswered a run's length after the last was due (a server far behind);
 * they count in the percentiles with the time they had waited then, a lower bound.
 */
export type LoadResult = {
  count: number;
  errors: number;
  unanswered: number;
  seconds: number;
  p50us: number;
  p99us: number;
  maxUs: number;
  latenciesUs?: number[];
};

async function runLoad(job: LoadJob): Promise<LoadResult> {
  const { hostname, port } = new URL(job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const waiting = new Set<bigint>();
  let warmed = 0;
  const send = (due: bigint, timed = true) =>
    new Promise<void>((resolve) => {
      waiting.add(due);
      const item = job.requests[next++ % job.requests.length]!;
      const body = job.method === "POST" ? item : undefined;
      const req = http.request(
        {
          agent,
          hostname,
          port,
          method: job.method,
          path: job.method === "POST" ? job.path : item,
          headers: { ...job.headers, ...(body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}) },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (!waiting.delete(due)) return;
            if (timed) latencies.push(Number(process.hrtime.bigint() - due) / 1000);
            else warmed++;
            if (res.statusCode !== 200) errors++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        if (waiting.delete(due)) errors++;
        resolve();
      });
      req.end(body);
    });
  // Every connection opened and answered once before the clock starts.
  if (job.warm && job.rate === undefined) await Promise.all(Array.from({ length: job.connections }, () => send(process.hrtime.bigint(), false)));
  const started = process.hrtime.bigint();
  const end = started + BigInt(Math.round(job.seconds * 1e9));
  if (job.rate === undefined) {
    await Promise.all(
      Array.from({ length: job.connections }, async () => {
        while (process.hrtime.bigint() < end) await send(process.hrtime.bigint());
      }),
    );
  } else {
    const total = Math.round(job.rate * job.seconds);
    const interval = 1e9 / job.rate;
    const inFlight: Promise<void>[] = [];
    let sent = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = process.hrtime.bigint();
        for (
          let due = started + BigInt(Math.round(sent * interval));
          sent < total && due <= now;
          due = started + BigInt(Math.round(sent * interval))
        ) {
          inFlight.push(send(due));
          sent++;
        }
        if (sent < total) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    await Promise.race([Promise.all(inFlight), new Promise((resolve) => setTimeout(resolve, job.seconds * 1000))]);
  }
  const unanswered = waiting.size;
  const now = process.hrtime.bigint();
  for (const due of waiting) latencies.push(Number(now - due) / 1000);
  waiting.clear();
  agent.destroy();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const result = {
    count: latencies.length - unanswered + warmed,
    errors,
    unanswered,
    seconds,
    p50us: at(0.5),
    p99us: at(0.99),
    maxUs: latencies.at(-1) ?? 0,
  };
  return job.keepLatencies ? { ...result, latenciesUs: latencies } : result;
}

/**
 * A job as sent to the generator's process: a request list it was sent before is named by its number, not sent
 * again. Sent whole, a list of 200,000 scan bodies was deserialized at the start of every run, and the young
 * collections that then copied it into the old space paused the generator for 30-90 ms while requests fell due: the
 * open loop's p99 was those pauses (seen with --trace-gc, in runs of the bare server as of the scan).
 */
type JobMessage = Omit<LoadJob, "requests"> & { requests?: string[]; list: number };

/** The generator's process, started once; each `run` is one job. */
export function loadGenerator() {
  const child: ChildProcess = fork(__filename, ["generate"], { execArgv: process.execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let id = 0;
  const lists = new Map<string[], number>();
  const pending = new Map<number, (result: LoadResult) => void>();
  child.on("message", (message: { id: number; result: LoadResult }) => {
    pending.get(message.id)?.(message.result);
    pending.delete(message.id);
  });
  return {
    pid: child.pid!,
    run(job: LoadJob): Promise<LoadResult> {
      const jobId = id++;
      return new Promise((resolve) => {
        pending.set(jobId, resolve);
        const known = lists.get(job.requests);
        const list = known ?? lists.size;
        lists.set(job.requests, list);
        const message: JobMessage = known === undefined ? { ...job, list } : { ...job, requests: undefined, list };
        child.send({ id: jobId, job: message });
      });
    },
    stop() {
      child.kill();
    },
  };
}

if (require.main === module && process.argv[2] === "generate") {
  const lists = new Map<number, string[]>();
  process.on("message", ({ id, job }: { id: number; job: JobMessage }) => {
    if (job.requests) lists.set(job.list, job.requests);
    void runLoad({ ...job, requests: lists.get(job.list)! }).then((result) => process.send?.({ id, result }));
  });
}
