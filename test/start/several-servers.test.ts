import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import { alertConfig, createAlertEngine } from "../../src/alerts";
import type { Deployment } from "../../src/indexer";
import { createIndexer, createRpcSource } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import { createStore } from "../../src/store";
import type { Store } from "../../src/store";
import { deployConsortium } from "../contracts/fixtures";
import { deploymentOf, serveChain } from "../indexer/chain";
import { dumpDiff, dumpTables, MODEL_TABLES, rowCounts } from "../indexer/dump";
import { largeHistory } from "../indexer/history";
import { createPostgresDatabase } from "../indexer/stores";
import { attachedServers, writerPid } from "./attached";
import type { AttachedService } from "./attached";

/**
 * Three API servers over one PostgreSQL database, as an operator scales out: one writes the read model, two serve
 * and stand by. The writer is killed (SIGKILL) part way through the backfill; a standby takes over from the
 * checkpoint, and the read model ends equal, row for row, to a single clean run's: no event applied twice, none lost.
 */
const SERVERS = 3;
/** Small ranges: the backfill is many transactions, so the kill lands in the middle of it. */
const MAX_RANGE = 4;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(probe: () => Promise<T | undefined | false>): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await pause(20);
  }
}

/** The checkpoint's block, or -1 before the first range is committed. */
async function checkpointOf(store: Store): Promise<number> {
  const row = await store.db.selectFrom("sync_state").select("block_number").executeTakeFirst();
  return row ? row.block_number : -1;
}

/** The alerts and notifications the ledger events raise, and how far the alert engine has evaluated the events. */
async function earlyWarnings(store: Store) {
  const cursor = await store.db.selectFrom("alert_cursors").select(["block_number", "log_index"]).where("name", "=", "events").executeTakeFirst();
  const alerts = await store.db.selectFrom("alerts").select(["key", "status"]).where("source_block", "is not", null).orderBy("key").execute();
  // Alerts of the clock (deadlines passed by wall time) depend on how long each run lived, so only what events raise is compared.
  const notifications = await store.db
    .selectFrom("notifications")
    .leftJoin("alerts", "alerts.id", "notifications.alert_id")
    .select(["notifications.idempotency_key", "notifications.kind"])
    .where((eb) => eb.or([eb("notifications.alert_id", "is", null), eb("alerts.source_block", "is not", null)]))
    .orderBy("notifications.idempotency_key")
    .execute();
  return { cursor: cursor ? `${cursor.block_number}:${cursor.log_index}` : null, alerts, notifications };
}

async function health(apiUrl: string) {
  return (await (await fetch(`${apiUrl}/healthz`)).json()) as { status: string; indexedBlock: number | null; role: string | null };
}

describe("several API servers over one PostgreSQL database", () => {
  let chain: Awaited<ReturnType<typeof serveChain>>;
  let deployment: Deployment;
  let head: number;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let servers: ReturnType<typeof attachedServers>;

  beforeAll(async () => {
    chain = await serveChain();
    const c = await deployConsortium();
    deployment = await deploymentOf(c);
    await largeHistory(c);
    head = Number(await hre.network.provider.send("eth_blockNumber", []));
    database = await createPostgresDatabase("trace_servers");
    servers = attachedServers({ rpcUrl: chain.url, deployment, database: database.url, args: ["--max-range", String(MAX_RANGE)] });
  });
  afterAll(async () => {
    await servers?.close();
    await database?.drop();
    await chain?.close();
  });

  it("has one writer; when it is killed mid-backfill a standby takes over, and the read model and alerts equal a clean run's", async () => {
    const observer = createStore(database.url);
    try {
      const launched = Array.from({ length: SERVERS }, () => servers.launch());
      // Mid-backfill: a third of the way in, the checkpoint still short of the head.
      const reached = await until(async () => {
        const block = await checkpointOf(observer).catch(() => -1);
        return block >= head / 3 && block;
      });
      expect(reached, "killed before the backfill ended").to.be.below(head);
      const pid = await until(() => writerPid(database.url));
      const writer = launched.find((service) => service.child.pid === pid);
      expect(writer, `the writer lock is held by pid ${pid}, one of the servers`).not.to.equal(undefined);
      writer!.child.kill("SIGKILL");
      await writer!.exited;

      const survivors = launched.filter((service) => service !== writer);
      const urls = await Promise.all(survivors.map((service) => service.ready));
      await until(async () => (await checkpointOf(observer)) === head);
      // Every survivor answers from the whole read model; exactly one of them writes it now.
      const answers = await until(async () => {
        const all = await Promise.all(urls.map(health));
        return all.every((a) => a.role !== null) && all;
      });
      expect(answers.map((a) => a.indexedBlock)).to.deep.equal(urls.map(() => head));
      expect(answers.map((a) => a.role).sort()).to.deep.equal(["standby", "writer"]);
      const newWriter = survivors[answers.findIndex((a) => a.role === "writer")]!;
      expect(await writerPid(database.url)).to.equal(newWriter.child.pid);
      for (const service of survivors) expectNoFight(service);

      const clean = await cleanRun();
      const actual = await dumpTables(observer.db, MODEL_TABLES);
      expect(dumpDiff(actual, clean.model), JSON.stringify(rowCounts(actual))).to.deep.equal({});

      // The three servers' alert engines evaluated the same events side by side: each alert and notification once.
      expect(clean.warnings.alerts.length, "the history's short receipts raise alerts").to.be.greaterThan(0);
      const warnings = await until(async () => {
        const now = await earlyWarnings(observer);
        return now.cursor === clean.warnings.cursor && now;
      });
      expect(warnings.alerts).to.deep.equal(clean.warnings.alerts);
      // Each notification once (idempotency keys are unique), none lost. Who is told of a ledger event is read from
      // the read model when the engine evaluates it, which mid-backfill can be ahead of that event, so a live run may
      // tell a party more than a run evaluated after the backfill; that is timing, not a server doubling anything.
      const told = new Set(warnings.notifications.map((n) => `${n.idempotency_key} ${n.kind}`));
      expect(clean.warnings.notifications.filter((n) => !told.has(`${n.idempotency_key} ${n.kind}`))).to.deep.equal([]);
      expect(new Set(warnings.notifications.map((n) => n.idempotency_key)).size).to.equal(warnings.notifications.length);
    } finally {
      await observer.close();
    }
  });

  /** Servers that both wrote would roll back each other's ranges as reorganizations, or fail writing them. */
  function expectNoFight(service: AttachedService) {
    expect(service.output()).not.to.match(/chain reorganized|indexing failed/);
    expect(service.alive(), service.output()).to.equal(true);
  }

  /** The read model one indexer writes alone, on a database of its own, and what one alert engine makes of it. */
  async function cleanRun() {
    const reference = await createPostgresDatabase("trace_servers_clean");
    const store = createStore(reference.url);
    const source = createRpcSource(chain.url);
    try {
      await store.migrate();
      await createIndexer({ source, store, deployment, log: silentLogger() }).catchUp();
      await createAlertEngine({ store, config: alertConfig(), log: silentLogger(), now: () => Math.floor(Date.now() / 1000) }).catchUp();
      return { model: await dumpTables(store.db, MODEL_TABLES), warnings: await earlyWarnings(store) };
    } finally {
      source.close();
      await store.close();
      await reference.drop();
    }
  }
});
