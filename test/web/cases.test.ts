import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import type { Page } from "playwright-core";
import { aggregationTree, buildCodeTree, formatCode, withCheckDigit } from "../../src/codes";
import { recordBatch, releaseFromFactory, releaseToMarket } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { packsFor } from "../api/harness";
import { launchBrowser, phoneTab, screenshotBothLanguages, signingStack, signInAsDemo } from "./stack";

const sscc = (i: number) => `(00)${withCheckDigit(`0061414120000000${i}`)}`;
const [CASE_A, CASE_B, PALLET] = [sscc(1), sscc(2), sscc(3)];

describe("cases and pallets in the browser: a case scanned on the scan page, a shipment received by scanning its cases", () => {
  let stack: Awaited<ReturnType<typeof signingStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let batchId: string;
  let coded: Awaited<ReturnType<typeof packsFor>>;
  const h = () => stack.harness;
  const tokenOf = (party: Party) => h().tokenFor(party);

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), signingStack()]);
    page = await phoneTab(browser.browser);
    const { c } = h();
    coded = await packsFor("C-2025-001", 8);
    const packs = coded.packs.map((p) => p.key);
    batchId = await recordBatch(c, "C-2025-001", { quantity: 8n, codesRoot: coded.tree.root });
    await releaseFromFactory(c, batchId);
    await releaseToMarket(c, batchId);
    const aggregates = [
      { container: CASE_A, contents: packs.slice(0, 4), contentsRoot: "" },
      { container: CASE_B, contents: packs.slice(4), contentsRoot: "" },
      { container: PALLET, contents: [CASE_A, CASE_B], contentsRoot: "" },
    ];
    const tree = aggregationTree(aggregates);
    const commitment = await c.sign("AggregationLedger", "AggregationCommitment", c.cmo.key, {
      cmoId: c.cmo.id,
      batchId,
      aggregationRoot: tree.root,
      containers: tree.containers,
      packs: tree.packs,
    });
    await c.aggregations.commitAggregation(commitment.message as never, commitment.signature);
    await stack.indexed();
    await h().services.codes.register({ batchId: batchId.toLowerCase(), codes: coded.printed, by: c.cmo.id, now: h().services.now() });
    await request(stack.app)
      .post(`/v1/batches/${batchId}/aggregation`)
      .set("authorization", `Bearer ${await tokenOf(c.cmo)}`)
      .send({ aggregates: aggregates.map(({ container, contents }) => ({ container, contents })) })
      .expect(201);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("answers a scanned case (SSCC) with its batch's verdict and contents", async () => {
    await page.goto(`${stack.url}/`);
    await page.getByLabel("追溯码", { exact: true }).fill(CASE_A);
    await page.getByRole("button", { name: "验证" }).click();
    const verdict = page.locator("#result > *").first();
    await verdict.waitFor();
    expect(await verdict.getAttribute("data-verdict")).to.equal("GENUINE");
    expect(await page.locator("#result").textContent()).to.contain("箱内现有 4 个单元（4 盒）；拣货时已拆出 0 个");
    await screenshotBothLanguages(page, "scan-case");
    await page.locator("#language").click();
    expect(await page.locator("#result").textContent()).to.contain("this case holds 4 units now (4 packs); 0 taken out at picking");
    await page.locator("#language").click();
  });

  it("receives a shipment of two cases by scanning one case and one pack, recording the three packs missing", async () => {
    const { c } = h();
    const shipment = await c.sign("BatchLedger", "Shipment", c.cmo.key, {
      shipperId: c.cmo.id,
      batchId,
      recipientId: c.distributor2.id,
      quantity: 8n,
      codesRoot: (await buildCodeTree([CASE_A, CASE_B])).root,
    });
    await c.batches.shipBatch(shipment.message as never, shipment.signature);
    const shipmentId = await c.batches.shipmentId(c.cmo.id, shipment.message.nonce as bigint);
    await stack.indexed();
    await request(stack.app)
      .post(`/v1/shipments/${shipmentId}/units`)
      .set("authorization", `Bearer ${await tokenOf(c.cmo)}`)
      .send({ units: [CASE_A, CASE_B] })
      .expect(201);

    await signInAsDemo(page, stack.url, stack.nameOf(c.distributor2), "/stock");
    const form = page.locator("#incoming form").filter({ hasText: "C-2025-001" }).first();
    await form.waitFor();
    await form.getByLabel("追溯码（扫码或粘贴，一行一个）").fill(`${CASE_A}\n${formatCode(coded.packs[5]!, "hri")}\n`);
    await form.getByRole("button", { name: "签署收货" }).click();
    await page.locator("#signed").waitFor();
    expect(await page.locator("#signed").textContent()).to.match(/已按发货单核对并收货 5 盒（发货 8 盒；缺 3 盒，多出 0 件已登记）/);
    const reconciliation = await request(stack.app)
      .get(`/v1/shipments/${shipmentId}/reconciliation`)
      .set("authorization", `Bearer ${await tokenOf(c.distributor2)}`)
      .expect(200);
    expect(reconciliation.body).to.deep.include({ expectedPacks: 8, receivedPacks: 5 });
    expect(reconciliation.body.missing.map((m: { container: string }) => m.container)).to.deep.equal([CASE_B, CASE_B, CASE_B]);
    expect(await c.batches.isInTransit(shipmentId), "the signed receipt consumed the shipment").to.equal(false);
    expect((await c.batches.holding(batchId, c.distributor2.id)).quantity).to.equal(5n);
  });
});
