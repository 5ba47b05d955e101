/**
 * Indexer benchmark: a chain of ≥ 100,000 ledger events on a local node, then backfill events/s into SQLite (a file)
 * and into PostgreSQL (a fresh database), and follow-mode latency from a mined transaction to its event being
 * visible in the store. Writes the "## Indexer" section of BENCHMARKS.md.
 *
 * Environment: BENCH_INDEXER_EVENTS (default 100000), BENCH_INDEXER_POSTGRES (admin URL, default
 * postgres://postgres@127.0.0.1:5432/postgres; "off" to skip), BENCH_INDEXER_WRITE=0 to leave BENCHMARKS.md alone,
 * BENCH_INDEXER_STEPS (default "sqlite,postgres,follow"), BENCH_INDEXER_RPC (the URL of a node already running,
 * e.g. one started with `BENCH_NODE_PORT=8546 node --require ts-node/register/transpile-only --require
 * hardhat/register bench/indexer-node.ts`: the history is replayed only if the node does not have it yet).
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { id as hashText, JsonRpcProvider, keccak256, Wallet } from "ethers";
import pg from "pg";
import { DEFAULT_UNDO_WINDOW, Role } from "../src/ledger";
import type { LedgerContract } from "../src/ledger";
import { createIndexer, createRpcSource } from "../src/indexer";
import { fastDigest, fastSignature, recoverFast, recoverReference, signaturesReady } from "../src/indexer/signatures";
import type { AttestationToVerify } from "../src/indexer/signatures";
import type { Deployment } from "../src/indexer";
import { silentLogger } from "../src/log";
import { createStore } from "../src/store";
import type { Store } from "../src/store";
import {
  AggregationLedger__factory,
  AlertCases__factory,
  BatchLedger__factory,
  ConsortiumRegistry__factory,
  ProductRegistry__factory,
} from "../typechain-types";
import { benchChain, CHAIN_ID } from "./indexer-chain";
import type { BenchChain, ChainTx } from "./indexer-chain";
import { writeBenchmarkSection } from "./benchmarks-file";
import { procCpuSeconds } from "./proc-cpu";

const COMMAND = "npm run bench:indexer";
const ROOT = path.resolve(__dirname, "..");
const SECTION = "## Indexer";
const TARGET_EVENTS = Number(process.env.BENCH_INDEXER_EVENTS ?? 100_000);
const POSTGRES_ADMIN = process.env.BENCH_INDEXER_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/postgres";
const FOLLOW_SAMPLES = 50;
const STEPS = new Set((process.env.BENCH_INDEXER_STEPS ?? "sqlite,postgres,follow").split(","));
const TARGETS = { sqlite: 20_000, postgres: 10_000, followMs: 200 };

type Row = { what: string; figure: string; target: string; verdict: string };
const rows: Row[] = [];
const notes: string[] = [];

function record(what: string, figure: string, target = "", met?: boolean): void {
  rows.push({ what, figure, target, verdict: met === undefined ? "" : met ? "met" : "MISSED" });
  console.log(`${what}: ${figure}${target ? ` (target ${target})` : ""}`);
}

const fmt = (n: number) => Math.round(n).toLocaleString("en");

/** Starts the node in its own process and returns its URL. */
async function startNode(): Promise<{ url: string; child: ChildProcess }> {
  // What `hardhat run` would spawn, started directly so that the pid is the node's own.
  const child = spawn(process.execPath, ["--require", "ts-node/register/transpile-only", "--require", "hardhat/register", "bench/indexer-node.ts"], {
    cwd: ROOT,
    env: { ...process.env, BENCH_NODE_PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const found = /listening (http:\/\/\S+)/.exec(out);
      if (found) resolve(found[1]!);
    });
    child.once("exit", (code) => reject(new Error(`the node exited with ${code} before listening`)));
  });
  return { url, child };
}

async function stopNode(child: ChildProcess) {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(child.pid, "SIGTERM");
  await Promise.race([exited, sleep(5_000)]);
  if (child.exitCode === null) process.kill(child.pid, "SIGKILL");
}

