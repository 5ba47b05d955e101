/**
 * Code registration benchmark: one batch's N GS1 pack codes streamed as a text/plain body (one printed element
 * string per line, chunked) to POST /v1/batches/:batchId/codes, the route that claims "any number (10,000,000 and
 * more)". Writes the "## Code registration" section of BENCHMARKS.md.
 *
 * The batch, its product, MAH and CMO are seeded directly into a SQLite store (bench/released-batch.ts),
 * with the codes root built by the codes module's tree writer, the one the code book uses. The API runs in a child
 * process, so the peak memory measured is the server's; the child also times its own event loop (a 20 ms interval
 * timer: how late each tick fires is how long nothing else could run) while this process polls GET /healthz, whose
 * answer needs the store, to see what another client waits during the upload.
 *
 *   npm run bench:codes-upload                                      10,000,000 codes
 *   BENCH_UPLOAD_CODES=1000000,10000000 npm run bench:codes-upload  one run per count, one table
 *   BENCH_UPLOAD_DRY=1 ...                                          measure without writing BENCHMARKS.md
 *
 * Working files live under .data/bench/codes-upload/ and are deleted after each run.
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { createApp } from "../src/api/app";
import { createCodeBook } from "../src/api/codebook";
import { DEFAULT_RECALL_DEADLINES } from "../src/ledger";
import { formatCode, verifyProof } from "../src/codes";
import type { Gs1Pack } from "../src/codes";
import { silentLogger } from "../src/log";
import { createStore } from "../src/store";
import { writeBenchmarkSection } from "./benchmarks-file";
import { checkServiceFlags } from "./service-flags";
import { CMO_KEY, seedStore, signIn, upload, writeCodes } from "./released-batch";
import { loadGenerator } from "./open-loop";
import type { LoadJob, LoadResult } from "./open-loop";

const COMMAND = "npm run bench:codes-upload";
const ROOT = path.resolve(__dirname, "..");
const DIR = path.join(ROOT, ".data", "bench", "codes-upload");
const SECTION = "## Code registration";
const CLAIM = 10_000_000;

/** Interval of the server's event-loop timer, and of this process's /healthz polls. */
const TICK_MS = 20;
const PROBE_EVERY_MS = 100;
/** The issue's target for the longest event-loop stall while a registration runs. */
const STALL_BUDGET_MS = 100;
/**
 * Scans another client sends meanwhile (open loop, from the load generator's own process), and before, for
 * reference: for 60 s, so that the reference p99 is the 60th longest of 6,000 scans (of 1,000 it swung between 4.9
 * and 8.0 ms from run to run). Before only: after the upload the scanned code is registered, and its answer costs
 * more (a genuine pack's verdict) than the unknown code's answered before and during the upload.
 */
const SCAN_RATE = 100;
const SCAN_REFERENCE_SECONDS = 60;
const SCAN_WINDOW_SECONDS = 2;
/** The issue's target: a scan's p99 during a registration at most this many times its p99 without one. */
const SCAN_P99_BUDGET = 2;

const counts = (process.env.BENCH_UPLOAD_CODES ?? String(CLAIM)).split(",").map((n) => Number(n.replace(/_/g, "")));

// ----------------------------------------------------------------------------------------------------------------
// The API under test (child process)
// ----------------------------------------------------------------------------------------------------------------

type Phase = "idle" | "body" | "after-body";
type PhaseStats = { maxStallMs: number; maxRssBytes: number; ticks: number };
export type ServerStats = {
  phases: Record<Phase, PhaseStats>;
  bodyMs: number;
  afterBodyMs: number;
  vmHwmBytes: number;
  maxRssBytes: number;
  histogramMaxMs: number;
};

