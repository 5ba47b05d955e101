/**
 * Alert engine benchmark over a synthetic history (signed attestations fabricated without a chain, see
 * test/indexer/synthetic.ts): the indexer's backfill rate alone, the engine's evaluation rate over the indexed
 * history (events/s, with the notifications and alerts it writes), and the backfill rate with the engine running
 * beside it in the same process on the same store, as the service runs them. Target: the engine keeps the backfill
 * within 20% of its rate alone. Prints the figures; BENCHMARKS.md is edited by hand from them.
 *
 * Environment: BENCH_ALERTS_EVENTS (default 20000), BENCH_ALERTS_ROUNDS (alternated backfills of each kind, default
 * 3; medians are reported), BENCH_ALERTS_STORES (default "sqlite,postgres"), BENCH_ALERTS_BUSY_SHARE (the engine's
 * maxBusyShare, default the configuration's), BENCH_ALERTS_POSTGRES (admin URL, default
 * postgres://postgres@127.0.0.1:5432/postgres; "off" to skip PostgreSQL).
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { alertConfig, createAlertEngine } from "../src/alerts";
import { createIndexer } from "../src/indexer";
import { silentLogger } from "../src/log";
import { createStore } from "../src/store";
import type { Store } from "../src/store";
import { syntheticConsortium } from "../test/indexer/synthetic";
import type { SyntheticConsortium } from "../test/indexer/synthetic";

const TARGET_EVENTS = Number(process.env.BENCH_ALERTS_EVENTS ?? 20_000);
const POSTGRES_ADMIN = process.env.BENCH_ALERTS_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/postgres";
const ROUNDS = Number(process.env.BENCH_ALERTS_ROUNDS ?? 3);
const TARGETS = new Set((process.env.BENCH_ALERTS_STORES ?? "sqlite,postgres").split(","));
const BUSY_SHARE = process.env.BENCH_ALERTS_BUSY_SHARE ? Number(process.env.BENCH_ALERTS_BUSY_SHARE) : undefined;
const fmt = (n: number) => Math.round(n).toLocaleString("en");

/** A history shaped like distribution: batches released, handed down to a dispenser; some receipts short, some
 * deviations closed just before release (so rules fire and alerts are written too). */
