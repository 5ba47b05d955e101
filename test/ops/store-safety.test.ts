import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Migrator, sql } from "kysely";
import request from "supertest";
import { afterAll, beforeAll, describe, it } from "vitest";
import { silentLogger } from "../../src/log";
import { checkStoreContinuity, StoreLostError, StoreMismatchError } from "../../src/ops/continuity";
import { closeServer, listenHttp } from "../../src/ops/listen";
import { startLedgerService } from "../../src/service";
import type { LedgerService, LedgerServiceOptions } from "../../src/service";
import { createStore, StoreDamagedError } from "../../src/store";
import { migrationProvider } from "../../src/store/migrations";
import { backupStore, BackupError, restoreStore } from "../../src/store/backup";
import { packsFor } from "../api/harness";
import { zeroCodeIndexPage } from "./damage";
import { deployConsortium, recordBatch, releaseFromFactory, releaseToMarket } from "../contracts/fixtures";
import type { Consortium } from "../contracts/fixtures";
import type { Deployment } from "../../src/indexer";
import { deploymentOf, serveChain } from "../indexer/chain";
import { createPostgresDatabase } from "../indexer/stores";

type Batch = { batchId: string; packs: Awaited<ReturnType<typeof packsFor>> };

let chain: Awaited<ReturnType<typeof serveChain>>;
let c: Consortium;
let deployment: Deployment;
let batches: Batch[];
const running = new Set<LedgerService>();
const dirs: string[] = [];

beforeAll(async () => {
  chain = await serveChain();
  c = await deployConsortium();
  deployment = await deploymentOf(c);
  batches = [];
  for (const number of ["SAFE-1", "SAFE-2"]) {
    const packs = await packsFor(number, 40);
    const batchId = await recordBatch(c, number, { quantity: 40n, codesRoot: packs.tree.root });
    await releaseFromFactory(c, batchId);
    await releaseToMarket(c, batchId);
    batches.push({ batchId, packs });
  }
});

