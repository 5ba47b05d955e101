/**
 * HTTP API benchmark, measured against the machine's own ceiling: a bare node:http server answering a fixed
 * scan-sized JSON, and the project's scan over a SQLite store of 10,000 batches and 10,000,000 registered codes,
 * in rounds that measure each figure next to its reference (medians of the rounds). Server CPU per request from /proc,
 * closed-loop throughput, open-loop p50/p99 at 500, 1,000, 2,000 and 4,000 scans/s (bench/open-loop.ts, in its own
 * process), the signed-in scan's CPU, and a provenance page of 100 entries at 50 connections. Writes the "## API"
 * section of BENCHMARKS.md, with a `target …` line per target of the issue.
 *
 * The store is seeded directly (read-model rows written with kysely, code trees written with the codes module),
 * not through the chain, and cached under .data/bench/api/ between runs. Each server runs in a child process.
 *
 *   npm run bench:api                              seed once (minutes), then measure
 *   BENCH_API_CODES=1000000 npm run bench:api      a smaller store of the same shape
 *   BENCH_API_SECONDS=10 BENCH_API_ROUNDS=3 …      seconds per run (default 5), rounds (default 5)
 *   BENCH_API_RESEED=1 npm run bench:api           rebuild the cached store
 */
import cluster from "node:cluster";
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as http from "node:http";
import Database from "better-sqlite3";
import { sql } from "kysely";
import { Wallet, keccak256, toUtf8Bytes, id as hashText } from "ethers";
import { createApp } from "../src/api/app";
import { createCodeBook } from "../src/api/codebook";
import { DEFAULT_RECALL_DEADLINES } from "../src/ledger";
import { createTreeWriter, formatCode, generatePacks, packId, parseCode, withCheckDigit } from "../src/codes";
import type { CodeFormat, Gs1Pack } from "../src/codes";
import { silentLogger } from "../src/log";
import { chunkRows, createStore, newFactsVersion } from "../src/store";
import type { BatchTable, LedgerEventTable, Store } from "../src/store";
import { writeBenchmarkSection } from "./benchmarks-file";
import { loadGenerator } from "./open-loop";
import type { LoadJob, LoadResult } from "./open-loop";
import { procCpuSeconds, procMajorFaults, procStorageReadBytes } from "./proc-cpu";
import { checkServiceFlags } from "./service-flags";
import { endOfChinaDay } from "../src/ledger/expiry";

const COMMAND = "npm run bench:api";
const ROOT = path.resolve(__dirname, "..");
const DIR = path.join(ROOT, ".data", "bench", "api");
const DB_FILE = path.join(DIR, "store.sqlite");
const MANIFEST = path.join(DIR, "seed.json");
const SECTION = "## API";

/**
 * The store: 10,000,000 codes in 10,000 batches, two of them of 4,000,000. BENCH_API_CODES seeds a smaller
 * store of the same shape (a thousand codes a batch, two batches of 40 %) where building the large one takes too
 * long; BENCHMARKS.md says which was measured.
 */
const CODES = Number(process.env.BENCH_API_CODES ?? 10_000_000);
const BATCHES = Math.min(10_000, Math.max(10, Math.floor(CODES / 1_000)));
const LARGE_BATCHES = 2;
const LARGE_BATCH_CODES = Math.floor(CODES * 0.4);
const PRODUCTS = 10;
const MAHS = 10;
const CMOS = 10;
const DISTRIBUTORS = 50;
const DISPENSERS = 100;
const PROVENANCE_EVENTS = 1_000;
const SEED_VERSION = 2;

/** Packs print expiry 2028-12-31 (AI 17 "281231"): the batch is valid to the end of that day, China time. */
const EXPIRES_AT = endOfChinaDay("2028-12-31");
const EXPIRY_YYMMDD = "281231";
const SEEDED_AT = Date.UTC(2026, 0, 5) / 1000;
const REGULATOR_KEY = hashText("bench api regulator key");

type Manifest = {
  version: number;
  batches: number;
  codes: number;
  seededIn: number;
  regulatorKey: string;
  provenanceBatch: string;
};

/** API processes: both one and two (a node cluster sharing the port, one per core), or only BENCH_API_WORKERS. */
const workerCounts = process.env.BENCH_API_WORKERS ? [Number(process.env.BENCH_API_WORKERS)] : [1, 2];
const workers = workerCounts.at(-1)!;

// ----------------------------------------------------------------------------------------------------------------
// Seeding
// ----------------------------------------------------------------------------------------------------------------

const orgIds = {
  regulator: 1,
  mah: (i: number) => 2 + i,
  cmo: (i: number) => 2 + MAHS + i,
  distributor: (i: number) => 2 + MAHS + CMOS + i,
  dispenser: (i: number) => 2 + MAHS + CMOS + DISTRIBUTORS + i,
};
const gtinOf = (p: number) => withCheckDigit(`0690123456${String(100 + p).padStart(3, "0")}`);
const serialKeyOf = (p: number) => Buffer.from(hashText(`bench serial key ${p}`).slice(2, 34), "hex");
const hex32 = (label: string) => keccak256(toUtf8Bytes(label));
const productIdOf = (p: number) => hashText(gtinOf(p));
const agreementIdOf = (p: number, c: number) => hex32(`agreement ${p} ${c}`);

type BatchPlan = {
  index: number;
  id: string;
  number: string;
  product: number;
  cmo: number;
  codes: number;
  firstSerial: number;
  state: "MANUFACTURED" | "MARKET_RELEASED";
  recalled: boolean;
  distributor: number;
  dispenser: number;
};

/** The 10,000 batches: two of 4,000,000 codes, the rest small; one in twenty unreleased, one in twenty recalled. */
function planBatches(): BatchPlan[] {
  const small = BATCHES - LARGE_BATCHES;
  const smallCodes = Math.floor((CODES - LARGE_BATCHES * LARGE_BATCH_CODES) / small);
  const nextSerial = new Array<number>(PRODUCTS).fill(0);
  const plans: BatchPlan[] = [];
  for (let i = 0; i < BATCHES; i++) {
    const product = i % PRODUCTS;
    let codes = i < LARGE_BATCHES ? LARGE_BATCH_CODES : smallCodes;
    if (i === BATCHES - 1) codes = CODES - plans.reduce((sum, b) => sum + b.codes, 0);
    const number = `B${String(i).padStart(5, "0")}`;
    plans.push({
      index: i,
      id: keccak256(toUtf8Bytes(`${productIdOf(product)}|${number}`)),
      number,
      product,
      cmo: (i * 7) % CMOS,
      codes,
      firstSerial: nextSerial[product]!,
      state: i % 20 === 19 ? "MANUFACTURED" : "MARKET_RELEASED",
      recalled: i % 20 === 17,
      distributor: i % DISTRIBUTORS,
      dispenser: i % DISPENSERS,
    });
    nextSerial[product]! += codes;
  }
  return plans;
}