/** Deploys the ledger at the addresses the chain was signed for, then replays its history. */
async function buildChain(provider: JsonRpcProvider, chain: BenchChain, deployer: string): Promise<Deployment> {
  const signer = await provider.getSigner(deployer);
  const registry = await new ConsortiumRegistry__factory(signer).deploy({
    regulatorId: 0,
    nonce: 0,
    role: Role.Regulator,
    region: 320000,
    licenceHash: hashText("licence Jiangsu MPA"),
    signingKey: chain.bootstrapRegulator,
    name: "Jiangsu MPA",
  });
  const products = await new ProductRegistry__factory(signer).deploy(await registry.getAddress());
  const batches = await new BatchLedger__factory(signer).deploy(await registry.getAddress(), await products.getAddress(), DEFAULT_UNDO_WINDOW);
  const aggregations = await new AggregationLedger__factory(signer).deploy(await registry.getAddress(), await batches.getAddress());
  await aggregations.waitForDeployment();
  const alertCases = await new AlertCases__factory(signer).deploy(await registry.getAddress(), await batches.getAddress());
  await alertCases.waitForDeployment();
  const deployed: Record<LedgerContract, string> = {
    ConsortiumRegistry: await registry.getAddress(),
    ProductRegistry: await products.getAddress(),
    BatchLedger: await batches.getAddress(),
    AggregationLedger: await aggregations.getAddress(),
    AlertCases: await alertCases.getAddress(),
  };
  if (JSON.stringify(deployed) !== JSON.stringify(chain.contracts)) {
    throw new Error(`contracts deployed at ${JSON.stringify(deployed)}, the chain was signed for ${JSON.stringify(chain.contracts)}`);
  }
  const started = Date.now();
  let sent = 0;
  for (const tx of chain.history) {
    await send(provider, deployer, chain, tx);
    sent += tx.attestations;
    if (sent % 20_000 < tx.attestations) console.log(`  replayed ${fmt(sent)} attestations (${Math.round((Date.now() - started) / 1000)} s)`);
  }
  console.log(`chain: ${chain.history.length} transactions replayed in ${Math.round((Date.now() - started) / 1000)} s`);
  return { chainId: CHAIN_ID, contracts: chain.contracts };
}

/** Sends one transaction; the node mines it before answering (automine) and refuses one that reverts. */
function send(provider: JsonRpcProvider, from: string, chain: BenchChain, tx: ChainTx): Promise<string> {
  return provider.send("eth_sendTransaction", [{ from, to: chain.contracts[tx.contract], data: tx.data, gas: "0x1BA8140" }]);
}

let nodePid: number | undefined = process.env.BENCH_INDEXER_NODE_PID ? Number(process.env.BENCH_INDEXER_NODE_PID) : undefined;

/** CPU seconds used so far by this process's main thread and by its other threads (Linux /proc). */
function threadCpuSeconds(): { main: number; others: number } {
  const used = { main: 0, others: 0 };
  try {
    for (const tid of fs.readdirSync("/proc/self/task")) {
      const seconds = procCpuSeconds(`/proc/self/task/${tid}/stat`) ?? 0;
      if (Number(tid) === process.pid) used.main += seconds;
      else used.others += seconds;
    }
  } catch {
    // not Linux: no split
  }
  return used;
}

/** CPU seconds used so far by the machine's PostgreSQL server processes (Linux /proc; those that ran throughout). */
function postgresCpuSeconds(): Map<number, number> {
  const used = new Map<number, number>();
  try {
    for (const pid of fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        if (!stat.includes("(postgres)")) continue;
        used.set(Number(pid), procCpuSeconds(`/proc/${pid}/stat`) ?? 0);
      } catch {
        // the process ended
      }
    }
  } catch {
    // not Linux
  }
  return used;
}

/** CPU seconds the node process has used so far (Linux /proc), if known. */
function nodeCpuSeconds(): number | undefined {
  return nodePid === undefined ? undefined : procCpuSeconds(`/proc/${nodePid}/stat`);
}

