/**
 * Scans while strangers flood the relay: anonymous pharmacies scan at a steady rate while 3 anonymous senders each
 * post 1.3 relay requests a second of 1.86 MB, attestations signed by keys no organization registered (the attack
 * reported in the issue: scan latency went from 3 ms to 2–4 s). Writes the "## Relay under attack" section of
 * BENCHMARKS.md, with scan latency and the server's CPU time per request for each run:
 * - scans alone (the reference);
 * - the attack (anonymous 1.86 MB bodies);
 * - the same senders with bodies just under the anonymous limit (about 60 KB), which the relay reads, validates and
 *   recovers the signer of before refusing the unknown key;
 * - the same 1.86 MB bodies from a signed-in organization (a token lifts the limit to 2 MB; such a sender is
 *   identified and answerable).
 *
 * A released batch of 20,000 packs is seeded directly into a SQLite store (bench/released-batch.ts) and its codes
 * registered through the API; the API with its relay runs in a child process, the senders in another, the scanning
 * client in this one, all on 127.0.0.1. The relay's chain node is an address on loopback where nothing listens: no
 * request of the attack may reach it, and one that did would fail and be counted.
 *
 *   npm run bench:relay-attack
 *   BENCH_RELAY_ATTACK_SECONDS=10 npm run bench:relay-attack   seconds per run (default 20)
 *   BENCH_RELAY_ATTACK_DRY=1 npm run bench:relay-attack        measure without writing BENCHMARKS.md
 */
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Wallet, hexlify } from "ethers";
import { createApp } from "../src/api/app";
import { createCodeBook } from "../src/api/codebook";
import { DEFAULT_RECALL_DEADLINES, signAttestation } from "../src/ledger";
import { createRelay, relayRoutes } from "../src/api/relay";
import { silentLogger } from "../src/log";
import { createStore } from "../src/store";
import { writeBenchmarkSection } from "./benchmarks-file";
import { procCpuSeconds } from "./proc-cpu";
import { CMO_KEY, seedStore, signIn, upload, writeCodes } from "./released-batch";

const COMMAND = "npm run bench:relay-attack";
const ROOT = path.resolve(__dirname, "..");
const DIR = path.join(ROOT, ".data", "bench", "relay-attack");
const SECTION = "## Relay under attack";

const CODES = 20_000;
const SCAN_RATE = 100;
const SCAN_CONNECTIONS = 10;
const SENDERS = 3;
const SENDER_RATE = 1.3;
const ATTACK_BYTES = 1_860_000;
const UNDER_LIMIT_BYTES = 60_000;
const TARGET_RATIO = 2;
const WARM_UP_SECONDS = 5;
/** Each condition's time is split into this many slices, taken in turns. */
const ROUNDS = 10;
const runSeconds = Number(process.env.BENCH_RELAY_ATTACK_SECONDS ?? 20);

/** Where the relay would send transactions: loopback's discard port, where nothing listens. */
const NO_NODE = "http://127.0.0.1:9";
const DEPLOYMENT = {
  chainId: 31337,
  contracts: {
    ConsortiumRegistry: `0x${"11".repeat(20)}`,
    ProductRegistry: `0x${"22".repeat(20)}`,
    BatchLedger: `0x${"33".repeat(20)}`,
    AggregationLedger: `0x${"44".repeat(20)}`,
    AlertCases: `0x${"44".repeat(20)}`,
    CorrectiveActions: `0x${"55".repeat(20)}`,
    QualityDuties: `0x${"55".repeat(20)}`,
    SupervisionRecords: `0x${"66".repeat(20)}`,
  },
};

// ----------------------------------------------------------------------------------------------------------------
// The API under test (child process)
// ----------------------------------------------------------------------------------------------------------------