function packsOf(plan: BatchPlan) {
  return generatePacks({
    scheme: "gs1",
    productCode: gtinOf(plan.product),
    key: serialKeyOf(plan.product),
    firstIndex: plan.firstSerial,
    count: plan.codes,
  });
}

function signature() {
  return `0x${randomBytes(65).toString("hex")}`;
}

/** Ledger events written as the indexer writes them: decoded arguments, signer, signature, verification. */
function eventFactory() {
  let block = 100;
  let logIndex = 0;
  return (
    name: string,
    contract: string,
    batchId: string | null,
    organizationId: number,
    args: Record<string, unknown>,
    agreementId: string | null = null,
  ): LedgerEventTable => {
    if (logIndex === 4) {
      block++;
      logIndex = 0;
    }
    const signer = `0x${randomBytes(20).toString("hex")}`;
    return {
      block_number: block,
      log_index: logIndex++,
      block_hash: hex32(`block ${block}`),
      block_time: SEEDED_AT + block * 2,
      tx_hash: `0x${randomBytes(32).toString("hex")}`,
      contract,
      address: `0x${"ab".repeat(20)}`,
      name,
      batch_id: batchId,
      agreement_id: agreementId,
      organization_id: organizationId,
      signer,
      signer_organization_id: organizationId,
      verification: "verified",
      problem: null,
      payload: JSON.stringify({ ...args, nonce: String(block * 8 + logIndex), signer, signature: signature() }),
    };
  };
}

async function insertAll<T extends object>(
  store: Store,
  table:
    | "organizations"
    | "signing_keys"
    | "products"
    | "agreements"
    | "batches"
    | "shipments"
    | "holdings"
    | "pack_states"
    | "recalls"
    | "ledger_events"
    | "code_trees"
    | "batch_codes",
  rows: T[],
) {
  for (const chunk of chunkRows(rows))
    await store.db
      .insertInto(table)
      .values(chunk as never)
      .execute();
}