async function adminQuery(sql: string) {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Indexes the whole chain into a fresh store; returns events/s and checks every event arrived verified. */
async function backfill(store: Store, url: string, deployment: Deployment, chain: BenchChain): Promise<Backfilled> {
  await store.migrate();
  const source = createRpcSource(url);
  const indexer = createIndexer({ source, store, deployment, log: silentLogger() });
  const threads = threadCpuSeconds();
  const node = nodeCpuSeconds();
  const postgresBefore = postgresCpuSeconds();
  const started = performance.now();
  await indexer.catchUp();
  const seconds = (performance.now() - started) / 1000;
  const after = threadCpuSeconds();
  const main = after.main - threads.main;
  const others = after.others - threads.others;
  const nodeUsed = node === undefined ? undefined : nodeCpuSeconds()! - node;
  // Backends started during the run (the indexer's connections) count from zero.
  const postgresUsed = [...postgresCpuSeconds()].reduce((sum, [pid, seconds]) => sum + seconds - (postgresBefore.get(pid) ?? 0), 0);
  source.close();
  const counts = await store.db
    .selectFrom("ledger_events")
    .select(["verification", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("verification")
    .execute();
  const byVerification = Object.fromEntries(counts.map((c) => [c.verification, Number(c.n)]));
  const total = Object.values(byVerification).reduce((a, b) => a + b, 0);
  const problems = await store.db
    .selectFrom("ledger_events")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("problem", "is not", null)
    .executeTakeFirstOrThrow();
  if (total !== chain.events || byVerification.verified !== chain.events - 1 || Number(problems.n) !== 0) {
    throw new Error(`indexed ${JSON.stringify(byVerification)} with ${problems.n} problems; the chain has ${chain.events} events`);
  }
  console.log(
    `  ${fmt(total)} events in ${seconds.toFixed(2)} s; CPU: main thread ${main.toFixed(1)} s, other threads ${others.toFixed(1)} s${nodeUsed === undefined ? "" : `, node ${nodeUsed.toFixed(1)} s`}${
      store.dialect === "postgres" ? `, PostgreSQL ${postgresUsed.toFixed(1)} s` : ""
    }`,
  );
  return { rate: total / seconds, seconds, main, others, node: nodeUsed, postgres: store.dialect === "postgres" ? postgresUsed : undefined };
}

/** Follows the chain and times, per sample, sending a one-attestation transaction until its event is in the store. */
async function followLatency(
  store: Store,
  url: string,
  deployment: Deployment,
  provider: JsonRpcProvider,
  deployer: string,
  chain: BenchChain,
  samples: ChainTx[],
) {
  const source = createRpcSource(url);
  const indexer = createIndexer({ source, store, deployment, log: silentLogger() });
  await indexer.catchUp();
  const stop = new AbortController();
  const following = indexer.follow(stop.signal);
  const latencies: number[] = [];
  try {
    for (const tx of samples) {
      await sleep(20 + Math.random() * 130);
      const started = performance.now();
      const hash = String(await send(provider, deployer, chain, tx)).toLowerCase();
      for (;;) {
        const row = await store.db.selectFrom("ledger_events").select("verification").where("tx_hash", "=", hash).executeTakeFirst();
        if (row) {
          if (row.verification !== "verified") throw new Error(`follow sample ${hash} indexed as ${row.verification}`);
          break;
        }
        if (performance.now() - started > 30_000) throw new Error(`follow sample ${hash} not indexed within 30 s`);
        await sleep(1);
      }
      latencies.push(performance.now() - started);
    }
  } finally {
    stop.abort();
    await following;
    source.close();
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]!;
  return { p50: at(0.5), p95: at(0.95), max: latencies[latencies.length - 1]! };
}

function writeSection(chain: BenchChain, blocks: number): void {
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const mix = Object.entries(chain.mix)
    .sort((a, b) => b[1] - a[1])
    .map(([name, n]) => `${name} ${fmt(n)}`)
    .join(", ");
  const table = [
    "| measurement | figure | target | |",
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.what} | ${r.figure} | ${r.target} | ${r.verdict} |`),
  ];
  const section = [
    SECTION,
    "",
    `Command: \`${COMMAND}\` (bench/indexer.ts), ${new Date().toISOString().slice(0, 10)}, on ${machine}.`,
    `Chain: ${fmt(chain.events)} ledger events in ${fmt(chain.history.length)} multicall transactions (${blocks} blocks), served over JSON-RPC on 127.0.0.1 by Hardhat's network in a separate process; every event's EIP-712 signature is re-verified. Mix: ${mix}.`,
    "Backfill: from an empty store to the chain head (`catchUp()`: eth_getLogs, blocks, decode, signature recovery, read model, one transaction per range with the checkpoint); SQLite is a file (WAL), PostgreSQL a fresh database on 127.0.0.1. Follow: the indexer follows the chain in the benchmark's process; each sample sends a one-attestation transaction (mined on arrival) and polls the store until its event is there, timed from sending.",
    ...notes,
    "",
    ...table,
    "",
  ].join("\n");
  writeBenchmarkSection(section);
}

/**
 * What verifying one attestation costs on one thread, in µs: the fast path's recovery (libsecp256k1 via
 * `secp256k1`; its digest costs a few µs more) and the reference (ethers' verifyTypedData, digest included).
 */
function verificationMicros(): { fast: number; reference: number } {
  const key = new Wallet(keccak256(Buffer.from("bench-indexer recovery")));
  const attestation: AttestationToVerify = {
    contract: "BatchLedger",
    chainId: BigInt(CHAIN_ID),
    verifyingContract: "0x9fe46736679d2d9a65f0367e5d3b8bad7b9bd79a",
    type: "Shipment",
    message: {
      shipperId: 3,
      nonce: "340282366920938463463374607431768211456",
      batchId: keccak256("0x01"),
      recipientId: 7,
      quantity: 60,
      codesRoot: keccak256("0x02"),
    },
  };
  const digest = fastDigest(attestation)!;
  const signature = key.signingKey.sign(digest).serialized;
  const bytes = fastSignature(signature)!;
  // CPU time, not wall time: other work on the machine would otherwise inflate it (nothing else of this process
  // runs meanwhile).
  const timed = (runs: number, work: () => void) => {
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const started = process.cpuUsage();
      for (let i = 0; i < runs; i++) work();
      const used = process.cpuUsage(started);
      best = Math.min(best, (used.user + used.system) / runs);
    }
    return best;
  };
  return { fast: timed(5_000, () => recoverFast(digest, bytes)), reference: timed(200, () => recoverReference(attestation, signature)) };
}

type Backfilled = { rate: number; seconds: number; main: number; others: number; node?: number; postgres?: number };

/** A fresh PostgreSQL database for the benchmark, dropped by `drop`. */
async function freshPostgres(): Promise<{ store: Store; drop(): Promise<void> }> {
  const name = `bench_indexer_${randomBytes(4).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const target = new URL(POSTGRES_ADMIN);
  target.pathname = `/${name}`;
  const store = createStore(target.toString());
  return {
    store,
    async drop() {
      await store.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${name}`);
    },
  };
}