function serve() {
  const dataDir = process.env.BENCH_RELAY_DATA!;
  const store = createStore(process.env.BENCH_RELAY_DB!);
  const relay = createRelay({ rpcUrl: NO_NODE, relayerKey: Wallet.createRandom().privateKey, deployment: DEPLOYMENT, store });
  const app = createApp(
    {
      store,
      log: silentLogger(),
      config: {
        secret: Buffer.from(process.env.BENCH_RELAY_SECRET!, "hex"),
        tokenLifetime: 3600,
        recallDeadlines: DEFAULT_RECALL_DEADLINES,
        // Every client here is 127.0.0.1; the senders' 1.3 requests/s each stay under the deployed default of 600/min.
        publicRateLimit: 1_000_000_000,
        dataDir,
      },
      codes: createCodeBook(store, dataDir),
      now: () => Math.floor(Date.now() / 1000),
    },
    relayRoutes(relay),
  );
  const server = app.listen(0, "127.0.0.1", () => process.send?.({ port: (server.address() as AddressInfo).port }));
  server.keepAliveTimeout = 60_000;
  process.once("SIGTERM", () => process.exit(0));
  process.once("disconnect", () => process.exit(0));
}

// ----------------------------------------------------------------------------------------------------------------
// The senders (child process)
// ----------------------------------------------------------------------------------------------------------------

type Attack = { url: string; bytes: number; token?: string };
type AttackResult = { sent: number; statuses: Record<string, number> };

/**
 * A relay body of about `bytes`: dispensings of random packs with proofs, each signed by a fresh random key (valid
 * signatures of keys no organization registered), as many attestations as the per-array limit of 10,000 needs.
 */
async function attackBody(bytes: number): Promise<Buffer> {
  // One pack, one proof node and one flag take about 143 bytes of JSON.
  const units = Math.round(bytes / 143);
  const perAttestation = Math.min(units, 6_500);
  const attestations = [];
  for (let left = units; left > 0; left -= perAttestation) {
    const count = Math.min(left, perAttestation);
    const random32 = () => hexlify(randomBytes(32));
    const message = { dispenserId: 7, nonce: BigInt(hexlify(randomBytes(31))), batchId: random32(), packs: Array.from({ length: count }, random32) };
    const domain = { contract: "BatchLedger" as const, chainId: BigInt(DEPLOYMENT.chainId), verifyingContract: DEPLOYMENT.contracts.BatchLedger };
    const signature = await signAttestation(Wallet.createRandom(), { domain, type: "Dispensing", message });
    attestations.push({
      contract: "BatchLedger",
      type: "Dispensing",
      message: { ...message, nonce: message.nonce.toString() },
      signature,
      proof: Array.from({ length: count }, random32),
      proofFlags: Array.from({ length: count }, (_, i) => i % 2 === 0),
    });
  }
  return Buffer.from(JSON.stringify({ attestations }));
}

/** One request; its answer's status, or the connection error a sender saw. */
function post(url: URL, body: Buffer, token: string | undefined): Promise<string> {
  const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": body.length };
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve) => {
    const req = http.request({ hostname: url.hostname, port: url.port, method: "POST", path: "/v1/attestations", headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(String(res.statusCode)));
    });
    // A server that refuses a body before reading it may close the connection while it is still being sent.
    req.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
    req.end(body);
  });
}

/**
 * The senders' process: builds one body per sender, then on each `{ seconds }` every sender posts its body 1.3 times
 * a second, whether or not its last request was answered, and the tally of answers goes back.
 */
function senders() {
  process.once("message", async ({ url, bytes, token }: Attack) => {
    const bodies = await Promise.all(Array.from({ length: SENDERS }, () => attackBody(bytes)));
    console.log(
      `  senders of ${kb(bytes)}${token ? ", signed in" : ""} ready: bodies of ${bodies.map((b) => b.length.toLocaleString("en")).join(", ")} bytes`,
    );
    process.on("message", async ({ seconds }: { seconds: number }) => {
      const result: AttackResult = { sent: 0, statuses: {} };
      const answers: Promise<void>[] = [];
      const started = performance.now();
      for (let tick = 0; (tick * 1000) / SENDER_RATE < seconds * 1000; tick++) {
        await sleep(Math.max(0, started + (tick * 1000) / SENDER_RATE - performance.now()));
        for (const body of bodies) {
          result.sent++;
          answers.push(post(new URL(url), body, token).then((status) => void (result.statuses[status] = (result.statuses[status] ?? 0) + 1)));
        }
      }
      await Promise.all(answers);
      process.send?.(result);
    });
    process.send?.("ready");
  });
  process.once("disconnect", () => process.exit(0));
}

type Senders = { burst(seconds: number): Promise<AttackResult>; stop(): void };