function vmHwm(): number {
  const line = fs.readFileSync("/proc/self/status", "utf8").match(/^VmHWM:\s+(\d+) kB/m);
  return line ? Number(line[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

function serve() {
  const dataDir = process.env.BENCH_UPLOAD_DATA!;
  const store = createStore(process.env.BENCH_UPLOAD_DB!);
  const app = createApp({
    store,
    log: silentLogger(),
    config: {
      secret: Buffer.from(process.env.BENCH_UPLOAD_SECRET!, "hex"),
      tokenLifetime: 3600,
      recallDeadlines: DEFAULT_RECALL_DEADLINES,
      publicRateLimit: 1_000_000_000,
      dataDir,
    },
    codes: createCodeBook(store, dataDir),
    now: () => Math.floor(Date.now() / 1000),
  });

  const fresh = (): PhaseStats => ({ maxStallMs: 0, maxRssBytes: 0, ticks: 0 });
  let phases: Record<Phase, PhaseStats> = { idle: fresh(), body: fresh(), "after-body": fresh() };
  let phase: Phase = "idle";
  let bodyStart = 0;
  let bodyEnd = 0;
  let answered = 0;
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const stats = phases[phase];
    stats.maxStallMs = Math.max(stats.maxStallMs, now - last - TICK_MS);
    stats.maxRssBytes = Math.max(stats.maxRssBytes, process.memoryUsage.rss());
    stats.ticks++;
    last = now;
  }, TICK_MS);

  const server = http.createServer((req, res) => {
    if (req.method === "POST" && /^\/v1\/batches\/[^/]+\/codes$/.test(req.url ?? "")) {
      phase = "body";
      bodyStart = performance.now();
      // An 'end' listener does not start the stream flowing: the route still reads the body at its own pace.
      req.once("end", () => {
        bodyEnd = performance.now();
        phase = "after-body";
      });
      res.once("finish", () => {
        answered = performance.now();
        phase = "idle";
      });
    }
    app(req, res);
  });
  server.listen(0, "127.0.0.1", () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on("message", (message: { type: "reset" | "stats" }) => {
    if (message.type === "reset") {
      phases = { idle: fresh(), body: fresh(), "after-body": fresh() };
      histogram.reset();
      process.send?.({ type: "reset" });
    } else {
      const stats: ServerStats = {
        phases,
        bodyMs: bodyEnd - bodyStart,
        afterBodyMs: answered - bodyEnd,
        vmHwmBytes: vmHwm(),
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        histogramMaxMs: histogram.max / 1e6,
      };
      process.send?.({ type: "stats", stats });
    }
  });
  process.once("SIGTERM", () => process.exit(0));
  // The benchmark process died: nothing will ask for figures or stop this server.
  process.once("disconnect", () => process.exit(0));
}

function startApi(dbFile: string, dataDir: string): Promise<{ child: ChildProcess; url: string; port: number }> {
  const child = fork(__filename, ["serve"], {
    execArgv: process.execArgv,
    env: { ...process.env, BENCH_UPLOAD_DB: dbFile, BENCH_UPLOAD_DATA: dataDir, BENCH_UPLOAD_SECRET: randomBytes(32).toString("hex") },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message: { port: number }) => resolve({ child, url: `http://127.0.0.1:${message.port}`, port: message.port }));
    child.once("exit", (code) => reject(new Error(`the API process exited with ${code}`)));
  });
}

function ask<T>(child: ChildProcess, type: "reset" | "stats"): Promise<T> {
  return new Promise((resolve) => {
    const listener = (message: { type?: string; stats?: T }) => {
      if (message.type !== type) return;
      child.off("message", listener);
      resolve(message.stats as T);
    };
    child.on("message", listener);
    child.send({ type });
  });
}

// ----------------------------------------------------------------------------------------------------------------
// Measurement
// ----------------------------------------------------------------------------------------------------------------

type Probed = { slowest: number; count: number; failures: string[] };

/**
 * Another client meanwhile: GET /healthz (one store read) every 100 ms until stopped. Reports the slowest answer
 * and every request that failed (a reset connection is what that client would see), with when it failed.
 */