const backfills: { what: string; result: Backfilled }[] = [];

function recordBackfill(what: string, target: number, result: Backfilled) {
  record(what, `${fmt(result.rate)} events/s`, `≥ ${fmt(target)}/s`, result.rate >= target);
  backfills.push({ what, result });
}

/** Where each backfill's CPU went, per event, and the throughput that CPU allows on this machine's cores. */
function boundNotes(events: number, { fast: recovery, reference }: { fast: number; reference: number }) {
  const cores = os.cpus().length;
  const per = (seconds: number) => `${fmt((seconds * 1e6) / events)} µs`;
  for (const { what, result } of backfills) {
    const cpu = result.main + result.others + (result.node ?? 0) + (result.postgres ?? 0);
    notes.push(
      `${what}, ${result.seconds.toFixed(1)} s. CPU per event: indexer main thread ${per(result.main)} (decode, digest, apply, write), its other threads ${per(result.others)} (signer recovery in workers, GC)${
        result.node === undefined ? "" : `, node ${per(result.node)} (serving the logs)`
      }${result.postgres === undefined ? "" : `, PostgreSQL server ${per(result.postgres)}`}: ${per(cpu)} in all, so ${cores} cores doing nothing else top out near ${fmt((events * cores) / cpu)} events/s.`,
    );
  }
  const node = backfills.find((b) => b.result.node !== undefined)?.result.node;
  const nodePer = node === undefined ? 0 : (node * 1e6) / events;
  const budget = (cores * 1e6) / TARGETS.sqlite;
  const rest = backfills.map(
    ({ what, result }) => `${fmt(((result.main + (result.postgres ?? 0)) * 1e6) / events)} µs (${what.replace("backfill into ", "")})`,
  );
  notes.push(
    `What bounds it: CPU. Re-verifying a signature is a public-key recovery, ${recovery.toFixed(0)} µs with libsecp256k1 on one of these cores (the reference, ethers' verifyTypedData, takes ${fmt(reference)} µs)${
      node === undefined ? "" : `, and the node on the same machine spends about ${fmt(nodePer)} µs serving each log`
    }. ${fmt(TARGETS.sqlite)} events/s on ${cores} cores allows ${fmt(budget)} µs of CPU per event for everything, leaving ${
      budget - recovery - nodePer > 0 ? `about ${fmt(budget - recovery - nodePer)} µs` : "nothing"
    } for the indexer's main thread and the database, which take ${rest.join(", ")}.`,
  );
}