async function startSenders(attack: Attack): Promise<Senders> {
  const child = fork(__filename, ["senders"], { execArgv: process.execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  // The attacker's own work (building and writing megabytes) would be on its machine, not the server's: here it
  // yields the shared cores to the server and the scanning client.
  os.setPriority(child.pid!, 19);
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`the senders exited with ${code}`))));
  exited.catch(() => undefined);
  const next = <T>() => Promise.race([new Promise<T>((resolve) => child.once("message", resolve)), exited]);
  child.send(attack);
  await next();
  return {
    burst(seconds) {
      child.send({ seconds });
      return next<AttackResult>();
    },
    stop: () => child.disconnect(),
  };
}

// ----------------------------------------------------------------------------------------------------------------
// Measurement
// ----------------------------------------------------------------------------------------------------------------

type ScanRun = { latencies: number[]; failures: string[] };

/**
 * Scans offered at SCAN_RATE a second over at most SCAN_CONNECTIONS connections, each timed from when it was due
 * (not from when a connection was free), so a server that falls behind is charged for the wait it causes.
 */
async function scanRun(port: number, codes: string[], seconds: number): Promise<ScanRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SCAN_CONNECTIONS });
  const run: ScanRun = { latencies: [], failures: [] };
  const answered: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < SCAN_RATE * seconds; i++) {
    const due = started + (i * 1000) / SCAN_RATE;
    await sleep(Math.max(0, due - performance.now()));
    const body = JSON.stringify({ code: codes[i % codes.length] });
    answered.push(
      new Promise<void>((resolve) => {
        const req = http.request(
          { agent, host: "127.0.0.1", port, method: "POST", path: "/v1/scans", headers: { "content-type": "application/json" } },
          (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (text += chunk));
            res.on("end", () => {
              run.latencies.push(performance.now() - due);
              if (res.statusCode !== 200 || (JSON.parse(text) as { verdict?: string }).verdict !== "GENUINE")
                run.failures.push(`${res.statusCode} ${text.slice(0, 200)}`);
              resolve();
            });
          },
        );
        req.on("error", (error) => {
          run.failures.push(error.message);
          resolve();
        });
        req.end(body);
      }),
    );
  }
  await Promise.all(answered);
  agent.destroy();
  return run;
}

type Row = { what: string; scans: ScanRun; cpuSeconds: number; attack?: AttackResult };
type Condition = { row: Row; senders?: Senders };

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const ms = (value: number) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;

function latency(run: ScanRun) {
  const sorted = [...run.latencies].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)! };
}

/** One slice of a condition: scans for `seconds`, with its senders posting meanwhile; adds to the condition's row. */
async function measureSlice(server: ChildProcess, port: number, codes: string[], { row, senders }: Condition, seconds: number) {
  const cpuBefore = procCpuSeconds(`/proc/${server.pid}/stat`) ?? NaN;
  const [scans, attacked] = await Promise.all([scanRun(port, codes, seconds), senders?.burst(seconds)]);
  row.cpuSeconds += (procCpuSeconds(`/proc/${server.pid}/stat`) ?? NaN) - cpuBefore;
  if (scans.failures.length > 0) throw new Error(`${row.what}: ${scans.failures.length} scans failed, first: ${scans.failures[0]}`);
  row.scans.latencies.push(...scans.latencies);
  if (attacked) {
    row.attack ??= { sent: 0, statuses: {} };
    row.attack.sent += attacked.sent;
    for (const [status, n] of Object.entries(attacked.statuses)) row.attack.statuses[status] = (row.attack.statuses[status] ?? 0) + n;
  }
  const { p50, p99 } = latency(scans);
  console.log(
    `  ${row.what}, ${seconds} s: scans p50 ${ms(p50)}, p99 ${ms(p99)}${attacked ? `; relay answers ${JSON.stringify(attacked.statuses)}` : ""}`,
  );
}