function probe(url: string) {
  let running = true;
  const probed: Probed = { slowest: 0, count: 0, failures: [] };
  const started = performance.now();
  const done = (async () => {
    while (running) {
      const start = performance.now();
      try {
        const res = await fetch(`${url}/healthz`);
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`answered ${res.status}`);
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
        probed.failures.push(
          `${cause} after ${((performance.now() - start) / 1000).toFixed(1)} s, ${((start - started) / 1000).toFixed(0)} s into the upload`,
        );
      }
      probed.slowest = Math.max(probed.slowest, performance.now() - start);
      probed.count++;
      await sleep(PROBE_EVERY_MS);
    }
  })();
  return async () => {
    running = false;
    await done;
    return probed;
  };
}

type ScanLatency = { p50Us: number; p90Us: number; p99Us: number; count: number; errors: number };

/** Percentiles over every latency of several runs. */
function scanLatency(runs: { latenciesUs?: number[]; errors: number }[]): ScanLatency {
  const all = runs.flatMap((run) => run.latenciesUs ?? []).sort((a, b) => a - b);
  const at = (q: number) => all[Math.min(all.length - 1, Math.floor(q * all.length))] ?? 0;
  return {
    p50Us: at(0.5),
    p90Us: at(0.9),
    p99Us: at(0.99),
    count: all.length,
    errors: runs.reduce((n, r) => n + r.errors, 0),
  };
}

type Result = {
  scanReference: ScanLatency;
  scanDuring: ScanLatency;
  scanDuringBody: ScanLatency;
  scanAfterBody: ScanLatency;
  count: number;
  bodyBytes: number;
  seconds: number;
  bodySeconds: number;
  afterBodySeconds: number;
  stats: ServerStats;
  baselineRssBytes: number;
  probe: Probed;
  scan: string;
  treeBytes: number;
  storeBytes: number;
};

