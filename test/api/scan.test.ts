import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { createCodeBook } from "../../src/api/codebook";
import { formatCode, withCheckDigit } from "../../src/codes";
import { closeDeviation, openDeviation, recordBatch, releaseFromFactory, releaseHold, releaseToMarket } from "../contracts/fixtures";
import { DeviationKind } from "../../src/ledger";
import { chinaDate } from "../../src/ledger/china-time";
import { endOfChinaDay } from "../../src/ledger/expiry";
import { newFactsVersion } from "../../src/store";
import { STORE_KINDS } from "../indexer/stores";
import { apiHarness, packsFor } from "./harness";
import type { ApiHarness } from "./harness";

describe("scan verdicts", () => {
  let h: ApiHarness;
  const bearer = async (party: Parameters<ApiHarness["tokenFor"]>[0]) => `Bearer ${await h.tokenFor(party)}`;
  const scan = (code: string, authorization?: string) => {
    const req = request(h.app).post("/v1/scans");
    return (authorization ? req.set("authorization", authorization) : req).send({ code });
  };

  beforeAll(async () => {
    h = await apiHarness();
    for (const { batchId, printed } of Object.values(h.batches)) {
      await request(h.app)
        .post(`/v1/batches/${batchId}/codes`)
        .set("authorization", await bearer(h.c.cmo))
        .send({ codes: printed })
        .expect(201);
    }
  });
  afterAll(async () => h.close());

  it("answers GENUINE to anyone for a released pack, with product, MAH, batch and expiry", async () => {
    const res = await scan(h.batches.released.printed[5]!).expect(200);
    expect(res.body.verdict).to.equal("GENUINE");
    expect(res.body.batch.batchNumber).to.equal("B-2024-001");
    expect(res.body.mah.id).to.equal(h.c.mah.id);
    expect(res.body).to.not.have.property("custody");
  });

  it("answers UNVERIFIED, never GENUINE, while an attestation on the batch's path awaits verification or failed it", async () => {
    const { batchId, printed } = h.batches.released;
    const shipped = await h.store.db
      .selectFrom("ledger_events")
      .select(["block_number", "log_index"])
      .where("batch_id", "=", batchId)
      .where("name", "=", "BatchShipped")
      .executeTakeFirstOrThrow();
    // As the indexer marks it (deferred verification), with a new facts version for the batch in the same transaction.
    const mark = (verification: "pending" | "signature_mismatch" | "verified") =>
      h.store.db.transaction().execute(async (trx) => {
        await trx
          .updateTable("ledger_events")
          .set({ verification })
          .where("block_number", "=", shipped.block_number)
          .where("log_index", "=", shipped.log_index)
          .execute();
        await trx.updateTable("batches").set({ facts_version: newFactsVersion() }).where("id", "=", batchId).execute();
      });
    try {
      for (const verification of ["pending", "signature_mismatch"] as const) {
        await mark(verification);
        const res = await scan(printed[5]!).expect(200);
        expect([verification, res.body.verdict]).to.deep.equal([verification, "UNVERIFIED"]);
        expect(res.body.reason).to.contain("1 signed attestation on the path of batch B-2024-001 is not verified");
      }
    } finally {
      await mark("verified");
    }
    expect((await scan(printed[5]!).expect(200)).body.verdict).to.equal("GENUINE");
  });

  it("accepts every printed format of the same pack", async () => {
    const pack = h.batches.released.packs[6]!;
    for (const format of ["hri", "digital-link"] as const) {
      const res = await scan(formatCode(pack, format)).expect(200);
      expect([format, res.body.verdict]).to.deep.equal([format, "GENUINE"]);
    }
  });

  it("gives a signed-in holder the custody path and a Merkle proof", async () => {
    const res = await scan(h.batches.released.printed[5]!, await bearer(h.c.dispenser)).expect(200);
    expect(res.body.verdict).to.equal("GENUINE");
    expect(res.body.custody.map((e: { event: string }) => e.event)).to.deep.equal([
      "BatchRecorded",
      "BatchShipped",
      "ShipmentReceived",
      "BatchShipped",
      "ShipmentReceived",
      "PacksDispensed",
    ]);
    const { packId, proof } = res.body.proof;
    expect(await h.c.batches.isPackOfBatch(h.batches.released.batchId, packId, proof)).to.equal(true);
  });

  it("answers ALREADY_DISPENSED for a dispensed pack", async () => {
    expect((await scan(h.batches.released.printed[0]!).expect(200)).body.verdict).to.equal("ALREADY_DISPENSED");
  });

  it("answers RECALLED for a pack of a recalled batch", async () => {
    const res = await scan(h.batches.recalled.printed[0]!).expect(200);
    expect(res.body.verdict).to.equal("RECALLED");
    expect(res.body.reason).to.match(/level II recall/);
  });

  it("answers ON_HOLD while an OOS holds a market-released batch, and GENUINE again once the MAH releases the hold", async () => {
    const codes = await packsFor("B-2024-HLD", 3);
    const batchId = await recordBatch(h.c, "B-2024-HLD", { quantity: 3n, codesRoot: codes.tree.root });
    await releaseFromFactory(h.c, batchId);
    await releaseToMarket(h.c, batchId);
    await openDeviation(h.c, h.c.cmo, batchId, { kind: DeviationKind.OutOfSpecification });
    await h.indexer.catchUp();
    await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", await bearer(h.c.cmo))
      .send({ codes: codes.printed })
      .expect(201);
    const held = await scan(codes.printed[0]!).expect(200);
    expect(held.body).to.include({
      verdict: "ON_HOLD",
      reason: "batch B-2024-HLD is on hold: do not sell or dispense the pack; keep it aside awaiting the MAH's decision",
    });
    expect(held.body.batch).to.include({ hold: "ON_HOLD", state: "MARKET_RELEASED" });
    await closeDeviation(h.c, h.c.cmo, batchId);
    await releaseHold(h.c, h.c.mah, batchId);
    await h.indexer.catchUp();
    const released = await scan(codes.printed[0]!).expect(200);
    expect([released.body.verdict, released.body.batch.hold]).to.deep.equal(["GENUINE", "RELEASED"]);
  });

  it("answers NOT_RELEASED for a pack of a batch not yet released", async () => {
    expect((await scan(h.batches.unreleased.printed[0]!).expect(200)).body.verdict).to.equal("NOT_RELEASED");
  });

  it("answers UNKNOWN_CODE for a well-formed code no batch contains", async () => {
    const { printed } = await packsFor("B-2024-001", 1);
    const res = await scan(printed[0]!).expect(200);
    expect(res.body.verdict).to.equal("UNKNOWN_CODE");
    expect(res.body.reason).to.match(/counterfeit/);
  });

  it("answers NOT_ON_LEDGER, not UNKNOWN_CODE, for a product this ledger does not hold (GTIN or NMPA prefix)", async () => {
    const gtin = withCheckDigit("0950600013436");
    const verify = "verify the pack with its MAH or the national drug traceability platform";
    for (const [code, reason] of [
      [`(01)${gtin}(21)ELSEWHERE1`, `this ledger does not hold product ${gtin}; ${verify}`],
      [
        "8600001" + "0000000000042",
        `this ledger does not hold product 8600001; ${verify} (if the code was typed, check its first 7 digits, the product's code)`,
      ],
    ] as const) {
      const res = await scan(code).expect(200);
      expect(res.body).to.deep.include({ verdict: "NOT_ON_LEDGER", reason, product: null, batch: null });
      expect(res.body.reason).to.not.match(/counterfeit/);
    }
  });

  it("reads a genuine pack carrying AIs the ledger does not use, and names them in the answer", async () => {
    const pack = h.batches.released.packs[5]!;
    const GS = "\u001d";
    const text =
      `]d201${pack.gtin}7003${"2712311200"}${GS}240ADD-1${GS}714NHRN-42${GS}3103000525` + `22CPV7${GS}10${pack.batch}${GS}21${pack.serial}`;
    const res = await scan(text).expect(200);
    expect(res.body.verdict).to.equal("GENUINE");
    expect(res.body.code).to.deep.equal({
      format: "element-string",
      canonicalKey: pack.key,
      productCode: pack.gtin,
      ignoredAis: ["7003", "240", "714", "3103", "22"],
    });
    const plain = await scan(h.batches.released.printed[5]!).expect(200);
    expect(plain.body.code).to.not.have.property("ignoredAis");
    const link = await scan(`https://resolver.example/01/shop/01/${pack.gtin}/10/${pack.batch}/21/${pack.serial}?7003=2712311200`).expect(200);
    expect([link.body.verdict, link.body.code.ignoredAis]).to.deep.equal(["GENUINE", ["7003"]]);
  });

  it("refuses a code whose extra AI breaks its GS1 shape, and an AI GS1 does not define, with code, field and position", async () => {
    const pack = h.batches.released.packs[5]!;
    const tooLong = await scan(`01${pack.gtin}7003271231120021${pack.serial}`).expect(400);
    expect([tooLong.body.error.code, tooLong.body.error.field]).to.deep.equal(["CODE_FIELD_TOO_LONG", "code.7003"]);
    expect(tooLong.body.error.message).to.equal(`(7003) is ${12 + pack.serial.length} characters long, at most 10 allowed (at character 30)`);
    const unknown = await scan(`(01)${pack.gtin}(2300)X(21)${pack.serial}`).expect(400);
    expect([unknown.body.error.code, unknown.body.error.field]).to.deep.equal(["CODE_UNKNOWN_AI", "code.2300"]);
  });

  it("tells a typed NMPA code's slip where its structure shows one", async () => {
    const short = await scan("8600001" + "000000000004").expect(400);
    expect([short.body.error.code, short.body.error.message]).to.deep.equal([
      "CODE_BAD_LENGTH",
      "an NMPA traceability code has 20 digits, this has 19: check the digits (1 missing) (at character 19)",
    ]);
  });

  it("answers UNKNOWN_CODE when the printed batch is not the serial's batch", async () => {
    const pack = { ...h.batches.released.packs[4]!, batch: "B-FAKE" };
    expect((await scan(formatCode(pack, "hri")).expect(200)).body.verdict).to.equal("UNKNOWN_CODE");
  });

  it("answers EXPIRED after the batch's expiry", async () => {
    const batch = await h.store.db.selectFrom("batches").select("expires_at").where("id", "=", h.batches.released.batchId).executeTakeFirstOrThrow();
    h.setNow(batch.expires_at + 1);
    try {
      expect((await scan(h.batches.released.printed[5]!).expect(200)).body.verdict).to.equal("EXPIRED");
    } finally {
      h.setNow(Math.floor(Date.now() / 1000));
    }
  });

  it("is still valid at 23:59:59 China time on the expiry date and EXPIRED from the next second", async () => {
    const batch = await h.store.db.selectFrom("batches").select("expires_at").where("id", "=", h.batches.released.batchId).executeTakeFirstOrThrow();
    const date = chinaDate(batch.expires_at);
    try {
      h.setNow(batch.expires_at);
      expect((await scan(h.batches.released.printed[5]!).expect(200)).body).to.include({
        verdict: "GENUINE",
        reason: `a released pack of batch B-2024-001, expiring ${date}`,
      });
      h.setNow(batch.expires_at + 1);
      expect((await scan(h.batches.released.printed[5]!).expect(200)).body).to.include({
        verdict: "EXPIRED",
        reason: `batch B-2024-001 expired: it was valid to the end of ${date}`,
      });
    } finally {
      h.setNow(Math.floor(Date.now() / 1000));
    }
  });

  it("answers GENUINE for packs printing (17) the batch's expiry date, and UNKNOWN_CODE naming both dates for another", async () => {
    const codes = await packsFor("B-2024-017", 3, "311231");
    const batchId = await recordBatch(h.c, "B-2024-017", { quantity: 3n, codesRoot: codes.tree.root, expiresAt: endOfChinaDay("2031-12-31") });
    await releaseFromFactory(h.c, batchId);
    await releaseToMarket(h.c, batchId);
    await h.indexer.catchUp();
    await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", await bearer(h.c.cmo))
      .send({ codes: codes.printed })
      .expect(201);
    expect((await scan(codes.printed[0]!).expect(200)).body).to.include({
      verdict: "GENUINE",
      reason: "a released pack of batch B-2024-017, expiring 2031-12-31",
    });
    // (17) day 00 is the last day of the month: the same expiry.
    expect(
      (await scan(formatCode({ ...codes.packs[1]!, expiry: { yymmdd: "311200", iso: "2031-12-31" } }, "hri")).expect(200)).body.verdict,
    ).to.equal("GENUINE");
    const relabelled = await scan(formatCode({ ...codes.packs[2]!, expiry: { yymmdd: "311230", iso: "2031-12-30" } }, "hri")).expect(200);
    expect(relabelled.body).to.include({
      verdict: "UNKNOWN_CODE",
      reason: "the pack shows expiry 2031-12-30 (end of that day, China time), but the batch expires 2031-12-31: the pack may be counterfeit",
    });
  });

  it("refuses codes whose (17) is not the batch's expiry, naming the code and both dates, leaving nothing registered", async () => {
    const codes = await packsFor("B-2024-018", 3, "311231");
    const batchId = (
      await recordBatch(h.c, "B-2024-018", { quantity: 3n, codesRoot: codes.tree.root, expiresAt: endOfChinaDay("2031-12-30") })
    ).toLowerCase();
    await h.indexer.catchUp();
    const json = await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", await bearer(h.c.cmo))
      .send({ codes: codes.printed });
    expect([json.status, json.body.error.code, json.body.error.field]).to.deep.equal([400, "CODE_EXPIRY_MISMATCH", "codes.0"]);
    expect(json.body.error.message).to.equal(
      `codes[0] ${codes.packs[0]!.key} (17) 311231: the pack shows expiry 2031-12-31 (end of that day, China time), but the batch expires 2031-12-30`,
    );
    const text = await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", await bearer(h.c.cmo))
      .set("content-type", "text/plain")
      .send(codes.printed.join("\n"));
    expect([text.status, text.body.error.code, text.body.error.field]).to.deep.equal([400, "CODE_EXPIRY_MISMATCH", "line.1"]);
    expect(await h.store.db.selectFrom("batch_codes").select("canonical_key").where("batch_id", "=", batchId).execute()).to.have.length(0);
    expect(await h.store.db.selectFrom("code_trees").select("batch_id").where("batch_id", "=", batchId).execute()).to.have.length(0);
  });

  it("answers UNEXPECTED_HOLDER to an organization that neither holds nor awaits the batch", async () => {
    const res = await scan(h.batches.released.printed[5]!, await bearer(h.c.distributor2)).expect(200);
    expect(res.body.verdict).to.equal("UNEXPECTED_HOLDER");
  });

  it("rejects a malformed code with its stable code and where it is wrong", async () => {
    const res = await scan("0106901234567893").expect(400);
    expect(res.body.error.code).to.equal("CODE_BAD_CHECK_DIGIT");
    expect(res.body.error.field).to.match(/^code/);
  });

  it("rejects a blank or over-long place with its field", async () => {
    for (const place of ["   ", "x".repeat(201)]) {
      const res = await request(h.app).post("/v1/scans").send({ code: h.batches.released.printed[7], place }).expect(400);
      expect(res.body.error.field).to.equal("place");
    }
  });

  it("refuses registering a batch's codes twice", async () => {
    const res = await request(h.app)
      .post(`/v1/batches/${h.batches.released.batchId}/codes`)
      .set("authorization", await bearer(h.c.cmo))
      .send({ codes: h.batches.released.printed });
    expect([res.status, res.body.error.code]).to.deep.equal([409, "CODES_ALREADY_REGISTERED"]);
  });

  it("registers once when two API servers sharing the store take the same codes at once, keeping the tree", async () => {
    const codes = await packsFor("B-2024-005", 4);
    const batchId = (await recordBatch(h.c, "B-2024-005", { quantity: 4n, codesRoot: codes.tree.root })).toLowerCase();
    await h.indexer.catchUp();
    const otherServer = createCodeBook(h.store, h.services.config.dataDir);
    try {
      const request = { batchId, codes: codes.printed, by: h.c.cmo.id, now: h.services.now() };
      const outcomes = await Promise.allSettled([h.services.codes.register(request), otherServer.register(request)]);
      expect(outcomes.map((o) => o.status).sort()).to.deep.equal(["fulfilled", "rejected"]);
      const refusal = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
      // Refused while the first holds its claim, or once it has registered them: never half-registered.
      expect(refusal.reason).to.include({ kind: "conflict" });
      expect(["CODES_REGISTRATION_UNDER_WAY", "CODES_ALREADY_REGISTERED"]).to.include((refusal.reason as { code: string }).code);
      const answer = (await scan(codes.printed[2]!).expect(200)).body;
      expect(answer.verdict).to.equal("NOT_RELEASED");
      expect(await h.services.codes.proof(batchId, codes.packs[2]!.key)).to.be.an("array").that.is.not.empty;
    } finally {
      otherServer.close();
    }
  });

  it("refuses codes that do not hash to the batch's on-chain root, leaving nothing registered", async () => {
    const committed = await packsFor("B-2024-004", 3);
    const batchId = await recordBatch(h.c, "B-2024-004", { quantity: 3n, codesRoot: committed.tree.root });
    await h.indexer.catchUp();
    const other = await packsFor("B-2024-004", 3);
    const res = await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", await bearer(h.c.cmo))
      .send({ codes: other.printed });
    expect([res.status, res.body.error.code]).to.deep.equal([422, "CODES_ROOT_MISMATCH"]);
    expect((await scan(committed.printed[0]!).expect(200)).body.verdict).to.equal("UNKNOWN_CODE");
    const rows = await h.store.db.selectFrom("batch_codes").select("canonical_key").where("batch_id", "=", batchId).execute();
    expect(rows).to.have.length(0);
  });

  it("refuses registration by an organization that is not the batch's MAH or CMO", async () => {
    const res = await request(h.app)
      .post(`/v1/batches/${h.batches.unreleased.batchId}/codes`)
      .set("authorization", await bearer(h.c.regulator2))
      .send({ codes: h.batches.unreleased.printed });
    expect([res.status, res.body.error.code]).to.deep.equal([403, "NOT_BATCH_PARTY"]);
  });
});

