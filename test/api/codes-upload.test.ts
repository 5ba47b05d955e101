import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { setTimeout as sleep } from "node:timers/promises";
import { parseCode, withCheckDigit } from "../../src/codes";
import { recordBatch } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { apiHarness, packsFor } from "./harness";
import type { ApiHarness } from "./harness";

const COUNT = 200_000;

/**
 * POST /v1/batches/:batchId/codes with a text/plain body: one code per line, parsed and hashed as it streams, for
 * batches far beyond what a JSON body can carry; same checks as the JSON form and nothing half-registered.
 */
describe("streamed registration of a batch's codes (text/plain)", () => {
  let h: ApiHarness;
  let batchId: string;
  let printed: string[];

  const upload = async (party: Party, body: string) =>
    request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", `Bearer ${await h.tokenFor(party)}`)
      .set("content-type", "text/plain; charset=utf-8")
      .send(body);

  /** Nothing of the batch's codes is stored: no tree row, no code rows, no files left behind. */
  async function expectNothingRegistered() {
    expect(await h.store.db.selectFrom("code_trees").select("batch_id").where("batch_id", "=", batchId).executeTakeFirst()).to.equal(undefined);
    const rows = await h.store.db
      .selectFrom("batch_codes")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("batch_id", "=", batchId)
      .executeTakeFirstOrThrow();
    expect(Number(rows.n)).to.equal(0);
    const trees = path.join(h.services.config.dataDir, "trees");
    const files = existsSync(trees) ? readdirSync(trees).filter((name) => name.startsWith(batchId)) : [];
    expect(files, "no tree, spool or partial file remains").to.deep.equal([]);
  }

  beforeAll(async () => {
    h = await apiHarness();
    const codes = await packsFor("B-BIG-1", COUNT);
    printed = codes.printed;
    batchId = (await recordBatch(h.c, "B-BIG-1", { quantity: BigInt(COUNT), codesRoot: codes.tree.root })).toLowerCase();
    await h.indexer.catchUp();
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it("refuses a bad line by its number, having registered nothing", async () => {
    const lines = [...printed];
    lines[150_000] = "]d20106901234567892X";
    const res = await upload(h.c.cmo, lines.join("\n"));
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.error.field).to.equal("line.150001");
    expect(res.body.error.message).to.match(/^line 150001: /);
    await expectNothingRegistered();
  });

  it("refuses a line that never ends before reading it into memory, registering nothing", async () => {
    const res = await upload(h.c.cmo, `${printed[0]}\n${"9".repeat(100_000)}`);
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.error).to.include({ code: "CODE_TOO_LONG", field: "line.2" });
    await expectNothingRegistered();
  });

  it("refuses a complete line longer than a JSON list's code may be, whatever chunk it came in", async () => {
    const res = await upload(h.c.cmo, `${printed[0]}\n${"9".repeat(600)}\n${printed[1]}\n`);
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.error).to.include({ code: "CODE_TOO_LONG", field: "line.2" });
    await expectNothingRegistered();
  });

  it("refuses the earliest bad line, though a later line too long is in the same chunk of the body", async () => {
    // Line 12,003 is seen to be too long once its chunk is split, before line 12,001 (split out of the same chunk) is parsed.
    const lines = [...printed.slice(0, 12_000), "]d20106901234567892X", printed[12_000]!, "9".repeat(100_000)];
    const res = await upload(h.c.cmo, lines.join("\n"));
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.error).to.include({ field: "line.12001" });
    expect(res.body.error.message).to.match(/^line 12001: /);
    await expectNothingRegistered();
  });

  it("refuses a bad line near the start of a body that ends in a line too long, many chunks later", async () => {
    const lines = [printed[0]!, "]d20106901234567892X", ...printed.slice(1, 30_000), "9".repeat(100_000)];
    const res = await upload(h.c.cmo, lines.join("\n"));
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.error).to.include({ field: "line.2" });
    expect(res.body.error.message).to.match(/^line 2: /);
    await expectNothingRegistered();
  });

  it("refuses a JSON list's bad code past the first 5,000 by its index, and one of another product", async () => {
    const post = async (codes: string[]) =>
      request(h.app)
        .post(`/v1/batches/${batchId}/codes`)
        .set("authorization", `Bearer ${await h.tokenFor(h.c.cmo)}`)
        .send({ codes });
    const codes = printed.slice(0, 12_000);
    codes[7_321] = "]d20106901234567892X";
    const res = await post(codes);
    expect(res.status, JSON.stringify(res.body)).to.equal(400);
    expect(res.body.error).to.include({ field: "codes.7321" });
    expect(res.body.error.message).to.match(/^codes\[7321\]: /);
    const other = printed.slice(0, 10);
    other[3] = `]d201${withCheckDigit("0690999999999")}21XYZ1`;
    const mismatch = await post(other);
    expect([mismatch.status, mismatch.body.error.code, mismatch.body.error.field]).to.deep.equal([400, "CODE_PRODUCT_MISMATCH", "codes.3"]);
    await expectNothingRegistered();
  });

  it("refuses codes that miss one of the batch's packs with 422, registering nothing", async () => {
    const res = await upload(h.c.cmo, printed.slice(1).join("\n"));
    expect(res.status).to.equal(422);
    expect(res.body.error.code).to.equal("CODES_ROOT_MISMATCH");
    expect(res.body.error.message).to.contain(`these ${COUNT - 1} codes`);
    await expectNothingRegistered();
  });

  it("refuses a duplicated code and a regulator, who is no party to the batch", async () => {
    const duplicated = [...printed.slice(0, COUNT - 1), printed[7]!];
    const res = await upload(h.c.cmo, duplicated.join("\n"));
    expect([res.status, res.body.error.code]).to.deep.equal([400, "CODE_DUPLICATE"]);
    const regulator = await upload(h.c.regulator, printed.join("\n"));
    expect([regulator.status, regulator.body.error.code]).to.deep.equal([403, "NOT_BATCH_PARTY"]);
    await expectNothingRegistered();
  });

  it("refuses while another server's claim on the batch lives, deleting none of the rows it wrote", async () => {
    const theirs = printed.slice(0, 3).map((code) => ({ canonical_key: parseCode(code).key, batch_id: batchId }));
    await h.store.db.insertInto("batch_codes").values(theirs).execute();
    await h.store.db.insertInto("code_registration_claims").values({ batch_id: batchId, claim: "theirs", renewed_at: h.services.now() }).execute();
    try {
      const res = await upload(h.c.cmo, printed.join("\n"));
      expect([res.status, res.body.error.code]).to.deep.equal([409, "CODES_REGISTRATION_UNDER_WAY"]);
      const kept = await h.store.db.selectFrom("batch_codes").select("canonical_key").where("batch_id", "=", batchId).execute();
      expect(kept.map((row) => row.canonical_key).sort()).to.deep.equal(theirs.map((row) => row.canonical_key).sort());
    } finally {
      await h.store.db.deleteFrom("batch_codes").where("batch_id", "=", batchId).execute();
      await h.store.db.deleteFrom("code_registration_claims").where("batch_id", "=", batchId).execute();
    }
  });

  it(`registers ${COUNT.toLocaleString("en")} codes over a crashed server's partial rows, answering other requests meanwhile, then refuses them again`, async () => {
    // A server that crashed mid-registration left a claim it no longer renews and some of the rows.
    const left = printed.slice(10, 15).map((code) => ({ canonical_key: parseCode(code).key, batch_id: batchId }));
    await h.store.db.insertInto("batch_codes").values(left).execute();
    await h.store.db.insertInto("code_registration_claims").values({ batch_id: batchId, claim: "crashed", renewed_at: 0 }).execute();
    let registered = false;
    const registration = upload(h.c.cmo, `${printed.join("\r\n")}\r\n\r\n`).then((res) => {
      registered = true;
      return res;
    });
    // Once this server has taken the claim over, it writes the rows a chunk per transaction: a scan is answered
    // between two chunks, long before the last.
    const claimOf = () => h.store.db.selectFrom("code_registration_claims").select("claim").where("batch_id", "=", batchId).executeTakeFirst();
    while (!registered && ((await claimOf())?.claim ?? "crashed") === "crashed") await sleep(5);
    const scan = await request(h.app).post("/v1/scans").send({ code: h.batches.released.printed[5]! });
    expect([scan.status, registered]).to.deep.equal([200, false]);
    const res = await registration;
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.deep.include({ batchId, count: COUNT });
    const rows = await h.store.db
      .selectFrom("batch_codes")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("batch_id", "=", batchId)
      .executeTakeFirstOrThrow();
    expect(Number(rows.n)).to.equal(COUNT);
    const scanned = await request(h.app)
      .post("/v1/scans")
      .set("authorization", `Bearer ${await h.tokenFor(h.c.cmo)}`)
      .send({ code: printed[123_456] })
      .expect(200);
    expect(scanned.body.batch.id).to.equal(batchId);
    expect(scanned.body.proof.root).to.equal(res.body.root);
    expect(await claimOf(), "the claim is given up with the last chunk").to.equal(undefined);
    const again = await upload(h.c.mah, printed.slice(0, 10).join("\n"));
    expect([again.status, again.body.error.code]).to.deep.equal([409, "CODES_ALREADY_REGISTERED"]);
  });

  it("documents the text/plain body in the OpenAPI document", async () => {
    const { body } = await request(h.app).get("/openapi.json").expect(200);
    const content = body.paths["/v1/batches/{batchId}/codes"].post.requestBody.content;
    expect(content).to.have.keys(["application/json", "text/plain"]);
  });
});