async function measure(count: number): Promise<Result> {
  const dir = path.join(DIR, String(count));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const codesFile = path.join(dir, "codes.txt");
  const dbFile = path.join(dir, "store.sqlite");
  const dataDir = path.join(dir, "data");
  try {
    let start = performance.now();
    const { root, sample } = await writeCodes(count, codesFile, dir);
    const batchId = await seedStore(dbFile, count, root);
    const bodyBytes = fs.statSync(codesFile).size;
    console.log(
      `${count.toLocaleString("en")} codes (${mib(bodyBytes)}), root ${root}, prepared in ${((performance.now() - start) / 1000).toFixed(0)} s`,
    );

    const { child, url, port } = await startApi(dbFile, dataDir);
    const load = loadGenerator();
    try {
      const token = await signIn(url, CMO_KEY);
      const baselineRssBytes = (await ask<ServerStats>(child, "stats")).vmHwmBytes;
      // A scan of one of the batch's codes: unknown until its row is written, genuine after; answered 200 either way.
      const scanJob = (seconds: number): LoadJob => ({
        url,
        path: "/v1/scans",
        method: "POST",
        requests: [JSON.stringify({ code: formatCode(sample, "element-string", { symbologyId: "]d2" }) })],
        seconds,
        connections: 8,
        rate: SCAN_RATE,
        keepLatencies: true,
      });
      await load.run(scanJob(2)); // warm-up: the scan path's first answers compile and load what it uses
      const scanReference = scanLatency([await load.run(scanJob(SCAN_REFERENCE_SECONDS))]);
      await ask(child, "reset");
      const stopProbe = probe(url);
      start = performance.now();
      let uploading = true;
      const uploaded = upload(port, batchId, token, codesFile).finally(() => (uploading = false));
      const windows: { startMs: number; run: LoadResult }[] = [];
      while (uploading) windows.push({ startMs: performance.now() - start, run: await load.run(scanJob(SCAN_WINDOW_SECONDS)) });
      const answer = await uploaded;
      const seconds = (performance.now() - start) / 1000;
      const scanDuring = scanLatency(windows.map((w) => w.run));
      // A window that began before the last byte was sent counts as the body's: the two phases load different threads.
      const scanDuringBody = scanLatency(windows.filter((w) => w.startMs < answer.sentMs).map((w) => w.run));
      const scanAfterBody = scanLatency(windows.filter((w) => w.startMs >= answer.sentMs).map((w) => w.run));
      const probed = await stopProbe();
      const stats = await ask<ServerStats>(child, "stats");
      if (answer.status !== 201) throw new Error(`upload answered ${answer.status}: ${answer.body.slice(0, 500)}`);
      const registered = JSON.parse(answer.body) as { root: string; count: number };
      if (registered.count !== count || registered.root !== root)
        throw new Error(`registered ${answer.body}, expected ${count} codes with root ${root}`);
      console.log(
        `uploaded in ${seconds.toFixed(1)} s (body sent after ${(answer.sentMs / 1000).toFixed(1)} s), ${JSON.stringify(stats)}, /healthz ${JSON.stringify(probed)}, scans ${JSON.stringify({ scanReference, scanDuring, scanDuringBody, scanAfterBody })}`,
      );

      const scanned = await scanWithProof(url, token, sample, root);
      const treeBytes = fs.statSync(path.join(dataDir, "trees", `${batchId}.tree`)).size;
      const storeBytes = fs
        .readdirSync(dir)
        .filter((f) => f.startsWith("store.sqlite"))
        .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
      return {
        scanReference,
        scanDuring,
        scanDuringBody,
        scanAfterBody,
        count,
        bodyBytes,
        seconds,
        bodySeconds: stats.bodyMs / 1000,
        afterBodySeconds: stats.afterBodyMs / 1000,
        stats,
        baselineRssBytes,
        probe: probed,
        scan: scanned,
        treeBytes,
        storeBytes,
      };
    } finally {
      load.stop();
      child.kill("SIGTERM");
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Scans one registered code as the CMO; the answer must carry a proof that checks against the batch's root. */
async function scanWithProof(url: string, token: string, pack: Gs1Pack, root: string): Promise<string> {
  const code = formatCode(pack, "element-string", { symbologyId: "]d2" });
  const start = performance.now();
  const res = await fetch(`${url}/v1/scans`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ code }),
  });
  const ms = performance.now() - start;
  const answer = (await res.json()) as { verdict?: string; proof?: { root: string; proof: string[] } };
  if (res.status !== 200 || !answer.proof) throw new Error(`scan answered ${res.status} ${JSON.stringify(answer).slice(0, 500)}`);
  const valid = answer.proof.root === root && verifyProof(root, pack.key, answer.proof.proof);
  if (!valid) throw new Error(`the scan's proof does not check against ${root}: ${JSON.stringify(answer.proof)}`);
  const verdict = `${answer.verdict}, ${answer.proof.proof.length}-node proof that verifies against the root, ${ms.toFixed(0)} ms (first scan, tree file opened)`;
  console.log(`scan: ${verdict}`);
  return verdict;
}

const ms = (us: number) => `${(us / 1000).toFixed(us < 10_000 ? 2 : 0)} ms`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const sec = (seconds: number) => `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
const stall = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.max(0, ms).toFixed(0)} ms`);