async function seed(): Promise<Manifest> {
  const started = Date.now();
  fs.rmSync(DIR, { recursive: true, force: true });
  fs.mkdirSync(path.join(DIR, "trees"), { recursive: true });
  const store = createStore(DB_FILE);
  await store.migrate();
  // Seeding only: a crash means reseeding anyway.
  await sql`PRAGMA synchronous = OFF`.execute(store.db);
  await sql`PRAGMA cache_size = -2000000`.execute(store.db);
  const regulator = new Wallet(REGULATOR_KEY);

  const organizations = [
    { id: orgIds.regulator, role: "REGULATOR", region: 320000, name: "Jiangsu Medical Products Administration" },
    ...Array.from({ length: MAHS }, (_, i) => ({ id: orgIds.mah(i), role: "MAH", region: 320000, name: `MAH ${i}` })),
    ...Array.from({ length: CMOS }, (_, i) => ({ id: orgIds.cmo(i), role: "CMO", region: 330000, name: `CMO ${i}` })),
    ...Array.from({ length: DISTRIBUTORS }, (_, i) => ({ id: orgIds.distributor(i), role: "DISTRIBUTOR", region: 310000, name: `Distributor ${i}` })),
    ...Array.from({ length: DISPENSERS }, (_, i) => ({ id: orgIds.dispenser(i), role: "DISPENSER", region: 320000, name: `Pharmacy ${i}` })),
  ];
  await insertAll(
    store,
    "organizations",
    organizations.map((o) => ({ ...o, licence_hash: hex32(`licence ${o.id}`), status: "ACTIVE", onboarded_by: 1, onboarded_at: SEEDED_AT })),
  );
  await insertAll(
    store,
    "signing_keys",
    organizations.map((o) => ({
      address: (o.id === orgIds.regulator ? regulator.address : Wallet.createRandom().address).toLowerCase(),
      organization_id: o.id,
      revoked: 0,
      added_at: SEEDED_AT,
      revoked_at: null,
    })),
  );
  await insertAll(
    store,
    "products",
    Array.from({ length: PRODUCTS }, (_, p) => ({
      id: productIdOf(p),
      product_code: gtinOf(p),
      approval_number: `国药准字H2026${String(p).padStart(4, "0")}`,
      name: `Bench product ${p}`,
      mah_id: orgIds.mah(p % MAHS),
      registered_at: SEEDED_AT,
    })),
  );
  const agreements = [];
  for (let p = 0; p < PRODUCTS; p++) {
    for (let c = 0; c < CMOS; c++) {
      agreements.push({
        id: agreementIdOf(p, c),
        kind: "QUALITY",
        mah_id: orgIds.mah(p % MAHS),
        counterparty_id: orgIds.cmo(c),
        product_id: productIdOf(p),
        document_hash: hex32(`quality agreement ${p} ${c}`),
        valid_from: SEEDED_AT - 86_400,
        valid_until: SEEDED_AT + 3 * 365 * 86_400,
        release_tester: "CMO",
        revoked: 0,
        signed_at: SEEDED_AT,
        revoked_at: null,
      });
    }
  }
  await insertAll(store, "agreements", agreements);
  const event = eventFactory();
  await insertAll(
    store,
    "ledger_events",
    agreements.map((a) =>
      event(
        "AgreementSigned",
        "ProductRegistry",
        null,
        a.mah_id,
        { agreementId: a.id, mahId: a.mah_id, counterpartyId: a.counterparty_id, productId: a.product_id, documentHash: a.document_hash },
        a.id,
      ),
    ),
  );

  const plans = planBatches();
  const provenanceBatch = plans[LARGE_BATCHES]!;
  let codesDone = 0;
  // Codes go in sorted by key, 100,000 per statement through json_each, with the batch index built afterwards:
  // random-order inserts into the primary-key index would take most of the seeding time.
  await sql`DROP INDEX batch_codes_batch`.execute(store.db);
  let pendingCodes: [string, string][] = [];
  const flushCodes = async () => {
    if (pendingCodes.length === 0) return;
    const rows = pendingCodes.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    pendingCodes = [];
    await store.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += 100_000) {
        const chunk = JSON.stringify(rows.slice(i, i + 100_000));
        await sql`INSERT INTO batch_codes (canonical_key, batch_id) SELECT value ->> 0, value ->> 1 FROM json_each(${chunk})`.execute(trx);
      }
    });
  };

  for (const plan of plans) {
    const treePath = path.join(DIR, "trees", `${plan.id}.tree`);
    // On this thread, large trees too: built in a worker thread beside the store's writes, the seed twice died of
    // a corrupted native heap (a segmentation fault in V8's marking, a glibc "invalid next size" at the worker's
    // exit), once in three runs passed; on this thread it never failed.
    const writer = await createTreeWriter(treePath, { expectedCount: plan.codes });
    const dispensed: string[] = [];
    let n = 0;
    for (const pack of packsOf(plan)) {
      writer.add(pack.key);
      pendingCodes.push([pack.key, plan.id]);
      if (n < 2 && plan.state === "MARKET_RELEASED") dispensed.push(pack.key);
      n++;
    }
    if (pendingCodes.length >= 500_000) await flushCodes();
    const tree = writer.finish();
    codesDone += plan.codes;
    const released = plan.state === "MARKET_RELEASED";
    const mah = orgIds.mah(plan.product % MAHS);
    const cmo = orgIds.cmo(plan.cmo);
    const distributor = orgIds.distributor(plan.distributor);
    const dispenser = orgIds.dispenser(plan.dispenser);
    const toDistributor = released ? Math.floor(plan.codes / 2) : 0;
    const toDispenser = released ? Math.min(10, toDistributor) : 0;
    const dispensedCount = dispensed.length;
    const batch: BatchTable = {
      id: plan.id,
      product_id: productIdOf(plan.product),
      batch_number: plan.number,
      mah_id: mah,
      cmo_id: cmo,
      agreement_id: agreementIdOf(plan.product, plan.cmo),
      quantity: plan.codes,
      manufactured_at: SEEDED_AT - 30 * 86_400,
      expires_at: EXPIRES_AT,
      batch_record_hash: hex32(`batch record ${plan.number}`),
      codes_root: tree.root,
      state: plan.state,
      recall_status: plan.recalled ? "OPEN" : "NONE",
      recall_level: plan.recalled ? "II" : null,
      hold_status: "NONE",
      open_deviations: 0,
      in_transit: 0,
      dispensed: dispensedCount,
      destroyed: 0,
      stolen: 0,
      sampled: 0,
      exported: 0,
      missing: 0,
      recorded_at: SEEDED_AT + plan.index,
      factory_released_at: released ? SEEDED_AT + plan.index + 60 : null,
      market_released_at: released ? SEEDED_AT + plan.index + 120 : null,
      release_refused_at: null,
      release_refusal_hash: null,
      facts_version: newFactsVersion(),
    };
    await insertAll(store, "batches", [batch]);
    await insertAll(store, "code_trees", [
      { batch_id: plan.id, root: tree.root, code_count: plan.codes, tree_path: treePath, registered_by: cmo, registered_at: SEEDED_AT },
    ]);
    const holdings = [{ batch_id: plan.id, organization_id: cmo, quantity: plan.codes - toDistributor, recall_acknowledged: 0 }];
    const events: LedgerEventTable[] = [
      event("BatchRecorded", "BatchLedger", plan.id, cmo, {
        batchId: plan.id,
        cmoId: cmo,
        agreementId: batch.agreement_id,
        batchNumber: plan.number,
        quantity: String(plan.codes),
        manufacturedAt: batch.manufactured_at,
        expiresAt: EXPIRES_AT,
        batchRecordHash: batch.batch_record_hash,
        codesRoot: tree.root,
      }),
    ];
    if (released) {
      events.push(
        event("BatchFactoryReleased", "BatchLedger", plan.id, cmo, { batchId: plan.id, cmoId: cmo, certificateHash: hex32("QA certificate") }),
      );
      events.push(
        event("BatchMarketReleased", "BatchLedger", plan.id, mah, { batchId: plan.id, mahId: mah, decisionHash: hex32("market release decision") }),
      );
      const shipments = [
        { from: cmo, to: distributor, quantity: toDistributor },
        { from: distributor, to: dispenser, quantity: toDispenser },
      ];
      // The provenance batch moves back and forth between distributors until it has 1,000 events.
      if (plan === provenanceBatch) {
        let from = distributor;
        while (events.length + 2 * (shipments.length + 1) + 1 <= PROVENANCE_EVENTS) {
          const to = from === distributor ? orgIds.distributor((plan.distributor + 1) % DISTRIBUTORS) : distributor;
          shipments.push({ from, to, quantity: 1 });
          from = to;
        }
      }
      const movedBy = new Map<number, number>();
      for (const [k, s] of shipments.entries()) {
        const shipmentId = hex32(`shipment ${plan.id} ${k}`);
        await insertAll(store, "shipments", [
          {
            id: shipmentId,
            batch_id: plan.id,
            shipper_id: s.from,
            recipient_id: s.to,
            quantity: s.quantity,
            codes_root: `0x${"0".repeat(64)}`,
            status: "RECEIVED",
            received_quantity: s.quantity,
            shipped_at: SEEDED_AT + plan.index + 200 + k,
            received_at: SEEDED_AT + plan.index + 300 + k,
          },
        ]);
        events.push(
          event("BatchShipped", "BatchLedger", plan.id, s.from, {
            shipmentId,
            batchId: plan.id,
            shipperId: s.from,
            recipientId: s.to,
            quantity: String(s.quantity),
            codesRoot: `0x${"0".repeat(64)}`,
          }),
        );
        events.push(
          event("ShipmentReceived", "BatchLedger", plan.id, s.to, {
            shipmentId,
            batchId: plan.id,
            recipientId: s.to,
            shipperId: s.from,
            shippedQuantity: String(s.quantity),
            receivedQuantity: String(s.quantity),
          }),
        );
        if (k > 0 || s.from !== cmo) movedBy.set(s.from, (movedBy.get(s.from) ?? 0) - s.quantity);
        movedBy.set(s.to, (movedBy.get(s.to) ?? 0) + s.quantity);
      }
      movedBy.set(dispenser, (movedBy.get(dispenser) ?? 0) - dispensedCount);
      for (const [organization, quantity] of movedBy)
        holdings.push({ batch_id: plan.id, organization_id: organization, quantity, recall_acknowledged: 0 });
      const packs = dispensed.map((key) => packId(key));
      await insertAll(
        store,
        "pack_states",
        packs.map((pack) => ({ pack, batch_id: plan.id, state: "DISPENSED", organization_id: dispenser, changed_at: SEEDED_AT + plan.index + 400 })),
      );
      events.push(event("PacksDispensed", "BatchLedger", plan.id, dispenser, { batchId: plan.id, dispenserId: dispenser, packs }));
    }
    if (plan.recalled) {
      await insertAll(store, "recalls", [
        {
          batch_id: plan.id,
          level: "II",
          status: "OPEN",
          started_by: mah,
          reason_hash: hex32("recall reason"),
          started_at: SEEDED_AT + plan.index + 500,
          closed_by: null,
          report_hash: null,
          closed_at: null,
        },
      ]);
      events.push(
        event("RecallStarted", "BatchLedger", plan.id, mah, { batchId: plan.id, organizationId: mah, level: 2, reasonHash: hex32("recall reason") }),
      );
    }
    await insertAll(store, "holdings", holdings);
    await insertAll(store, "ledger_events", events);
    if (plan.index % 500 === 0 || plan.index < LARGE_BATCHES) {
      console.log(`  seeded ${plan.index + 1} batches, ${codesDone.toLocaleString("en")} codes, ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  }
  await flushCodes();
  await sql`CREATE INDEX batch_codes_batch ON batch_codes (batch_id)`.execute(store.db);

  const last = await store.db
    .selectFrom("ledger_events")
    .select(sql<number>`max(block_number)`.as("block"))
    .executeTakeFirstOrThrow();
  await store.db
    .insertInto("sync_state")
    .values({
      id: 1,
      chain_id: 31337,
      genesis_hash: hex32("genesis"),
      deployment: "bench",
      block_number: last.block,
      block_hash: hex32(`block ${last.block}`),
    })
    .execute();
  await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store.db);
  await store.close();

  const manifest: Manifest = {
    version: SEED_VERSION,
    batches: BATCHES,
    codes: CODES,
    seededIn: (Date.now() - started) / 1000,
    regulatorKey: REGULATOR_KEY,
    provenanceBatch: provenanceBatch.id,
  };
  fs.writeFileSync(MANIFEST, JSON.stringify(manifest));
  return manifest;
}

function cachedSeed(): Manifest | undefined {
  if (process.env.BENCH_API_RESEED || !fs.existsSync(MANIFEST) || !fs.existsSync(DB_FILE)) return undefined;
  const manifest = JSON.parse(fs.readFileSync(MANIFEST, "utf8")) as Manifest;
  return manifest.version === SEED_VERSION && manifest.batches === BATCHES && manifest.codes === CODES ? manifest : undefined;
}

// ----------------------------------------------------------------------------------------------------------------
// The API under test (child process)
// ----------------------------------------------------------------------------------------------------------------

async function serve() {
  const store = createStore(DB_FILE);
  const app = createApp({
    store,
    log: silentLogger(),
    config: {
      secret: Buffer.from(process.env.BENCH_API_SECRET ?? "", "hex"),
      tokenLifetime: 3600,
      recallDeadlines: DEFAULT_RECALL_DEADLINES,
      // Loopback is one client address; a deployment's scans come from many pharmacies and wholesalers.
      publicRateLimit: 1_000_000_000,
      dataDir: DIR,
    },
    codes: createCodeBook(store, DIR),
    now: () => Math.floor(Date.now() / 1000),
  });
  const server = app.listen(Number(process.env.BENCH_API_PORT ?? 0), "127.0.0.1", () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
  server.keepAliveTimeout = 60_000;
  process.once("SIGTERM", () => process.exit(0));
}

function serveCluster() {
  if (cluster.isPrimary) {
    process.once("SIGTERM", () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
      process.exit(0);
    });
    // Workers listening on port 0 share one port the primary picks.
    let ready = 0;
    for (let i = 0; i < workers; i++) {
      cluster.fork().on("message", (message: { port: number }) => {
        if (++ready === workers) process.send?.({ port: message.port });
      });
    }
    return;
  }
  void serve();
}

function startApi(secret: string, processes: number, mode = "serve"): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(__filename, [mode], {
    execArgv: process.execArgv,
    env: { ...process.env, BENCH_API_SECRET: secret, BENCH_API_WORKERS: String(processes) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message: { port: number }) => resolve({ child, url: `http://127.0.0.1:${message.port}` }));
    child.once("exit", (code) => reject(new Error(`the API process exited with ${code}`)));
  });
}