afterAll(async () => {
  for (const service of running) await service.stop();
  await chain?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dataDir() {
  const dir = mkdtempSync(path.join(tmpdir(), "trace-store-"));
  dirs.push(dir);
  return dir;
}

const storeOf = (dir: string) => path.join(dir, "ledger.sqlite");

async function start(dir: string, extra: Partial<LedgerServiceOptions> = {}): Promise<LedgerService> {
  const server = await listenHttp("127.0.0.1", 0);
  try {
    const service = await startLedgerService({
      rpcUrl: chain.url,
      deployment: deployment as never,
      database: storeOf(dir),
      dataDir: dir,
      server,
      log: silentLogger(),
      ...extra,
    });
    running.add(service);
    return service;
  } catch (error) {
    await closeServer(server);
    throw error;
  }
}

async function stop(service: LedgerService) {
  running.delete(service);
  await service.stop();
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("it was accepted");
}

/** A service over the chain's batches, both with their codes registered. */
async function registered(dir: string) {
  const service = await start(dir);
  for (const { batchId, packs } of batches) {
    await service.services.codes.register({ batchId, codes: packs.printed, by: c.mah.id, now: service.services.now() });
  }
  return service;
}

/** Every registered pack's scan: status and verdict. */
async function scans(service: LedgerService) {
  const answers: string[] = [];
  for (const { packs } of batches) {
    for (const code of packs.printed) {
      const response = await request(service.apiUrl).post("/v1/scans").send({ code });
      answers.push(`${response.status} ${response.body.verdict ?? response.body.error?.code}`);
    }
  }
  return answers;
}

const ALL_GENUINE = () => Array.from({ length: 80 }, () => "200 GENUINE");

describe("a damaged store", () => {
  it("is refused at start, naming the file", async () => {
    const dir = dataDir();
    const service = await registered(dir);
    expect(await scans(service)).to.deep.equal(ALL_GENUINE());
    await stop(service);
    zeroCodeIndexPage(storeOf(dir));
    const refused = await failure(start(dir));
    expect(refused).to.be.instanceOf(StoreDamagedError);
    expect(refused.message).to.contain(`the store ${storeOf(dir)} is damaged (`);
  });

  it("found while serving, makes every answer 503 STORE_DAMAGED and /healthz say so, never a wrong verdict", async () => {
    const dir = dataDir();
    const service = await registered(dir);
    expect((await request(service.apiUrl).get("/healthz").expect(200)).body).to.include({ status: "ok", integrity: "ok" });
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(service.services.store.db);
    zeroCodeIndexPage(storeOf(dir));
    expect(await scans(service)).to.deep.equal(Array.from({ length: 80 }, () => "503 STORE_DAMAGED"));
    const health = await request(service.apiUrl).get("/healthz").expect(503);
    expect(health.body.error.code).to.equal("STORE_DAMAGED");
    await request(service.apiUrl).get(`/v1/organizations/${c.mah.id}`).expect(503);
    await stop(service);
  });
});

describe("a lost store", () => {
  it("is refused while the data directory shows it held records; accepted as lost, the codes come back from the data directory", async () => {
    const dir = dataDir();
    await stop(await registered(dir));
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${storeOf(dir)}${suffix}`, { force: true });
    const refused = await failure(start(dir));
    expect(refused).to.be.instanceOf(StoreLostError);
    expect(refused.message).to.contain(`the store ${storeOf(dir)} is empty, but the data directory ${dir} was used with store `);
    const rebuilt = await start(dir, { acceptLostStore: true });
    expect(await scans(rebuilt)).to.deep.equal(ALL_GENUINE());
    await stop(rebuilt);
    // The rebuilt store is the data directory's store from now on.
    await stop(await start(dir));
  });

  it("registers nothing again from kept files that do not match the batch's root on the chain, or are not records", async () => {
    const dir = dataDir();
    await stop(await registered(dir));
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${storeOf(dir)}${suffix}`, { force: true });
    const [first, second] = batches.map(({ batchId }) => path.join(dir, "trees", batchId));
    const keys = readFileSync(`${first}.codes`, "utf8").split("\n");
    writeFileSync(`${first}.codes`, keys.slice(1).join("\n"));
    writeFileSync(`${second}.registration.json`, "{ not json");
    const rebuilt = await start(dir, { acceptLostStore: true });
    expect(await rebuilt.services.store.db.selectFrom("code_trees").select("batch_id").execute()).to.deep.equal([]);
    expect(await scans(rebuilt)).not.to.include("200 GENUINE");
    await stop(rebuilt);
  });

  it("is refused even when the data directory predates store ids, if it keeps registered codes", async () => {
    const dir = dataDir();
    await stop(await registered(dir));
    rmSync(path.join(dir, "store-id"));
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${storeOf(dir)}${suffix}`, { force: true });
    expect(await failure(start(dir))).to.be.instanceOf(StoreLostError);
  });

  it("keeps the codes of batches registered before registrations kept them", async () => {
    const dir = dataDir();
    await stop(await registered(dir));
    const kept = path.join(dir, "trees", `${batches[0]!.batchId}.codes`);
    const keys = readFileSync(kept, "utf8");
    rmSync(kept);
    rmSync(path.join(dir, "trees", `${batches[0]!.batchId}.registration.json`));
    await stop(await start(dir));
    expect(readFileSync(kept, "utf8").split("\n").sort()).to.deep.equal(keys.split("\n").sort());
  });

  it("refuses another store than the data directory's", async () => {
    const dir = dataDir();
    await stop(await registered(dir));
    const elsewhere = dataDir();
    const other = path.join(elsewhere, "other.sqlite");
    await stop(await start(elsewhere, { database: other }));
    const refused = await failure(start(dir, { database: other }));
    expect(refused).to.be.instanceOf(StoreMismatchError);
    expect(refused.message).to.contain(`the store ${other} is store `).and.to.contain(`but the data directory ${dir} was used with store `);
  });
});

describe("store backup and restore (SQLite)", () => {
  it("a backup taken while serving, restored over a damaged store, gives the same answers", async () => {
    const dir = dataDir();
    const service = await registered(dir);
    const before = await scans(service);
    const backup = path.join(dataDir(), "ledger.backup");
    await backupStore(storeOf(dir), backup);
    expect(await failure(backupStore(storeOf(dir), backup))).to.be.instanceOf(BackupError);
    await stop(service);
    zeroCodeIndexPage(storeOf(dir));
    expect(await failure(start(dir))).to.be.instanceOf(StoreDamagedError);
    await restoreStore(storeOf(dir), backup);
    const restored = await start(dir);
    expect(await scans(restored)).to.deep.equal(before);
    await stop(restored);
  });

  it("refuses to restore a damaged backup or a file that is not one, leaving the store as it was", async () => {
    const dir = dataDir();
    await stop(await registered(dir));
    const damaged = path.join(dataDir(), "damaged.backup");
    await backupStore(storeOf(dir), damaged);
    zeroCodeIndexPage(damaged);
    const notOne = path.join(dataDir(), "notes.txt");
    writeFileSync(notOne, "not a store");
    expect((await failure(restoreStore(storeOf(dir), damaged))).message).to.contain(`the backup ${damaged} is damaged`);
    expect((await failure(restoreStore(storeOf(dir), notOne))).message).to.contain(`${notOne} is not a readable backup of a ledger store`);
    expect(existsSync(`${storeOf(dir)}.restoring`)).to.equal(false);
    const service = await start(dir);
    expect(await scans(service)).to.deep.equal(ALL_GENUINE());
    await stop(service);
  });
});

describe("the store id", () => {
  it("a store from before the id had its fixed key keeps the first id written", async () => {
    const store = createStore(":memory:");
    try {
      await new Migrator({ db: store.db, provider: migrationProvider }).migrateTo("0005_store_identity");
      await sql`INSERT INTO store_identity (id, created_at) VALUES ('later', 2), ('first', 1)`.execute(store.db);
      await store.migrate();
      expect(await store.db.selectFrom("store_identity").selectAll().execute()).to.deep.equal([{ slot: 1, id: "first", created_at: 1 }]);
    } finally {
      await store.close();
    }
  });

  it("is one for servers starting together on a new PostgreSQL database, and each data directory records it", async () => {
    const database = await createPostgresDatabase("trace_identity");
    const stores = [1, 2, 3].map(() => createStore(database.url));
    try {
      await stores[0]!.migrate();
      const dirs = stores.map(() => dataDir());
      await Promise.all(stores.map((store, i) => checkStoreContinuity(store, dirs[i]!, { acceptLoss: false, now: 1 })));
      const recorded = new Set(dirs.map((dir) => readFileSync(path.join(dir, "store-id"), "utf8")));
      expect(recorded.size).to.equal(1);
      expect(await stores[0]!.db.selectFrom("store_identity").select("id").execute()).to.deep.equal([{ id: [...recorded][0]!.trim() }]);
    } finally {
      for (const store of stores) await store.close();
      await database.drop();
    }
  });
});

describe("store backup and restore (PostgreSQL)", () => {
  it("pg_dump while in use, then pg_restore over lost rows, gives back the same rows", async () => {
    const database = await createPostgresDatabase("trace_backup");
    const store = createStore(database.url);
    try {
      await store.migrate();
      await store.db.insertInto("store_identity").values({ slot: 1, id: "backed-up", created_at: 1 }).execute();
      const subscriptions = [1, 2, 3].map((n) => ({
        id: `sub-${n}`,
        organization_id: n,
        url: `https://receiver.example/${n}`,
        kinds: "alert.*",
        secret: `secret-${n}`,
        description: null,
        status: "active",
        after_notification_id: 0,
        created_at: n,
        deleted_at: null,
      }));
      await store.db.insertInto("webhook_subscriptions").values(subscriptions).execute();
      const backup = path.join(dataDir(), "ledger.pgdump");
      await backupStore(database.url, backup);
      await store.db.deleteFrom("webhook_subscriptions").execute();
      await store.db.deleteFrom("store_identity").execute();
      await store.close();
      await restoreStore(database.url, backup);
      const reopened = createStore(database.url);
      try {
        expect(await reopened.db.selectFrom("webhook_subscriptions").selectAll().orderBy("id").execute()).to.deep.equal(subscriptions);
        expect(await reopened.db.selectFrom("store_identity").select("id").execute()).to.deep.equal([{ id: "backed-up" }]);
      } finally {
        await reopened.close();
      }
    } finally {
      await store.close().catch(() => undefined);
      await database.drop();
    }
  });
});