async function buildHistory(): Promise<SyntheticConsortium> {
  const s = await syntheticConsortium();
  const { ledger } = s;
  const started = Date.now();
  for (let i = 0; ledger.logs.length < TARGET_EVENTS; i++) {
    const batchId = await ledger.recordBatch(s.cmo, s.mah, s.productId, s.agreementId, `B-${i}`, 1_000);
    if (i % 20 === 0) {
      const report = `0x${randomBytes(32).toString("hex")}`;
      await ledger.openDeviation(s.cmo, batchId, report);
      await ledger.closeDeviation(s.cmo, batchId, report);
    }
    await ledger.releaseFromFactory(s.cmo, batchId);
    await ledger.releaseToMarket(s.mah, batchId);
    const shipmentId = await ledger.ship(s.cmo, s.distributor, batchId, 600);
    await ledger.receive(s.distributor, s.cmo, batchId, shipmentId, 600, i % 10 === 0 ? 599 : 600);
    await ledger.handOver(s.distributor, s.dispenser, batchId, 100);
    await ledger.handOver(s.cmo, s.distributor2, batchId, 100);
  }
  console.log(`history: ${fmt(ledger.logs.length)} events signed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return s;
}

type Target = { name: string; open(): Promise<{ store: Store; drop(): Promise<void> }> };

function sqliteTarget(dir: string): Target {
  let n = 0;
  return {
    name: "SQLite (file)",
    async open() {
      const file = path.join(dir, `alerts-${n++}.sqlite`);
      const store = createStore(file);
      await store.migrate();
      return { store, drop: async () => fs.rmSync(file, { force: true }) };
    },
  };
}

function postgresTarget(): Target {
  return {
    name: "PostgreSQL",
    async open() {
      const name = `trace_bench_alerts_${randomBytes(6).toString("hex")}`;
      await admin(`CREATE DATABASE ${name}`);
      const url = new URL(POSTGRES_ADMIN);
      url.pathname = `/${name}`;
      const store = createStore(url.toString());
      await store.migrate();
      return { store, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
    },
  };
}

async function admin(statement: string) {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

async function backfill(s: SyntheticConsortium, store: Store) {
  const indexer = createIndexer({ source: s.ledger.source(), store, deployment: s.ledger.deployment, log: silentLogger() });
  const started = performance.now();
  await indexer.catchUp();
  return (performance.now() - started) / 1000;
}

const engineFor = (store: Store) =>
  createAlertEngine({
    store,
    config: alertConfig(BUSY_SHARE ? { maxBusyShare: BUSY_SHARE } : {}),
    log: silentLogger(),
    now: () => Math.floor(Date.now() / 1000),
  });

async function count(store: Store, table: "alerts" | "notifications") {
  const row = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** One backfill into a fresh store, with or without the engine following beside it. */
async function backfillRound(s: SyntheticConsortium, target: Target, withEngine: boolean) {
  const { store, drop } = await target.open();
  try {
    const engine = withEngine ? engineFor(store) : undefined;
    engine?.start();
    const seconds = await backfill(s, store);
    if (!engine) return { seconds, during: 0, tailEvents: 0, tailSeconds: 0 };
    // The engine carries on by itself (at full speed now that the indexer is idle) until it has evaluated everything.
    const started = performance.now();
    const evaluated = await evaluatedEvents(store);
    const last = s.ledger.head;
    while ((await cursorBlock(store)) < last) await sleep(20);
    const tailSeconds = (performance.now() - started) / 1000;
    await engine.stop();
    return { seconds, during: evaluated, tailEvents: s.ledger.logs.length - evaluated, tailSeconds };
  } finally {
    await store.close();
    await drop();
  }
}

async function cursorBlock(store: Store) {
  const row = await store.db.selectFrom("alert_cursors").select("block_number").where("name", "=", "events").executeTakeFirst();
  return row?.block_number ?? -1;
}

/** Events at or before the engine's cursor (the synthetic ledger has one event per block). */
async function evaluatedEvents(store: Store) {
  const block = await cursorBlock(store);
  const row = await store.db
    .selectFrom("ledger_events")
    .select((eb) => eb.fn.countAll().as("n"))
    .where("block_number", "<=", block)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function measure(s: SyntheticConsortium, target: Target) {
  const events = s.ledger.logs.length;
  // A backfill that is not measured: JIT and the signature workers warm up, so no figure below pays for it.
  await backfillRound(s, target, false);
  // The engine alone over an indexed history.
  const indexed = await target.open();
  await backfill(s, indexed.store);
  const started = performance.now();
  const progress = await engineFor(indexed.store).catchUp();
  const evaluateSeconds = (performance.now() - started) / 1000;
  const written = { alerts: await count(indexed.store, "alerts"), notifications: await count(indexed.store, "notifications") };
  await indexed.store.close();
  await indexed.drop();
  // Backfills alone and with the engine beside, alternated (the machine is shared: its load drifts), medians kept.
  const alone: number[] = [];
  const beside: Awaited<ReturnType<typeof backfillRound>>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    for (const withEngine of order) {
      const result = await backfillRound(s, target, withEngine);
      if (withEngine) beside.push(result);
      else alone.push(result.seconds);
    }
  }
  const aloneSeconds = median(alone);
  const besideSeconds = median(beside.map((b) => b.seconds));
  const typical = beside.find((b) => b.seconds === besideSeconds)!;
  const slowdown = (besideSeconds / aloneSeconds - 1) * 100;
  console.log(`\n${target.name}, ${fmt(events)} events, medians of ${ROUNDS} alternated rounds`);
  console.log(`  backfill alone:              ${fmt(events / aloneSeconds)} events/s (${alone.map((x) => x.toFixed(1)).join(", ")} s)`);
  console.log(
    `  alert engine over history:   ${fmt(progress.events / evaluateSeconds)} events/s (${evaluateSeconds.toFixed(1)} s; ${fmt(written.alerts)} alerts, ${fmt(written.notifications)} notifications)`,
  );
  console.log(
    `  backfill with engine beside: ${fmt(events / besideSeconds)} events/s (${beside.map((b) => b.seconds.toFixed(1)).join(", ")} s), ${slowdown.toFixed(1)}% slower (target ≤ 20%: ${slowdown <= 20 ? "met" : "MISSED"})`,
  );
  console.log(
    `  engine beside the backfill:  ${fmt(typical.during)} events evaluated meanwhile (${fmt(typical.during / besideSeconds)} events/s, paced to ${(BUSY_SHARE ?? alertConfig().maxBusyShare) * 100}% busy)`,
  );
  console.log(
    `  engine left behind at the end of the backfill: ${fmt(typical.tailEvents)} events, all evaluated ${typical.tailSeconds.toFixed(1)} s later`,
  );
}

async function main() {
  const s = await buildHistory();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trace-bench-alerts-"));
  try {
    if (TARGETS.has("sqlite")) await measure(s, sqliteTarget(dir));
    if (TARGETS.has("postgres") && POSTGRES_ADMIN !== "off") await measure(s, postgresTarget());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nmachine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, node ${process.version}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