// ----------------------------------------------------------------------------------------------------------------
// Measurement
// ----------------------------------------------------------------------------------------------------------------

type ScanBody = { body: string; expect: string };

/**
 * What scanners send: codes drawn across the whole store (every 37th registered code by key, so lookups reach all of
 * its pages rather than a cached few), printed as GS1 element strings (]d2 and GS separators), HRI or Digital
 * Links with the batch and expiry of their batch. 70 % genuine, 15 % of recalled batches, 15 % unknown
 * (well-formed codes of registered products that no batch contains: what a counterfeit looks like).
 */
/**
 * The scans the bench sends, and one code of every batch the mix scans: a signed-in scan of each opens its batch's
 * tree once, as a server that has run a while holds them (the 10,000-batch store's small trees fit the codebook's
 * 256 MiB twice over); without it each of the five short signed-in runs would open about 3,600 small trees afresh
 * (150-370 µs each), a cost the mix's few scans per small batch never amortise.
 */
async function scanMix(): Promise<{ bodies: ScanBody[]; oneCodePerBatch: string[] }> {
  const store = createStore(DB_FILE);
  const batches = new Map(
    (await store.db.selectFrom("batches").select(["id", "batch_number", "state", "recall_status"]).execute()).map((b) => [b.id, b]),
  );
  const dispensed = new Set((await store.db.selectFrom("pack_states").select("pack").execute()).map((p) => p.pack));
  const sample = await sql<{ canonical_key: string; batch_id: string }>`SELECT canonical_key, batch_id FROM
    (SELECT canonical_key, batch_id, row_number() OVER (ORDER BY canonical_key) AS n FROM batch_codes) WHERE n % 37 = 0`.execute(store.db);
  await store.close();
  const formats: CodeFormat[] = ["element-string", "element-string", "element-string", "hri", "digital-link"];
  const expiry = { yymmdd: EXPIRY_YYMMDD, iso: "2028-12-31" };
  const printed = (key: string, batch: string, n: number) =>
    formatCode({ ...(parseCode(key) as Gs1Pack), batch, expiry }, formats[n % formats.length]!, { symbologyId: "]d2" });
  const genuine: string[] = [];
  const recalled: string[] = [];
  const perBatch = new Map<string, string>();
  for (const [n, { canonical_key: key, batch_id: batchId }] of sample.rows.entries()) {
    const batch = batches.get(batchId)!;
    if (!perBatch.has(batchId)) perBatch.set(batchId, JSON.stringify({ code: printed(key, batch.batch_number, n) }));
    if (batch.recall_status !== "NONE") recalled.push(printed(key, batch.batch_number, n));
    else if (batch.state === "MARKET_RELEASED" && !dispensed.has(packId(key))) genuine.push(printed(key, batch.batch_number, n));
  }
  const unknown: string[] = [];
  for (let p = 0; p < PRODUCTS; p++) {
    let n = 0;
    for (const pack of generatePacks({ scheme: "gs1", productCode: gtinOf(p), key: Buffer.alloc(16, 0xee), firstIndex: 0, count: 3_000 })) {
      unknown.push(printed(pack.key, `B${String(p).padStart(5, "0")}`, n++));
    }
  }
  const random = seededRandom(7);
  const bodies: ScanBody[] = [];
  for (let i = 0; i < 200_000; i++) {
    const roll = random();
    const [list, expect] = roll < 0.7 ? [genuine, "GENUINE"] : roll < 0.85 ? [recalled, "RECALLED"] : [unknown, "UNKNOWN_CODE"];
    bodies.push({ body: JSON.stringify({ code: list[Math.floor(random() * list.length)] }), expect });
  }
  console.log(
    `scan mix: 200,000 requests over ${genuine.length.toLocaleString("en")} genuine, ${recalled.length.toLocaleString("en")} recalled and ${unknown.length.toLocaleString("en")} unknown codes`,
  );
  return { bodies, oneCodePerBatch: [...perBatch.values()] };
}