function writeSection(results: Result[]) {
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const row = (what: string, figure: (r: Result) => string) => `| ${what} | ${results.map(figure).join(" | ")} |`;
  const table = [
    `| | ${results.map((r) => `${r.count.toLocaleString("en")} codes`).join(" | ")} |`,
    `| --- | ${results.map(() => "---:").join(" | ")} |`,
    row("body (printed element strings, one a line)", (r) => mib(r.bodyBytes)),
    row("upload, first byte sent to 201 answer", (r) => sec(r.seconds)),
    row("codes/s", (r) => `${Math.round(r.count / r.seconds).toLocaleString("en")}/s`),
    row("… receiving, parsing, hashing and spooling the body", (r) => sec(r.bodySeconds)),
    row("… after the last byte: tree finished, rows written and committed", (r) => sec(r.afterBodySeconds)),
    row("server peak RSS (VmHWM), whole upload", (r) => mib(r.stats.vmHwmBytes)),
    row("… before the upload (signed in, idle)", (r) => mib(r.baselineRssBytes)),
    row("… highest RSS sampled while the body streamed", (r) => mib(r.stats.phases.body.maxRssBytes)),
    row("longest event-loop stall, whole upload", (r) => stall(Math.max(r.stats.phases.body.maxStallMs, r.stats.phases["after-body"].maxStallMs))),
    row("… while the body streamed", (r) => stall(r.stats.phases.body.maxStallMs)),
    row("… after the last byte", (r) => stall(r.stats.phases["after-body"].maxStallMs)),
    row(
      `slowest GET /healthz from another client (every ${PROBE_EVERY_MS} ms during the upload)`,
      (r) => `${stall(r.probe.slowest)} (${r.probe.count} polls)`,
    ),
    row("… of which failed", (r) => (r.probe.failures.length === 0 ? "none" : `${r.probe.failures.length}: ${r.probe.failures.join("; ")}`)),
    row(
      `scan p99 from another client, ${SCAN_RATE}/s open loop: during the upload / for ${SCAN_REFERENCE_SECONDS} s before it`,
      (r) => `${ms(r.scanDuring.p99Us)} (${r.scanDuring.count} scans, ${r.scanDuring.errors} failed) / ${ms(r.scanReference.p99Us)}`,
    ),
    row("… while the body streamed / after the last byte", (r) => `${ms(r.scanDuringBody.p99Us)} / ${ms(r.scanAfterBody.p99Us)}`),
    row("stored tree file", (r) => mib(r.treeBytes)),
    row("SQLite store after registration (database and the write-ahead log the one transaction left)", (r) => mib(r.storeBytes)),
    row("scan of a registered code as the CMO", (r) => r.scan),
  ];
  const section = [
    SECTION,
    "",
    `Command: \`${counts.length > 1 || counts[0] !== CLAIM ? `BENCH_UPLOAD_CODES=${counts.join(",")} ` : ""}${COMMAND}\` (bench/codes-upload.ts), ${new Date().toISOString().slice(0, 10)}, on ${machine}; load average (1 min) when the run started ${loadAtStart.toFixed(1)}, when it ended ${os.loadavg()[0]!.toFixed(1)}.`,
    `One released batch of N GS1 packs, seeded directly into a SQLite store with the root the codes module's tree writer builds; the API (createApp, code book over a temporary data directory) in a child process on 127.0.0.1; the CMO signs in (EIP-191 challenge) and streams the codes, printed as element strings, as one chunked text/plain body to POST /v1/batches/:batchId/codes. The server times its event loop with a ${TICK_MS} ms interval timer (the lateness of a tick is a stall: nothing else ran meanwhile) and reports its peak RSS (VmHWM); another client polls GET /healthz every ${PROBE_EVERY_MS} ms during the upload. Afterwards one code is scanned as the CMO and its Merkle proof checked against the root.`,
    "",
    ...table,
    "",
    // A paragraph each: a problem must not hide inside the one before it.
    verdict(results).join("\n\n"),
    "",
  ].join("\n");
  writeBenchmarkSection(section);
}