/** The scanner's relation to the batch is read in one statement; it must mean the same on both stores. */
describe.each(STORE_KINDS)("signed-in scans (%s)", (kind) => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await apiHarness(kind);
    const { batchId, printed } = h.batches.released;
    await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", `Bearer ${await h.tokenFor(h.c.cmo)}`)
      .send({ codes: printed })
      .expect(201);
  });
  afterAll(async () => h.close());

  it("answers by where the scanner stands: inspectors and holders GENUINE with the custody path, strangers UNEXPECTED_HOLDER without it", async () => {
    const code = h.batches.released.printed[5]!;
    const answers: [string, string, boolean][] = [];
    for (const [who, party] of [
      ["regulator", h.regulator()],
      ["mah", h.c.mah],
      ["cmo", h.c.cmo],
      ["distributor (shipped on, holds 2)", h.c.distributor],
      ["dispenser (holds)", h.c.dispenser],
      ["distributor2 (never held)", h.c.distributor2],
    ] as const) {
      const res = await request(h.app)
        .post("/v1/scans")
        .set("authorization", `Bearer ${await h.tokenFor(party)}`)
        .send({ code })
        .expect(200);
      answers.push([who, res.body.verdict, Array.isArray(res.body.custody)]);
    }
    expect(answers).to.deep.equal([
      ["regulator", "GENUINE", true],
      ["mah", "GENUINE", true],
      ["cmo", "GENUINE", true],
      ["distributor (shipped on, holds 2)", "GENUINE", true],
      ["dispenser (holds)", "GENUINE", true],
      ["distributor2 (never held)", "UNEXPECTED_HOLDER", false],
    ]);
  });
});