/** A small deterministic generator (mulberry32), so every run sends the same requests. */
function seededRandom(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function checkVerdicts(url: string, bodies: ScanBody[]) {
  for (const { body, expect } of bodies.slice(0, 300)) {
    const res = await fetch(`${url}/v1/scans`, { method: "POST", headers: { "content-type": "application/json" }, body });
    const answer = (await res.json()) as { verdict?: string };
    if (answer.verdict !== expect) throw new Error(`scan ${body} answered ${res.status} ${JSON.stringify(answer)}, expected ${expect}`);
  }
}

async function signIn(url: string, key: string) {
  const wallet = new Wallet(key);
  const challenge = (await (
    await fetch(`${url}/v1/auth/challenge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: wallet.address }),
    })
  ).json()) as { challenge: string; text: string };
  const signature = await wallet.signMessage(challenge.text);
  const res = await fetch(`${url}/v1/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: wallet.address, challenge: challenge.challenge, signature }),
  });
  return ((await res.json()) as { token: string }).token;
}

/**
 * The open-loop rate of the target, one of OPEN_LOOP_RATES. The lookup reference is measured there too: what
 * tail any server that reads this store has on this machine, next to the bare server's and the scan's.
 */
const TARGET_OPEN_LOOP_RATE = 1_000;
const OPEN_LOOP_RATES = [500, TARGET_OPEN_LOOP_RATE, 2_000, 4_000];
const ROUNDS = Number(process.env.BENCH_API_ROUNDS ?? 5);
/** Connections of the closed-loop runs and of the provenance target's. */
const PROVENANCE_CONNECTIONS = 50;
/** Sockets the open-loop generator may use: requests due while all are busy wait, and the wait counts. */
const OPEN_LOOP_SOCKETS = 64;

const us = (value: number) => `${Math.round(value).toLocaleString("en")} µs`;
const perSecond = (value: number) => `${Math.round(value).toLocaleString("en")}/s`;
const unansweredNote = (counts: number[]) =>
  counts.some((n) => n > 0) ? ` (behind: ${counts.join(", ")} unanswered a run's length after the last was due, counted as waited so far)` : "";
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Serves a reference server on a free loopback port, telling the benchmark which, until it is told to stop. */
function serveReference(server: http.Server) {
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.once("SIGTERM", () => process.exit(0));
}

/** A scan-sized answer: what the bare server sends to every request. */
const BARE_ANSWER = {
  verdict: "GENUINE",
  reason: "a released pack of batch B00021, expiring 2028-12-31",
  code: { format: "element-string", canonicalKey: "(01)06901234561007(21)0000000000123", productCode: "06901234561007" },
  product: { id: `0x${"ab".repeat(32)}`, code: "06901234561007", name: "Product 0", approvalNumber: "国药准字H20260000" },
  mah: { id: 2, name: "MAH 0" },
  batch: { id: `0x${"cd".repeat(32)}`, batchNumber: "B00021", expiresAt: EXPIRES_AT, state: "MARKET_RELEASED", recall: null, hold: "NONE" },
};

/** A bare node:http server answering every request with a fixed scan-sized JSON: the machine's own ceiling. */
function serveBare() {
  const answer = JSON.stringify(BARE_ANSWER);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  serveReference(server);
}

/**
 * The least a scan on this store can cost in Node: a node:http server that reads the body, parses the code with
 * the codes module and looks its canonical key up with one prepared better-sqlite3 statement (the store's own
 * settings: WAL, memory-mapped), answering the bare server's answer with the batch found. No verdict, no rate
 * limit, no metrics, no facts: a reference that says how much of the scan's cost is the lookup on a store this size
 * and how much is the rest of the scan.
 */
function serveLookup() {
  const database = new Database(DB_FILE, { readonly: true });
  database.pragma("mmap_size = 2147418112");
  database.pragma("cache_size = -65536");
  const batchOf = database.prepare<[string], { batch_id: string }>("select batch_id from batch_codes where canonical_key = ?");
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const { code } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { code: string };
      const row = batchOf.get(parseCode(code).key);
      const answer = JSON.stringify({
        ...BARE_ANSWER,
        verdict: row ? "GENUINE" : "UNKNOWN",
        batch: row ? { ...BARE_ANSWER.batch, id: row.batch_id } : null,
      });
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  serveReference(server);
}

