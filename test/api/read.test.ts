import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { RecallLevel } from "../../src/ledger";
import { acknowledgeRecall, handOver, releasedBatch, startRecall } from "../contracts/fixtures";
import { apiHarness } from "./harness";
import type { ApiHarness } from "./harness";

describe("read endpoints", () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await apiHarness();
  });
  afterAll(async () => h.close());

  it("GET /v1/batches/:id shows a batch with its accounts adding up", async () => {
    const token = await h.tokenFor(h.c.mah);
    const res = await request(h.app).get(`/v1/batches/${h.batches.released.batchId}`).set("authorization", `Bearer ${token}`).expect(200);
    expect(res.body.batchNumber).to.equal("B-2024-001");
    expect(res.body.accounts).to.deep.equal({ held: 6, inTransit: 0, dispensed: 2, destroyed: 0, stolen: 0, sampled: 0, exported: 0, missing: 0 });
    expect(res.body.mah.id).to.equal(h.c.mah.id);
  });

  it("GET /v1/batches/:id/provenance lists every signed step with its verification", async () => {
    const token = await h.tokenFor(h.regulator());
    const res = await request(h.app).get(`/v1/batches/${h.batches.released.batchId}/provenance`).set("authorization", `Bearer ${token}`).expect(200);
    const events = res.body.entries.map((e: { event: string }) => e.event);
    // The MAH (Jiangsu) and CMO (Zhejiang) are in different provinces: both regulators' reviews put the agreement in force.
    expect(events).to.deep.equal([
      "AgreementSigned",
      "AgreementOpinionGiven",
      "AgreementApproved",
      "BatchRecorded",
      "BatchFactoryReleased",
      "BatchMarketReleased",
      "BatchShipped",
      "ShipmentReceived",
      "BatchShipped",
      "ShipmentReceived",
      "PacksDispensed",
    ]);
    expect(res.body.entries.every((e: { verification: string }) => e.verification === "verified")).to.equal(true);
  });

  it("pages a provenance in chain order: following nextCursor gives the whole timeline, once each", async () => {
    const token = await h.tokenFor(h.regulator());
    const path = `/v1/batches/${h.batches.released.batchId}/provenance`;
    const whole = (await request(h.app).get(path).set("authorization", `Bearer ${token}`).expect(200)).body;
    expect(whole.nextCursor).to.equal(null);
    const paged: unknown[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? "?limit=2" : `?limit=2&cursor=${encodeURIComponent(cursor)}`;
      const page = (
        await request(h.app)
          .get(path + query)
          .set("authorization", `Bearer ${token}`)
          .expect(200)
      ).body;
      expect(page.entries.length).to.be.at.most(2);
      paged.push(...page.entries);
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(paged).to.deep.equal(whole.entries);
    expect(pages).to.equal(Math.ceil(whole.entries.length / 2));
  });

  it("refuses a provenance page with a cursor it did not issue or a limit out of range", async () => {
    const token = await h.tokenFor(h.regulator());
    const path = `/v1/batches/${h.batches.released.batchId}/provenance`;
    for (const [query, code, field] of [
      ["?cursor=bm90LWEtY3Vyc29y", "INVALID_CURSOR", "cursor"],
      [`?cursor=${Buffer.from("[-1,0]").toString("base64url")}`, "INVALID_CURSOR", "cursor"],
      [`?cursor=${Buffer.from('[1,"0"]').toString("base64url")}`, "INVALID_CURSOR", "cursor"],
      ["?limit=0", "INVALID_INPUT", "limit"],
      ["?limit=1001", "INVALID_INPUT", "limit"],
    ]) {
      const res = await request(h.app)
        .get(path + query)
        .set("authorization", `Bearer ${token}`)
        .expect(400);
      expect([query, res.body.error.code, res.body.error.field]).to.deep.equal([query, code, field]);
    }
  });

  it("lists batches scoped to the caller", async () => {
    const asRegulator = await request(h.app)
      .get("/v1/batches")
      .set("authorization", `Bearer ${await h.tokenFor(h.regulator())}`)
      .expect(200);
    expect(asRegulator.body.items).to.have.length(3);
    const asDispenser = await request(h.app)
      .get("/v1/batches")
      .set("authorization", `Bearer ${await h.tokenFor(h.c.dispenser)}`)
      .expect(200);
    expect(asDispenser.body.items.map((b: { batchNumber: string }) => b.batchNumber)).to.deep.equal(["B-2024-001"]);
  });

  it("refuses a distributor a batch it never held", async () => {
    const token = await h.tokenFor(h.c.distributor2);
    const res = await request(h.app).get(`/v1/batches/${h.batches.released.batchId}`).set("authorization", `Bearer ${token}`).expect(403);
    expect(res.body.error.code).to.equal("NOT_YOUR_BATCH");
  });

  it("shows a recall's reconciliation", async () => {
    const token = await h.tokenFor(h.c.mah);
    const res = await request(h.app).get(`/v1/recalls/${h.batches.recalled.batchId}`).set("authorization", `Bearer ${token}`).expect(200);
    expect(res.body.level).to.equal("II");
    expect(res.body.holders.map((x: { organization: { id: number }; acknowledged: boolean }) => [x.organization.id, x.acknowledged])).to.deep.equal([
      [h.c.cmo.id, true],
      [h.c.distributor.id, false],
    ]);
    // 8 made: the CMO acknowledged its 2, the distributor's 5 and the 1 on its way are not accounted for yet.
    expect(res.body.totals).to.deep.equal({
      made: 8,
      held: 7,
      quarantined: 2,
      outstanding: 5,
      inTransit: 1,
      dispensed: 0,
      destroyed: 0,
      missing: 0,
      unexplained: 6,
    });
  });

  it("shows each holder's account of its holding and every unit of a fully acknowledged recall, none unexplained", async () => {
    const { batchId } = await releasedBatch(h.c, "B-2024-RCN", 20n);
    await handOver(h.c, h.c.cmo, h.c.dispenser, batchId, 10n);
    await startRecall(h.c, h.c.mah, batchId, RecallLevel.II);
    await acknowledgeRecall(h.c, h.c.dispenser, batchId, { quarantined: 5n, dispensed: 3n, missing: 2n });
    await acknowledgeRecall(h.c, h.c.cmo, batchId, 10n);
    await h.indexer.catchUp();
    const token = await h.tokenFor(h.regulator());
    const res = await request(h.app).get(`/v1/recalls/${batchId}`).set("authorization", `Bearer ${token}`).expect(200);
    const pharmacy = res.body.holders.find((x: { organization: { id: number } }) => x.organization.id === h.c.dispenser.id);
    expect(pharmacy).to.include({
      quantityHeld: 5,
      acknowledged: true,
      quarantinedQuantity: 5,
      dispensedQuantity: 3,
      destroyedQuantity: 0,
      missingQuantity: 2,
      late: false,
    });
    expect(res.body.totals).to.deep.equal({
      made: 20,
      held: 15,
      quarantined: 15,
      outstanding: 0,
      inTransit: 0,
      dispensed: 3,
      destroyed: 0,
      missing: 2,
      unexplained: 0,
    });
  });

  it("serves the OpenAPI document", async () => {
    const res = await request(h.app).get("/openapi.json").expect(200);
    expect(res.body.openapi).to.equal("3.1.0");
    expect(Object.keys(res.body.paths)).to.include("/v1/batches/{batchId}/provenance");
  });
});