/** What the figures say about the OpenAPI claim, worded from the largest count measured. */
function verdict(results: Result[]): string[] {
  const largest = results.at(-1)!;
  const smallest = results[0]!;
  const worstStall = Math.max(largest.stats.phases.body.maxStallMs, largest.stats.phases["after-body"].maxStallMs);
  const lines = [
    `Verdict on "any number (10,000,000 and more)": ${largest.count.toLocaleString("en")} codes registered in one streamed body (root matched, the scan's proof checks)${largest.count >= CLAIM ? "" : `; ${CLAIM.toLocaleString("en")} was not measured`}.`,
  ];
  if (results.length > 1) {
    const ratio = largest.stats.vmHwmBytes / smallest.stats.vmHwmBytes;
    lines.push(
      `Memory: peak RSS ${mib(smallest.stats.vmHwmBytes)} at ${smallest.count.toLocaleString("en")} codes, ${mib(largest.stats.vmHwmBytes)} at ${largest.count.toLocaleString("en")} (× ${ratio.toFixed(1)} for × ${(largest.count / smallest.count).toFixed(0)} codes): ${ratio < 2 ? "bounded, not proportional to N" : "PROBLEM: it grows with N"}.`,
    );
  }
  if (results.length > 1) {
    const growth = largest.afterBodySeconds / smallest.afterBodySeconds;
    const scale = largest.count / smallest.count;
    if (growth > 1.5 * scale) {
      lines.push(
        `Time: after the last byte ${sec(smallest.afterBodySeconds)} at ${smallest.count.toLocaleString("en")} codes, ${sec(largest.afterBodySeconds)} at ${largest.count.toLocaleString("en")} (× ${growth.toFixed(0)} for × ${scale.toFixed(0)} codes): writing the batch_codes rows in one transaction grows faster than N (they go in the order the codes came, random for the primary-key index; bench/api.ts sorts its seed rows for the same reason).`,
      );
    }
  }
  // The issue's target: the server that takes a registration keeps answering (tree in a worker thread, rows in chunks).
  lines.push(
    `target registration event-loop stall: ${stall(worstStall)} (${(worstStall / STALL_BUDGET_MS).toFixed(2)}× the ${STALL_BUDGET_MS} ms budget) — ${worstStall <= STALL_BUDGET_MS ? "met" : "missed"}`,
  );
  const scanRatio = largest.scanDuring.p99Us / largest.scanReference.p99Us;
  lines.push(
    `target scan p99 during registration: ${ms(largest.scanDuring.p99Us)} (${scanRatio.toFixed(2)}× scan p99 without it ${ms(largest.scanReference.p99Us)}) — ${scanRatio <= SCAN_P99_BUDGET && largest.scanDuring.errors === 0 ? "met" : "missed"}`,
  );
  if (worstStall > STALL_BUDGET_MS) {
    lines.push(
      `The longest stall (${stall(worstStall)} at ${largest.count.toLocaleString("en")} codes) is over budget: the tree is built in a worker thread and rows written ${"2,000"} per transaction, and on a SQLite file the rows are written by a worker thread on its own connection, so what holds the loop is the machine's other load or something this run did not profile (run the child with --cpu-prof).`,
    );
  }
  if (largest.probe.slowest >= 1000) {
    lines.push(
      `PROBLEM: another client's GET /healthz waited up to ${stall(largest.probe.slowest)}${results.length > 1 ? ` (${stall(smallest.probe.slowest)} at ${smallest.count.toLocaleString("en")} codes)` : ""}.`,
    );
  }
  if (largest.probe.failures.length > 0) {
    lines.push(
      `PROBLEM: ${largest.probe.failures.length} of those requests failed (${largest.probe.failures.join("; ")}): reset by the server, most likely its 5 s keep-alive timer firing on the idle-looking connection as the stalled loop resumed.`,
    );
  }
  return lines;
}

const loadAtStart = os.loadavg()[0]!;

async function main() {
  // The API servers this bench starts run with its node flags.
  checkServiceFlags("bench:codes-upload");
  const results: Result[] = [];
  for (const count of counts) results.push(await measure(count));
  if (process.env.BENCH_UPLOAD_DRY) console.log("BENCH_UPLOAD_DRY: BENCHMARKS.md left as it is");
  else writeSection(results);
  fs.rmSync(DIR, { recursive: true, force: true });
}

if (process.argv[2] === "serve") {
  serve();
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
