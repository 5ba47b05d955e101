import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { createApp } from "../../src/api/app";
import { createCodeBook } from "../../src/api/codebook";
import type { ApiServices } from "../../src/api/context";
import { packIdOf } from "../../src/api/scan";
import { withCheckDigit } from "../../src/codes";
import { DEFAULT_RECALL_DEADLINES } from "../../src/ledger";
import { silentLogger } from "../../src/log";
import { createStore, newFactsVersion } from "../../src/store";
import type { Store } from "../../src/store";
import { createPostgresDatabase, STORE_KINDS } from "../indexer/stores";
import { syntheticConsortium } from "../indexer/synthetic";
import type { SyntheticConsortium, SyntheticParty } from "../indexer/synthetic";

const CODE = "]d2010690123456789221FACTS1";
const KEY = "(01)06901234567892(21)FACTS1";

/**
 * Servers of a cluster share one database and each caches batches' facts for its scans: what one indexer applies (a
 * recall, a hold, a suspension) must be in the very next scan answered by any of them. Here the indexer writes
 * through one store handle and the API answers through another, as two processes would.
 */
describe.each(STORE_KINDS)("scans on one server see what another server's indexer applied (%s)", (kind) => {
  let dir: string;
  let dropDatabase: (() => Promise<void>) | undefined;
  let writer: Store;
  let reader: Store;
  let s: SyntheticConsortium;
  let batchId: string;
  let services: ApiServices;
  let location: string;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "trace-facts-"));
    location = path.join(dir, "store.sqlite");
    if (kind === "postgres") {
      const database = await createPostgresDatabase("trace_facts");
      [location, dropDatabase] = [database.url, database.drop];
    }
    writer = createStore(location);
    await writer.migrate();
    reader = createStore(location);
    s = await syntheticConsortium();
    batchId = await s.releasedBatch("B-FACTS", 100);
    await s.ledger.handOver(s.cmo, s.distributor, batchId, 30);
    await s.ledger.handOver(s.distributor, s.dispenser, batchId, 10);
    await s.ledger.apply(writer);
    await writer.db.insertInto("batch_codes").values({ canonical_key: KEY, batch_id: batchId }).execute();
    const manufactured = await writer.db.selectFrom("batches").select("manufactured_at").where("id", "=", batchId).executeTakeFirstOrThrow();
    services = {
      store: reader,
      log: silentLogger(),
      config: { secret: randomBytes(32), tokenLifetime: 900, recallDeadlines: DEFAULT_RECALL_DEADLINES, publicRateLimit: 10_000, dataDir: dir },
      codes: createCodeBook(reader, dir),
      now: () => Number(manufactured.manufactured_at) + 2 * 86_400,
    };
  });
  afterEach(async () => {
    services.codes.close();
    await reader.close();
    await writer.close();
    await dropDatabase?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const verdict = async (app = createApp(services), authorization?: string) => {
    const req = request(app).post("/v1/scans");
    const res = await (authorization ? req.set("authorization", authorization) : req).send({ code: CODE });
    return res.status === 200 ? (res.body.verdict as string) : `${res.status} ${res.body.error.code}`;
  };

  async function tokenOf(app: ReturnType<typeof createApp>, party: SyntheticParty) {
    const challenge = await request(app).post("/v1/auth/challenge").send({ key: party.key.address }).expect(200);
    const signature = await party.key.signMessage(challenge.body.text as string);
    const token = await request(app)
      .post("/v1/auth/token")
      .send({ key: party.key.address, challenge: challenge.body.challenge, signature })
      .expect(200);
    return `Bearer ${token.body.token as string}`;
  }

  it("reads a code no batch has in the scan's one statement: its product's name, or none; registered since, it is found at once", async () => {
    const scanOf = async (code: string) => (await request(createApp(services)).post("/v1/scans").send({ code }).expect(200)).body;
    const product = await writer.db.selectFrom("products").select("name").where("product_code", "=", "06901234567892").executeTakeFirstOrThrow();
    const unknown = await scanOf("]d2010690123456789221OTHER1");
    expect([unknown.verdict, unknown.product, unknown.batch]).to.deep.equal(["UNKNOWN_CODE", null, null]);
    expect(unknown.reason).to.contain(`no batch of ${product.name} (06901234567892)`);
    expect((await scanOf(`(01)${withCheckDigit("0950600013436")}(21)OTHER1`)).verdict).to.equal("NOT_ON_LEDGER");
    await writer.db.insertInto("batch_codes").values({ canonical_key: "(01)06901234567892(21)OTHER1", batch_id: batchId }).execute();
    expect((await scanOf("]d2010690123456789221OTHER1")).verdict).to.equal("GENUINE");
  });

  it("answers a hold, its release and a recall from the next scan on, the batch's facts cached in between", async () => {
    const app = createApp(services);
    expect([await verdict(app), await verdict(app)]).to.deep.equal(["GENUINE", "GENUINE"]);
    await s.ledger.placeHold(s.mah, batchId);
    await s.ledger.apply(writer);
    expect(await verdict(app)).to.equal("ON_HOLD");
    await s.ledger.releaseHold(s.mah, batchId);
    await s.ledger.apply(writer);
    expect(await verdict(app)).to.equal("GENUINE");
    await s.ledger.startRecall(s.mah, batchId, 2);
    await s.ledger.apply(writer);
    expect(await verdict(app)).to.equal("RECALLED");
  });

  it("answers a pack's own state and an organization's suspension from the next scan on", async () => {
    const app = createApp(services);
    const dispenser = await tokenOf(app, s.dispenser);
    expect(await verdict(app, dispenser)).to.equal("GENUINE");
    await s.ledger.suspend(s.regulator, s.dispenser.id);
    await s.ledger.apply(writer);
    expect(await verdict(app, dispenser)).to.equal("403 ORGANIZATION_SUSPENDED");
    await s.ledger.reinstate(s.regulator, s.dispenser.id);
    await s.ledger.apply(writer);
    expect(await verdict(app, dispenser)).to.equal("GENUINE");
    // The pack's own state is read with its code on every scan, never cached.
    await writer.db
      .insertInto("pack_states")
      .values({ pack: await packIdOf(KEY), batch_id: batchId, state: "STOLEN", organization_id: s.dispenser.id, changed_at: 1 })
      .execute();
    expect(await verdict(app, dispenser)).to.equal("STOLEN");
  });

  it("answers a revoked key from the next scan on, the token's check cached in between", async () => {
    const app = createApp(services);
    const second = await s.ledger.addKey(s.dispenser);
    await s.ledger.apply(writer);
    const token = await tokenOf(app, { ...s.dispenser, key: second });
    expect([await verdict(app, token), await verdict(app, token)]).to.deep.equal(["GENUINE", "GENUINE"]);
    await s.ledger.revokeKey(s.dispenser, second.address);
    await s.ledger.apply(writer);
    expect(await verdict(app, token)).to.equal("401 REVOKED_KEY");
    // The organization's other key still speaks for it.
    expect(await verdict(app, await tokenOf(app, s.dispenser))).to.equal("GENUINE");
  });

  it("answers changed custody from the next scan on: the scanner's standing and the custody path, cached in between", async () => {
    const app = createApp(services);
    const scanned = async (authorization: string) => {
      const res = await request(app).post("/v1/scans").set("authorization", authorization).send({ code: CODE }).expect(200);
      return { verdict: res.body.verdict as string, custody: (res.body.custody as { event: string }[] | undefined)?.length };
    };
    const outsider = await tokenOf(app, s.distributor2);
    const holder = await tokenOf(app, s.distributor);
    const before = await scanned(holder);
    expect(before.verdict).to.equal("GENUINE");
    expect(await scanned(outsider)).to.deep.equal({ verdict: "UNEXPECTED_HOLDER", custody: undefined });
    expect(await scanned(outsider)).to.deep.equal({ verdict: "UNEXPECTED_HOLDER", custody: undefined });
    await s.ledger.handOver(s.distributor, s.distributor2, batchId, 5);
    await s.ledger.apply(writer);
    // The shipment and its receipt: two more hand-overs on the path, and the new holder is expected and may read it.
    expect(await scanned(outsider)).to.deep.equal({ verdict: "GENUINE", custody: before.custody! + 2 });
    expect(await scanned(holder)).to.deep.equal({ verdict: "GENUINE", custody: before.custody! + 2 });
    await s.ledger.handOver(s.distributor2, s.dispenser, batchId, 5);
    await s.ledger.apply(writer);
    // distributor2 shipped all it held: still on the path (it may read it), but it no longer holds the batch.
    expect(await scanned(outsider)).to.deep.equal({ verdict: "UNEXPECTED_HOLDER", custody: before.custody! + 4 });
  });

  it("answers a recall and a revoked key committed by another process from the next scan on", async () => {
    const app = createApp(services);
    const dispenser = await tokenOf(app, s.dispenser);
    expect([await verdict(app), await verdict(app, dispenser), await verdict(app)]).to.deep.equal(["GENUINE", "GENUINE", "GENUINE"]);
    // What the indexer commits for them, written by a process of its own (another server's indexer). Statements
    // take their values as $1, $2, … (SQLite's as ?, in order).
    const commitElsewhere = (statement: string, ...values: (string | number)[]) => {
      const script =
        kind === "sqlite"
          ? `const db = new (require("better-sqlite3"))(process.argv[1]); db.pragma("busy_timeout = 5000");
              db.prepare(process.argv[2].replace(/\\$\\d+/g, "?")).run(...JSON.parse(process.argv[3])); db.close();`
          : `const client = new (require("pg").Client)(process.argv[1]);
              client.connect().then(() => client.query(process.argv[2], JSON.parse(process.argv[3]))).then(() => client.end());`;
      execFileSync(process.execPath, ["-e", script, location, statement, JSON.stringify(values)], { cwd: path.resolve(__dirname, "../..") });
    };
    commitElsewhere("UPDATE batches SET recall_status = 'OPEN', recall_level = 2, facts_version = $1 WHERE id = $2", newFactsVersion(), batchId);
    expect(await verdict(app)).to.equal("RECALLED");
    commitElsewhere("UPDATE signing_keys SET revoked = 1 WHERE address = $1", s.dispenser.key.address.toLowerCase());
    expect(await verdict(app, dispenser)).to.equal("401 REVOKED_KEY");
  });
});