async function main() {
  await signaturesReady();
  const load = os.loadavg()[0]!;
  const external = process.env.BENCH_INDEXER_RPC;
  const { url, child } = external ? { url: external, child: undefined } : await startNode();
  console.log(`node: ${url}${child ? ` (pid ${child.pid})` : ""}`);
  nodePid ??= child?.pid;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-indexer-"));
  const provider = new JsonRpcProvider(url, CHAIN_ID, { staticNetwork: true });
  const stores: { close(): Promise<void> }[] = [];
  try {
    const [deployer] = (await provider.send("eth_accounts", [])) as string[];
    const generating = Date.now();
    const chain = await benchChain({
      targetEvents: TARGET_EVENTS,
      deployer: deployer!,
      cacheDir: path.join(ROOT, ".data", "bench"),
      workers: Math.max(1, os.cpus().length),
    });
    const generated = (Date.now() - generating) / 1000;
    const replaying = Date.now();
    const replayed = external && (await provider.getCode(chain.contracts.BatchLedger)) !== "0x";
    const deployment = replayed ? { chainId: CHAIN_ID, contracts: chain.contracts } : await buildChain(provider, chain, deployer!);
    const replay = (Date.now() - replaying) / 1000;
    const blocks = await provider.getBlockNumber();
    const generation = chain.generatedIn === undefined ? "" : ` in ${chain.generatedIn.toFixed(0)} s with ${os.cpus().length} worker threads`;
    notes.push(
      `Chain generation: planned, signed with ethers Wallets and encoded${generation}, ${chain.cached ? `cached in .data/bench and loaded from there by this run (${generated.toFixed(0)} s)` : "then cached in .data/bench"}; deployment and replay of its transactions on the node: ${replayed ? "already there" : `${replay.toFixed(0)} s`}.`,
    );

    const sqlite = createStore(path.join(dir, "ledger.sqlite"));
    stores.push(sqlite);
    if (STEPS.has("sqlite")) {
      console.log("backfill into SQLite");
      recordBackfill("backfill into SQLite (file)", TARGETS.sqlite, await backfill(sqlite, url, deployment, chain));
    }
    let postgres: Awaited<ReturnType<typeof freshPostgres>> | undefined;
    if (POSTGRES_ADMIN !== "off" && STEPS.has("postgres")) {
      console.log("backfill into PostgreSQL");
      postgres = await freshPostgres();
      stores.push({ close: postgres.drop });
      recordBackfill("backfill into PostgreSQL", TARGETS.postgres, await backfill(postgres.store, url, deployment, chain));
    }
    boundNotes(chain.events, verificationMicros());

    if (STEPS.has("follow")) {
      console.log("follow mode");
      const show = (l: { p50: number; p95: number; max: number }) =>
        `p50 ${l.p50.toFixed(0)} ms, p95 ${l.p95.toFixed(0)} ms, max ${l.max.toFixed(0)} ms`;
      const targets: [string, Store][] = [["SQLite", sqlite]];
      if (postgres) targets.push(["PostgreSQL", postgres.store]);
      for (const [i, [name, store]] of targets.entries()) {
        const samples = chain.follow.slice(i * FOLLOW_SAMPLES, (i + 1) * FOLLOW_SAMPLES);
        const latency = await followLatency(store, url, deployment, provider, deployer!, chain, samples);
        record(
          `follow, mined → visible in ${name} (${samples.length} samples)`,
          show(latency),
          `≤ ${TARGETS.followMs} ms`,
          latency.p95 <= TARGETS.followMs,
        );
      }
    }
    notes.push(
      `Load average (1 min) when the benchmark started: ${load.toFixed(1)}; when it ended: ${os.loadavg()[0]!.toFixed(1)} (other work on the machine slows every figure).`,
    );
    for (const note of notes) console.log(note);
    if (process.env.BENCH_INDEXER_WRITE !== "0") writeSection(chain, blocks);
  } finally {
    for (const store of stores) await store.close().catch(() => undefined);
    provider.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
    if (child) await stopNode(child);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
