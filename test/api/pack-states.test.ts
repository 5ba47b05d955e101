import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { PackState, VERDICTS } from "../../src/ledger";
import { apiHarness, changePackStates, HARNESS_PUBLIC_URL } from "./harness";
import type { ApiHarness } from "./harness";

/**
 * The released batch's packs: 0 and 1 dispensed by the hospital pharmacy (1 then undone), 2 stolen and 3 destroyed
 * at the CMO, 4 a sample and 5 exported at the distributor, 6 locked as suspect by the MAH, 7 untouched.
 */
describe("pack states through the API", () => {
  let h: ApiHarness;
  const scan = (i: number) => request(h.app).post("/v1/scans").send({ code: h.batches.released.printed[i]! }).expect(200);

  beforeAll(async () => {
    h = await apiHarness();
    const { c } = h;
    const { batchId, tree, packs, printed } = h.batches.released;
    const set = (by: typeof c.cmo, i: number, state: number) => changePackStates(c, by, batchId, tree, [packs[i]!.key], state);
    await set(c.dispenser, 1, PackState.Active);
    await set(c.cmo, 2, PackState.Stolen);
    await set(c.cmo, 3, PackState.Destroyed);
    await set(c.distributor, 4, PackState.Sample);
    await set(c.distributor, 5, PackState.Exported);
    await set(c.mah, 6, PackState.Locked);
    await h.indexer.catchUp();
    await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", `Bearer ${await h.tokenFor(c.cmo)}`)
      .send({ codes: printed })
      .expect(201);
  });
  afterAll(async () => h.close());

  it("answers each pack state's own verdict; an undone dispensing scans GENUINE again", async () => {
    const verdicts = [];
    for (let i = 0; i < 8; i++) verdicts.push((await scan(i)).body.verdict);
    expect(verdicts).to.deep.equal(["ALREADY_DISPENSED", "GENUINE", "STOLEN", "DESTROYED", "SAMPLE", "EXPORTED", "LOCKED", "GENUINE"]);
    expect((await scan(2)).body.reason).to.match(/reported stolen: do not sell or dispense it/);
    expect((await scan(3)).body.reason).to.match(/recorded as destroyed/);
  });

  it("accounts for every pack that left stock by its state, adding up to the quantity made", async () => {
    const res = await request(h.app)
      .get(`/v1/batches/${h.batches.released.batchId}`)
      .set("authorization", `Bearer ${await h.tokenFor(h.c.mah)}`)
      .expect(200);
    expect(res.body.accounts).to.deep.equal({ held: 3, inTransit: 0, dispensed: 1, destroyed: 1, stolen: 1, sampled: 1, exported: 1, missing: 0 });
    expect(Object.values(res.body.accounts as Record<string, number>).reduce((a, b) => a + b)).to.equal(res.body.quantity);
  });

  it("exports each pack state as an EPCIS event with its CBV business step and disposition, packs by serial", async () => {
    const res = await request(h.app)
      .get(`/v1/batches/${h.batches.released.batchId}/epcis`)
      .set("authorization", `Bearer ${await h.tokenFor(h.c.regulator)}`)
      .expect(200);
    const events = (res.body.epcisBody.eventList as Record<string, unknown>[]).filter((e) => e["trace:ledgerEvent"] === "PackStatesChanged");
    const { packs } = h.batches.released;
    const serial = (i: number) => `https://id.gs1.org/01/${packs[i]!.gtin}/21/${packs[i]!.serial}`;
    expect(events.map((e) => [e["trace:packState"], e.bizStep, e.disposition, e.epcList])).to.deep.equal([
      ["ACTIVE", "stocking", "sellable_accessible", [serial(1)]],
      ["STOLEN", "decommissioning", "stolen", [serial(2)]],
      ["DESTROYED", "destroying", "destroyed", [serial(3)]],
      ["SAMPLE", "sampling", "non_sellable_other", [serial(4)]],
      ["EXPORTED", "decommissioning", "inactive", [serial(5)]],
      ["LOCKED", "holding", "non_sellable_other", [serial(6)]],
    ]);
    expect(events[1]!.bizLocation).to.deep.equal({ id: `${HARNESS_PUBLIC_URL}/v1/organizations/${h.c.cmo.id}#premises` });
  });

  it("has scan page wording in Chinese and English for every verdict", () => {
    const i18n = readFileSync(path.join(__dirname, "../../src/web/public/assets/i18n.js"), "utf8");
    for (const verdict of VERDICTS) {
      expect(i18n.split(`"verdict.${verdict}":`).length - 1, verdict).to.equal(2);
      expect(i18n.split(`"verdict.${verdict}.advice":`).length - 1, verdict).to.equal(2);
    }
  });
});