/**
 * Waits until the server has finished what earlier runs left it (an open loop it fell behind leaves thousands of
 * requests queued): its CPU over a quarter second under a tenth of a core, or 30 s. Otherwise the next run's CPU
 * per request counts the backlog's work too (a signed-in scan once measured 172,500 µs that way).
 */
async function settle(pid: number) {
  const deadline = Date.now() + 30_000;
  for (let last = procCpuSeconds(`/proc/${pid}/stat`) ?? 0; Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = procCpuSeconds(`/proc/${pid}/stat`) ?? 0;
    if (now - last < 0.025) return;
    last = now;
  }
}

/**
 * Server CPU per request over a run, from /proc (the figure that holds on a shared machine). The caller first waits
 * for every server to be idle (`settle`), so that the run's CPU is its own.
 */
async function cpuPerRequest(pid: number, run: () => Promise<LoadResult>) {
  const before = procCpuSeconds(`/proc/${pid}/stat`) ?? 0;
  const result = await run();
  const after = procCpuSeconds(`/proc/${pid}/stat`) ?? 0;
  if (result.errors > 0) throw new Error(`${result.errors} requests failed`);
  return { result, cpuUs: ((after - before) * 1e6) / result.count };
}

type Figures = {
  cpuUs: number[];
  closedRate: number[];
  p50: Record<number, number[]>;
  p99: Record<number, number[]>;
  unanswered: Record<number, number[]>;
};
const emptyFigures = (): Figures => ({
  cpuUs: [],
  closedRate: [],
  p50: Object.fromEntries(OPEN_LOOP_RATES.map((r) => [r, []])),
  p99: Object.fromEntries(OPEN_LOOP_RATES.map((r) => [r, []])),
  unanswered: Object.fromEntries(OPEN_LOOP_RATES.map((r) => [r, []])),
});

/**
 * Reads a file of the store once, so that all of it is in the page cache, as a running server's store is: a scan that
 * waited for the disk would count reading it (the kernel's time) as the scan's CPU, and rounds would fall as the
 * file entered the cache (208, 174, 148 µs once, on a store seeded long before; signed-in scans, whose proofs read
 * the code trees' files, 287, 203, 168, 147, 130 µs with 10,479 major page faults in a first 5 s run on trees a
 * quarter out of the cache an hour after seeding).
 */
function readIntoPageCache(file: string) {
  const handle = fs.openSync(file, "r");
  const chunk = Buffer.allocUnsafe(16 * 2 ** 20);
  try {
    for (let position = 0; fs.readSync(handle, chunk, 0, chunk.length, position) > 0; position += chunk.length);
  } finally {
    fs.closeSync(handle);
  }
}

async function measure(manifest: Manifest) {
  readIntoPageCache(DB_FILE);
  for (const tree of fs.readdirSync(path.join(DIR, "trees"))) readIntoPageCache(path.join(DIR, "trees", tree));
  const mix = await scanMix();
  const bodies = mix.bodies.map((b) => b.body);
  const secret = randomBytes(32).toString("hex");
  const bare = await startApi("", 1, "serve-bare");
  const api = await startApi(secret, 1);
  const lookup = await startApi("", 1, "serve-lookup");
  const load = loadGenerator();
  try {
    await checkVerdicts(api.url, mix.bodies.slice(0, 300));
    const authorization = `Bearer ${await signIn(api.url, manifest.regulatorKey)}`;
    const scanJob = (url: string, extra: Partial<LoadJob> = {}): LoadJob => ({
      url,
      path: "/v1/scans",
      method: "POST",
      requests: bodies,
      seconds,
      connections: OPEN_LOOP_SOCKETS,
      ...extra,
    });
    const provenancePage = `/v1/batches/${manifest.provenanceBatch}/provenance?limit=100`;
    // One list for every round: the load generator keeps each list it was sent (bench/open-loop.ts).
    const provenanceRequests = [provenancePage];
    const figures = { bare: emptyFigures(), scan: emptyFigures(), lookup: emptyFigures() };
    const signedInCpu: number[] = [];
    const provenance = { p99: [] as number[], cpuUs: [] as number[], rate: [] as number[] };
    const scanClosedP99: number[] = [];
    // Warm-up: caches, JIT, connections.
    for (const server of [bare, api, lookup]) await load.run(scanJob(server.url, { seconds: 3, connections: 8 }));
    // Every batch's tree opened once by a signed-in scan (see scanMix), at least one pass over them.
    await load.run(scanJob(api.url, { requests: mix.oneCodePerBatch, seconds: 12, connections: 16, headers: { authorization } }));
    // Every server idle before each run, not only the one measured: one still answering what an open loop left it
    // would take the cores from the other.
    const allIdle = async () => {
      for (const server of [bare, api, lookup]) await settle(server.child.pid!);
    };
    const closedLoop = async (name: "bare" | "scan", server: { child: ChildProcess; url: string }, round: number) => {
      await allIdle();
      const closed = await cpuPerRequest(server.child.pid!, () => load.run(scanJob(server.url, { connections: PROVENANCE_CONNECTIONS, warm: true })));
      figures[name].cpuUs.push(closed.cpuUs);
      figures[name].closedRate.push(closed.result.count / closed.result.seconds);
      console.log(`round ${round} ${name}: ${us(closed.cpuUs)} CPU/request, ${perSecond(closed.result.count / closed.result.seconds)} closed loop`);
      return closed;
    };
    const openLoop = async (name: keyof typeof figures, server: { child: ChildProcess; url: string }, rate: number, round: number) => {
      const pid = server.child.pid!;
      await allIdle();
      const faultsBefore = procMajorFaults(`/proc/${pid}/stat`) ?? 0;
      const readBefore = procStorageReadBytes(pid) ?? 0;
      const open = await load.run(scanJob(server.url, { rate }));
      const faults = (procMajorFaults(`/proc/${pid}/stat`) ?? 0) - faultsBefore;
      const read = (procStorageReadBytes(pid) ?? 0) - readBefore;
      console.log(`round ${round} ${name} at ${rate}/s: p99 ${us(open.p99us)}, ${faults} major page faults, ${read / 4096} pages read from storage`);
      if (open.errors > 0) throw new Error(`${open.errors} scans failed at ${rate}/s`);
      if (open.unanswered > 0)
        console.log(`round ${round} ${name} at ${rate}/s: ${open.unanswered} scans unanswered after the run (counted as waited so far)`);
      const f = figures[name];
      f.unanswered[rate]!.push(open.unanswered);
      f.p50[rate]!.push(open.p50us);
      f.p99[rate]!.push(open.p99us);
    };
    // Each figure is measured next to its reference, so that both see the same load from the machine's other work
    // (which moved a p99 several-fold within a minute on this shared machine): the signed-in scan just before the
    // bare server and the scan just after it (CPU), a provenance page right after the scan whose p99 it is compared
    // with, and at each open-loop rate the scan right after the bare server (at TARGET_OPEN_LOOP_RATE the lookup
    // reference right after the scan). The lookup reference's closed loop, which no target reads, comes last.
    for (let round = 1; round <= ROUNDS; round++) {
      await allIdle();
      const faultsBefore = procMajorFaults(`/proc/${api.child.pid!}/stat`) ?? 0;
      const signedIn = await cpuPerRequest(api.child.pid!, () => load.run(scanJob(api.url, { connections: 16, headers: { authorization } })));
      signedInCpu.push(signedIn.cpuUs);
      const faults = (procMajorFaults(`/proc/${api.child.pid!}/stat`) ?? 0) - faultsBefore;
      console.log(`round ${round} signed-in: ${us(signedIn.cpuUs)} CPU/request, ${faults} major page faults`);
      await closedLoop("bare", bare, round);
      scanClosedP99.push((await closedLoop("scan", api, round)).result.p99us);
      await allIdle();
      const pages = await cpuPerRequest(api.child.pid!, () =>
        load.run({
          url: api.url,
          path: provenancePage,
          method: "GET",
          requests: provenanceRequests,
          headers: { authorization },
          seconds,
          connections: PROVENANCE_CONNECTIONS,
          warm: true,
        }),
      );
      provenance.p99.push(pages.result.p99us);
      provenance.cpuUs.push(pages.cpuUs);
      provenance.rate.push(pages.result.count / pages.result.seconds);
      console.log(
        `round ${round} provenance: p99 ${us(pages.result.p99us)}, ${us(pages.cpuUs)} CPU/page, ${perSecond(pages.result.count / pages.result.seconds)}`,
      );
      for (const rate of OPEN_LOOP_RATES) {
        await openLoop("bare", bare, rate, round);
        await openLoop("scan", api, rate, round);
        if (rate === TARGET_OPEN_LOOP_RATE) await openLoop("lookup", lookup, rate, round);
      }
      await allIdle();
      const looked = await cpuPerRequest(lookup.child.pid!, () => load.run(scanJob(lookup.url, { connections: PROVENANCE_CONNECTIONS, warm: true })));
      figures.lookup.cpuUs.push(looked.cpuUs);
      figures.lookup.closedRate.push(looked.result.count / looked.result.seconds);
      console.log(`round ${round} lookup: ${us(looked.cpuUs)} CPU/request`);
    }
    report(figures, median(signedInCpu), provenance, median(scanClosedP99));
  } finally {
    load.stop();
    bare.child.kill("SIGTERM");
    api.child.kill("SIGTERM");
    lookup.child.kill("SIGTERM");
  }
}