async function main() {
  fs.rmSync(DIR, { recursive: true, force: true });
  fs.mkdirSync(DIR, { recursive: true });
  const codesFile = path.join(DIR, "codes.txt");
  const dbFile = path.join(DIR, "store.sqlite");
  const { root } = await writeCodes(CODES, codesFile, DIR);
  const batchId = await seedStore(dbFile, CODES, root);
  const child = fork(__filename, ["serve"], {
    execArgv: process.execArgv,
    env: { ...process.env, BENCH_RELAY_DB: dbFile, BENCH_RELAY_DATA: path.join(DIR, "data"), BENCH_RELAY_SECRET: randomBytes(32).toString("hex") },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  prioritized = favour(child.pid!);
  const conditions: Condition[] = [];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once("message", (message: { port: number }) => resolve(message.port));
      child.once("exit", (code) => reject(new Error(`the API process exited with ${code}`)));
    });
    const url = `http://127.0.0.1:${port}`;
    const token = await signIn(url, CMO_KEY);
    const registered = await upload(port, batchId, token, codesFile);
    if (registered.status !== 201) throw new Error(`code registration answered ${registered.status}: ${registered.body.slice(0, 300)}`);
    const codes = fs.readFileSync(codesFile, "utf8").trim().split("\n");
    const condition = async (what: string, attack?: Attack): Promise<Condition> => ({
      row: { what, scans: { latencies: [], failures: [] }, cpuSeconds: 0 },
      senders: attack && (await startSenders(attack)),
    });
    conditions.push(
      await condition("scans alone"),
      await condition(`the attack: ${SENDERS} anonymous senders × ${SENDER_RATE}/s of ${mb(ATTACK_BYTES)} bodies`, { url, bytes: ATTACK_BYTES }),
      await condition(`the same senders, bodies of ${kb(UNDER_LIMIT_BYTES)} (under the anonymous limit)`, { url, bytes: UNDER_LIMIT_BYTES }),
      await condition(`the same ${mb(ATTACK_BYTES)} bodies from a signed-in organization`, { url, bytes: ATTACK_BYTES, token }),
    );
    console.log(`${CODES.toLocaleString("en")} codes registered; warming up`);
    await scanRun(port, codes, WARM_UP_SECONDS);
    // Conditions take turns in short slices, so the load other work puts on the machine falls on each alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const each of conditions) await measureSlice(child, port, codes, each, runSeconds / ROUNDS);
    }
    const rows = conditions.map((each) => each.row);
    for (const row of rows) {
      const { p50, p99, max } = latency(row.scans);
      console.log(
        `${row.what}: scans p50 ${ms(p50)}, p99 ${ms(p99)}, max ${ms(max)}; server CPU ${row.cpuSeconds.toFixed(2)} s${row.attack ? `; relay answers ${JSON.stringify(row.attack.statuses)}` : ""}`,
      );
    }
    if (!process.env.BENCH_RELAY_ATTACK_DRY) writeSection(rows);
  } finally {
    for (const each of conditions) each.senders?.stop();
    child.kill("SIGTERM");
    fs.rmSync(DIR, { recursive: true, force: true });
  }
}

/** Whether the API and the scanning client run ahead of other work (BENCH_RELAY_ATTACK_NICE, default -10). */
let prioritized = false;

/**
 * On a machine others share, scans would mostly measure the queue for its cores. The API and the scanning client
 * ask for a higher priority (root may grant it), so the figures are the API's own; the senders already yield.
 */