const seconds = Number(process.env.BENCH_API_SECONDS ?? 5);
const rows: string[] = [];
const targets: string[] = [];
const notes: string[] = [];

function target(name: string, figure: string, ratio: number, reference: string, limit: number) {
  const line = `target ${name}: ${figure} (${ratio.toFixed(2)}× ${reference}) — ${ratio <= limit ? "met" : "missed"}`;
  targets.push(line);
  console.log(line);
}

function report(
  figures: { bare: Figures; scan: Figures; lookup: Figures },
  signedInCpu: number,
  provenance: { p99: number[]; cpuUs: number[]; rate: number[] },
  scanClosedP99: number,
) {
  const provenanceP99 = median(provenance.p99);
  const { bare, scan, lookup } = figures;
  const row = (what: string, a: string, b: string, c: string) => rows.push(`| ${what} | ${a} | ${b} | ${c} |`);
  const rounds = (values: number[]) => `${us(median(values))} (rounds: ${values.map((v) => Math.round(v).toLocaleString("en")).join(", ")})`;
  row("server CPU per request (closed loop, from /proc)", rounds(bare.cpuUs), rounds(lookup.cpuUs), rounds(scan.cpuUs));
  row(
    `closed-loop throughput, ${PROVENANCE_CONNECTIONS} connections`,
    perSecond(median(bare.closedRate)),
    perSecond(median(lookup.closedRate)),
    perSecond(median(scan.closedRate)),
  );
  const openLoop = (f: Figures, rate: number) =>
    f.p99[rate]!.length === 0 ? "" : `${us(median(f.p50[rate]!))} / ${us(median(f.p99[rate]!))}${unansweredNote(f.unanswered[rate]!)}`;
  for (const rate of OPEN_LOOP_RATES) {
    row(`open loop at ${rate.toLocaleString("en")} scans/s: p50 / p99`, openLoop(bare, rate), openLoop(lookup, rate), openLoop(scan, rate));
  }
  row("signed-in scan (regulator: custody path and Merkle proof), CPU per request", "", "", us(signedInCpu));
  row(`provenance page of 100 entries, ${PROVENANCE_CONNECTIONS} connections, p99`, "", "", us(provenanceP99));
  row(
    `provenance page of 100 entries, ${PROVENANCE_CONNECTIONS} connections: server CPU per page, pages/s`,
    "",
    "",
    `${rounds(provenance.cpuUs)}, ${perSecond(median(provenance.rate))}`,
  );
  const bareCpu = median(bare.cpuUs);
  target("scan CPU per request", us(median(scan.cpuUs)), median(scan.cpuUs) / bareCpu, `bare node:http ${us(bareCpu)}`, 3.5);
  target("signed-in scan CPU per request", us(signedInCpu), signedInCpu / bareCpu, `bare node:http ${us(bareCpu)}`, 5);
  const [bareP99, scanP99] = [median(bare.p99[TARGET_OPEN_LOOP_RATE]!), median(scan.p99[TARGET_OPEN_LOOP_RATE]!)];
  target(
    `open-loop p99 at ${TARGET_OPEN_LOOP_RATE.toLocaleString("en")} scans/s`,
    us(scanP99),
    scanP99 / bareP99,
    `bare node:http ${us(bareP99)}`,
    1.5,
  );
  const lookupP99 = median(lookup.p99[TARGET_OPEN_LOOP_RATE]!);
  notes.push(
    `In the same rounds at ${TARGET_OPEN_LOOP_RATE.toLocaleString("en")} scans/s the lookup reference, a node:http server that only parses the code and reads its key (no verdict, no framework), had an open-loop p99 of ${us(lookupP99)}: ${(lookupP99 / bareP99).toFixed(2)}× the bare server's, at ${(median(lookup.cpuUs) / bareCpu).toFixed(2)}× its closed-loop CPU per request, where the scan had ${(scanP99 / bareP99).toFixed(2)}× at ${(median(scan.cpuUs) / bareCpu).toFixed(2)}×.`,
  );
  const bareBehind = OPEN_LOOP_RATES.filter((rate) => bare.unanswered[rate]!.some((n) => n > 0));
  if (bareBehind.length > 0) {
    notes.push(
      `At ${bareBehind.map((r) => r.toLocaleString("en")).join(", ")} scans/s the bare server itself fell behind in some round: there both servers were saturated by the machine's other load, and a p99 ratio between them says nothing about the scan.`,
    );
  }
  target(
    `provenance page of 100 p99 at ${PROVENANCE_CONNECTIONS} connections`,
    us(provenanceP99),
    provenanceP99 / scanClosedP99,
    `scan p99 at ${PROVENANCE_CONNECTIONS} connections ${us(scanClosedP99)}`,
    10,
  );
}