function favour(serverPid: number): boolean {
  const nice = Number(process.env.BENCH_RELAY_ATTACK_NICE ?? -10);
  try {
    os.setPriority(serverPid, nice);
    os.setPriority(nice);
    return nice < 0;
  } catch {
    return false;
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const kb = (bytes: number) => `${(bytes / 1e3).toFixed(0)} KB`;

function writeSection(rows: Row[]) {
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const [alone, attack] = [rows[0]!, rows[1]!];
  const reference = latency(alone.scans).p99;
  const underAttack = latency(attack.scans).p99;
  const ratio = underAttack / reference;
  const scanCpu = alone.cpuSeconds / alone.scans.latencies.length;
  const table = [
    "| run | scans answered | scan p50 | scan p99 | scan max | relay answers | server CPU per request | … per relay request, scans' share taken out |",
    "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ...rows.map((row) => {
      const { p50, p99, max } = latency(row.scans);
      const requests = row.scans.latencies.length + (row.attack?.sent ?? 0);
      const relayCpu = row.attack ? (row.cpuSeconds - scanCpu * row.scans.latencies.length) / row.attack.sent : undefined;
      const answers = row.attack
        ? Object.entries(row.attack.statuses)
            .map(([status, n]) => `${n} × ${status}`)
            .join(", ")
        : "";
      return `| ${row.what} | ${row.scans.latencies.length} | ${ms(p50)} | ${ms(p99)} | ${ms(max)} | ${answers} | ${ms((1000 * row.cpuSeconds) / requests)} | ${relayCpu === undefined ? "" : ms(1000 * Math.max(0, relayCpu))} |`;
    }),
  ];
  const section = [
    SECTION,
    "",
    `Command: \`${COMMAND}\` (bench/relay-attack.ts), ${new Date().toISOString().slice(0, 10)}, on ${machine}; load average (1 min) when the run started ${loadAtStart.toFixed(1)}, when it ended ${os.loadavg()[0]!.toFixed(1)} (other work on the machine slows every figure).`,
    `Anonymous scans of a released batch's registered codes (${CODES.toLocaleString("en")} packs) offered at ${SCAN_RATE}/s over up to ${SCAN_CONNECTIONS} connections for ${runSeconds} s per condition, in ${ROUNDS} slices of ${runSeconds / ROUNDS} s taken in turns with the other conditions' (so other work on the machine falls on each alike), after a ${WARM_UP_SECONDS} s warm-up; each scan is timed from when it was due, every verdict checked GENUINE. Meanwhile ${SENDERS} senders (another process) each post a relay request ${SENDER_RATE} times a second, whether or not the last was answered: dispensings of random packs signed by fresh random keys. The API (one process, its relay's chain node an address where nothing listens) and both clients run on 127.0.0.1; the public rate limit is lifted, as every client here has one address. ${prioritized ? "The API and the scanning client run at nice -10, the senders at 19 (the attacker's own work would be on its machine), so other work on this shared machine weighs less on the figures." : "The senders run at nice 19 (the attacker's own work would be on its machine)."} Server CPU is user + system time from /proc/PID/stat over the run (1/100 s ticks), per request answered; the last column takes out the scans' share measured alone.`,
    "",
    ...table,
    "",
    `target relay-attack-scan-p99: ${ms(underAttack)} (${ratio.toFixed(2)}× ${ms(reference)}) — ${ratio <= TARGET_RATIO ? "met" : "missed"}`,
    "",
    // A paragraph each.
    verdict(rows, scanCpu).join("\n\n"),
    "",
  ].join("\n");
  writeBenchmarkSection(section);
}

/** What the figures say, worded from them: a paragraph each. */
function verdict(rows: Row[], scanCpu: number): string[] {
  const relayCpu = (row: Row) => (row.cpuSeconds - scanCpu * row.scans.latencies.length) / row.attack!.sent;
  const [, attack, underLimit, signedIn] = rows as [Row, Row, Row, Row];
  const busy = Math.max(loadAtStart, os.loadavg()[0]!) > os.cpus().length;
  return [
    `The target is scan p99 under the attack within ${TARGET_RATIO}× of scan p99 without it. An anonymous relay body over 64 KB is refused 413 on its Content-Length and never parsed: ${ms(1000 * Math.max(0, relayCpu(attack)))} of server CPU per request, against ${ms(1000 * scanCpu)} per scan. Under the limit, an unknown key is refused once libsecp256k1 has recovered it, before the contract call is encoded: ${ms(1000 * Math.max(0, relayCpu(underLimit)))} per request.`,
    ...(busy
      ? [
          `The machine was busier than its ${os.cpus().length} cores during the run: the scans' p50 is their own time, their p99 mostly the wait for a core, alike in every row (the slices alternate); CPU time is moved less by it.`,
        ]
      : []),
    `Not covered by the limit: a signed-in organization may send 2 MB, and such a body signed by unknown keys costs ${ms(1000 * Math.max(0, relayCpu(signedIn)))} of the event loop (mostly validating its ${Math.round(ATTACK_BYTES / 143).toLocaleString("en")} packs and as many proof nodes against the schema) before the refusal; such a sender is a signed-in organization, which can be suspended.`,
  ];
}

const loadAtStart = os.loadavg()[0]!;

if (process.argv[2] === "serve") {
  serve();
} else if (process.argv[2] === "senders") {
  senders();
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