function writeSection(manifest: Manifest, seededNow: boolean) {
  const cpus = os.cpus();
  const machine = `${cpus.length} × ${cpus[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const size = fs.statSync(DB_FILE).size;
  // The settings that differ from the defaults, so that the command reproduces the figures.
  const settings = [
    CODES === 10_000_000 ? "" : `BENCH_API_CODES=${CODES} `,
    ROUNDS === 5 ? "" : `BENCH_API_ROUNDS=${ROUNDS} `,
    seconds === 5 ? "" : `BENCH_API_SECONDS=${seconds} `,
  ];
  const command = `${settings.join("")}${COMMAND}`;
  const section = [
    SECTION,
    "",
    `Command: \`${command}\` (bench/api.ts), ${new Date().toISOString().slice(0, 10)}, on ${machine}; load average (1 min) when the run started ${loadAtStart.toFixed(1)}, when it ended ${os.loadavg()[0]!.toFixed(1)}. Other work shares the 2 cores: wall-clock figures (rates, latencies) swing with it; server CPU per request, from /proc, is the stable figure.`,
    `Store: SQLite (${(size / 2 ** 30).toFixed(2)} GiB) with ${BATCHES.toLocaleString("en")} batches and ${CODES.toLocaleString("en")} registered codes (two batches of ${LARGE_BATCH_CODES.toLocaleString("en")}, the rest of about ${Math.floor((CODES - LARGE_BATCHES * LARGE_BATCH_CODES) / (BATCHES - LARGE_BATCHES))}, each with its stored Merkle tree), seeded directly in ${manifest.seededIn.toFixed(0)} s${seededNow ? "" : " (cached under .data/bench/api/)"}${CODES === 10_000_000 ? "" : "; the issue's store has 10,000,000 codes (run without BENCH_API_CODES), which this shared machine could not seed in the time available"}.`,
    `Servers, each one process on 127.0.0.1: a bare node:http server answering every request with a fixed scan-sized JSON (the machine's own ceiling); the project's API (scans on its fast path); and, as a reference for what the store's lookup alone costs, a node:http server that parses the code with the codes module and looks its key up with one prepared better-sqlite3 statement on the same store, answering the bare server's JSON with the batch found (closed loop, and open loop at ${TARGET_OPEN_LOOP_RATE.toLocaleString("en")} scans/s). The load generator is bench/open-loop.ts in its own process: open loop at a fixed arrival rate (wrk2-style: each latency from the moment its request was due, in µs, up to ${OPEN_LOOP_SOCKETS} sockets), and closed loop with ${PROVENANCE_CONNECTIONS} connections for throughput and CPU per request (each connection's first answer untimed: the latencies are of established connections). ${ROUNDS} rounds, ${seconds} s per run; medians of the rounds. In each round every figure is measured next to its reference, so that both meet the same load from the machine's other work: the signed-in scan just before the bare server and the scan just after it (CPU), a provenance page right after the scan whose p99 it is compared with, and at each open-loop rate the scan right after the bare server (at ${TARGET_OPEN_LOOP_RATE.toLocaleString("en")} scans/s the lookup reference right after the scan); the lookup reference's closed loop comes last. Before each run every server is idle (its CPU under a tenth of a core). The store's file and its code trees' files are read once before the servers start, so that they are all in the page cache, as a running server's are. Before the rounds, a signed-in scan of one code of every batch opens each batch's Merkle tree once, as a server that has run a while holds them (the codebook holds up to 256 MiB of trees; the 9,998 small ones take 122 MiB). Scans mix 70 % genuine, 15 % recalled and 15 % unknown codes across the store; the verdicts of 300 are checked first, and every answer must be 200. The public rate limit is lifted: loopback is a single client address.`,
    "",
    "| measurement | bare node:http | one lookup (reference) | scan |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
    ...targets,
    "",
    ...notes.flatMap((note) => [note, ""]),
  ].join("\n");
  writeBenchmarkSection(section);
}

const loadAtStart = os.loadavg()[0]!;

/** The cached store, seeded first when there is none (or it is of an older seed). */
async function seeded(): Promise<{ manifest: Manifest; seededNow: boolean }> {
  const cached = cachedSeed();
  if (cached) {
    // A store seeded before the latest migrations (a new index) gets them, as a deployment's would.
    const store = createStore(DB_FILE);
    await store.migrate();
    await store.close();
    return { manifest: cached, seededNow: false };
  }
  console.log(`seeding ${DB_FILE}: ${BATCHES.toLocaleString("en")} batches, ${CODES.toLocaleString("en")} codes`);
  const manifest = await seed();
  console.log(`seeded in ${manifest.seededIn.toFixed(0)} s`);
  return { manifest, seededNow: true };
}

async function main() {
  // The servers this bench starts run with its node flags (the bare one too, so that both have the same runtime).
  checkServiceFlags("bench:api");
  const { manifest, seededNow } = await seeded();
  await measure(manifest);
  writeSection(manifest, seededNow);
}

if (process.argv[2] === "seed") {
  seeded().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
} else if (process.argv[2] === "serve-bare") {
  serveBare();
} else if (process.argv[2] === "serve-lookup") {
  serveLookup();
} else if (process.argv[2] === "serve") {
  if (workers > 1) serveCluster();
  else void serve();
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
