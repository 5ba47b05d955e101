import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { id as hashText } from "ethers";
import request from "supertest";
import type { Page } from "playwright-core";
import { formatCode } from "../../src/codes";
import { acknowledgeRecall, closeRecall, receive, recordBatch, ship, startRecall } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import {
  launchBrowser,
  mainControls,
  phoneTab,
  screenshot,
  screenshotBothLanguages,
  signingStack,
  signInAsDemo,
  tabOrder,
  unnamedControls,
} from "./stack";

describe("holders' and regulators' pages: receive, ship, dispense, destroy, acknowledge a recall, order a recall, suspend and reinstate", () => {
  let stack: Awaited<ReturnType<typeof signingStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const h = () => stack.harness;

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), signingStack()]);
    page = await phoneTab(browser.browser);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const as = (party: Party, next: string) => signInAsDemo(page, stack.url, stack.nameOf(party), next);
  async function read(party: Party, path: string) {
    const token = await h().tokenFor(party);
    return (await request(stack.app).get(path).set("authorization", `Bearer ${token}`).expect(200)).body;
  }
  const holding = async (party: Party, batchId: string) =>
    (
      (await read(party, `/v1/organizations/${party.id}/inventory?includeEmpty=true`)).holdings as Array<{
        batchId: string;
        quantity: number;
        recallAcknowledged: boolean;
      }>
    ).find((item) => item.batchId === batchId);
  const printed = (index: number) => formatCode(h().batches.released.packs[index]!, "hri");

  async function checkAccessible() {
    expect(await unnamedControls(page)).to.deep.equal([]);
    const reached = await tabOrder(page, 120);
    for (const control of await mainControls(page)) expect(reached, `Tab reaches ${control}`).to.include(control);
  }

  it("receives a shipment by scanning its packs, and reads a mistyped code as the user's mistake", async () => {
    const { batchId } = h().batches.released;
    await ship(h().c, h().c.cmo, h().c.distributor2, batchId, 2n);
    await stack.indexed();
    await as(h().c.distributor2, "/stock");
    const form = page.locator("#incoming form").first();
    await form.waitFor();
    await checkAccessible();
    await screenshotBothLanguages(page, "stock");
    // A scanner types a code and Enter; one digit is wrong in the second.
    const codes = form.getByLabel("追溯码（扫码或粘贴，一行一个）");
    await codes.pressSequentially(`${printed(6)}\n${printed(7).slice(0, -1)}9\n`);
    await form.getByRole("button", { name: "签署收货" }).click();
    const refusal = page.locator("#outcome [role=alert]");
    await refusal.waitFor();
    expect(await refusal.locator(".alert__title").textContent()).to.equal("输入有误");
    expect(await refusal.textContent()).to.contain("code 2");
    expect((await holding(h().c.distributor2, batchId))?.quantity ?? 0).to.equal(0);

    await codes.fill(`${printed(6)}\n${printed(7)}\n${printed(6)}\n`);
    await form.getByRole("button", { name: "签署收货" }).click();
    await page.locator("#signed").waitFor();
    expect(await page.locator("#signed").textContent()).to.match(/已收货 2 盒（发货 2 盒）/);
    await page.locator(`#holdings tr[data-batch="${batchId}"]`).waitFor();
    expect((await holding(h().c.distributor2, batchId))!.quantity).to.equal(2);
  });

  it("ships from a holding, refusing more than is held in the ledger's words", async () => {
    const { batchId } = h().batches.released;
    await as(h().c.distributor2, `/stock/${batchId}`);
    await page.locator("#ship").waitFor();
    await checkAccessible();
    await screenshotBothLanguages(page, "holding");
    await page.getByLabel("收货机构编号").fill(String(h().c.dispenser.id));
    await page.locator("#ship-quantity").fill("5");
    await page.getByRole("button", { name: "签署发货" }).click();
    const refusal = page.locator("#outcome .refusal");
    await refusal.waitFor();
    expect(await refusal.getAttribute("data-code")).to.equal("INSUFFICIENT_HOLDING");
    expect(await refusal.locator(".alert__title").textContent()).to.equal("持有数量不足");
    expect(await refusal.locator("p[lang=en]").textContent()).to.contain("holds 2 of batch B-2024-001, so it cannot ship 5");
    await page.locator("#ship-quantity").fill("1");
    await page.getByRole("button", { name: "签署发货" }).click();
    await page.locator("#signed").waitFor();
    await page.locator("#held", { hasText: "1" }).waitFor();
    expect((await holding(h().c.distributor2, batchId))!.quantity).to.equal(1);
  });

  it("dispenses packs by scanning them, refusing one already dispensed; destroys part of the holding", async () => {
    const { batchId } = h().batches.released;
    await as(h().c.dispenser, `/stock/${batchId}`);
    const codes = page.getByLabel("追溯码（扫码或粘贴，一行一个）", { exact: true });
    await codes.waitFor();
    const before = (await holding(h().c.dispenser, batchId))!.quantity;
    // Pack 0 was dispensed by the harness.
    await codes.fill(`${printed(3)}\n${printed(0)}`);
    await page.getByRole("button", { name: "签署销售或调配" }).click();
    await page.locator("#outcome .refusal").waitFor();
    expect(await page.locator("#outcome .refusal").getAttribute("data-code")).to.equal("PACK_ALREADY_DISPENSED");
    expect((await holding(h().c.dispenser, batchId))!.quantity).to.equal(before);
    await codes.fill(printed(3));
    await page.getByRole("button", { name: "签署销售或调配" }).click();
    await page.locator("#signed").waitFor();
    expect(await page.locator("#signed").textContent()).to.contain("已登记 1 盒销售或调配");
    expect((await holding(h().c.dispenser, batchId))!.quantity).to.equal(before - 1);

    await page.locator("#destroy-quantity").fill("1");
    await page.getByLabel("销毁原因").fill("carton crushed in the pharmacy store");
    await page.getByRole("button", { name: "签署销毁" }).click();
    await page.locator("#signed", { hasText: "已登记销毁 1 盒" }).waitFor();
    expect((await holding(h().c.dispenser, batchId))!.quantity).to.equal(before - 2);
  });

  it("acknowledges a recall with the whole holding accounted for, refusing an account that does not add up", async () => {
    const { batchId } = h().batches.recalled;
    await as(h().c.distributor, `/stock/${batchId}`);
    await page.locator("#acknowledge").waitFor();
    await checkAccessible();
    await screenshotBothLanguages(page, "recall-acknowledge");
    await page.getByLabel("已隔离数量").fill("3");
    expect(await page.locator("#ack-total").textContent()).to.equal("合计 3 盒，与持有量 5 盒不符：账本将拒绝。");
    await page.getByRole("button", { name: "签署召回确认" }).click();
    await page.locator("#outcome .refusal").waitFor();
    expect(await page.locator("#outcome .refusal").getAttribute("data-code")).to.equal("ACKNOWLEDGEMENT_DOES_NOT_ADD_UP");
    await page.getByLabel("下落不明").fill("2");
    expect(await page.locator("#ack-total").textContent()).to.equal("合计 5 盒，等于持有量 5 盒。");
    await page.getByRole("button", { name: "签署召回确认" }).click();
    await page.locator("#acknowledged").waitFor();
    expect((await holding(h().c.distributor, batchId))!.recallAcknowledged).to.equal(true);
    const recall = await read(h().regulator(), `/v1/recalls/${batchId}`);
    const account = recall.holders.find((holder: { organization: { id: number } }) => holder.organization.id === h().c.distributor.id);
    expect([account.quarantinedQuantity, account.missingQuantity]).to.deep.equal([3, 2]);
  });

  it("says on the timeline who shipped how much to whom, in the page's language", async () => {
    const { batchId } = h().batches.released;
    await as(h().regulator(), `/batches/${batchId}`);
    const shipped = page.locator('#timeline > li[data-event="BatchShipped"] .step__details');
    await shipped.first().waitFor();
    const [cmo, distributor, dispenser] = [h().c.cmo, h().c.distributor, h().c.dispenser].map((party) => stack.nameOf(party));
    expect(await shipped.first().textContent()).to.equal(`${cmo} 发给 ${distributor} 6 盒`);
    expect(await page.locator('#timeline > li[data-event="ShipmentReceived"] .step__details').nth(1).textContent()).to.equal(
      `${dispenser} 收到 ${distributor} 发来的 4 盒`,
    );
    await page.locator("#language").click();
    await page.locator("html[lang=en]").waitFor();
    expect(await shipped.first().textContent()).to.equal(`${cmo} shipped 6 packs to ${distributor}`);
    await screenshot(page, "provenance-details-en");
    await page.locator("#language").click();
    // A holder may read the batch but not its timeline, and so not who else was sent how much.
    await as(h().c.dispenser, `/batches/${batchId}`);
    await page.locator(".alert--info", { hasText: "时间线" }).waitFor();
    expect(await page.locator(".step__details").count()).to.equal(0);
  });

  it("words a scan's details in the page's language, a closed recall as closed, and a mistyped code as the user's mistake", async () => {
    const { batchId } = h().batches.recalled;
    // Close the recall: the last holder receives what was on its way, accounts for it, and the MAH closes.
    const token = await h().tokenFor(h().c.distributor2);
    const incoming = (await request(stack.app).get("/v1/shipments").set("authorization", `Bearer ${token}`).expect(200)).body.items;
    const onItsWay = incoming.find((shipment: { batch: { id: string } }) => shipment.batch.id === batchId);
    await receive(h().c, h().c.distributor2, h().c.cmo, batchId, onItsWay.id, 1n);
    await acknowledgeRecall(h().c, h().c.distributor2, batchId, 1n);
    await closeRecall(h().c, h().c.mah, batchId);
    await stack.indexed();

    await as(h().c.distributor, "/");
    const code = page.getByLabel("追溯码", { exact: true });
    await code.fill(formatCode(h().batches.recalled.packs[0]!, "hri"));
    await page.getByRole("button", { name: "验证" }).click();
    await page.locator("#verdict[data-verdict=RECALLED]").waitFor();
    expect(await page.locator(".verdict__advice").textContent()).to.contain("召回已结束");
    expect(await page.locator(".verdict__advice").textContent()).not.to.contain("正在召回");
    expect(await page.locator("#reason").textContent()).to.equal(
      "详情: 批次 B-2024-002 已被召回（II 级，召回已结束）：这一盒不得销售或调配，请退回销毁",
    );
    await screenshotBothLanguages(page, "scan-recall-closed");
    await page.locator("#language").click();
    await page.locator("html[lang=en]").waitFor();
    expect(await page.locator("#reason").textContent()).to.contain("was recalled (level II, the recall is closed)");
    await page.locator("#language").click();
    await page.locator("html[lang=zh-CN]").waitFor();

    await code.fill(formatCode(h().batches.released.packs[5]!, "hri"));
    await page.getByRole("button", { name: "验证" }).click();
    await page.locator("#verdict[data-verdict=GENUINE]").waitFor();
    expect(await page.locator("#reason").textContent()).to.match(/^详情: 批次 B-2024-001 已放行的一盒，有效期至 \d{4}-\d{2}-\d{2}$/);

    // One digit of the GTIN mistyped: its check digit no longer holds.
    const mistyped = formatCode(h().batches.released.packs[5]!, "hri").replace("(01)06901234567892", "(01)06901234567893");
    await code.fill(mistyped);
    await page.getByRole("button", { name: "验证" }).click();
    await page.locator("#input-error").waitFor();
    expect(await page.locator("#input-error .alert__title").textContent()).to.equal(
      "输入的追溯码有误：请核对后重新输入或重新扫描（这不是服务故障）。",
    );
    expect(await page.locator("#input-error").textContent()).not.to.contain("服务拒绝");
    await screenshot(page, "scan-mistyped-zh");
  });

  it("lets a regulator order a recall from the batch's page, and says so when the batch was recalled meanwhile", async () => {
    const first = await recordBatch(h().c, "R-2025-010");
    const second = await recordBatch(h().c, "R-2025-011");
    await stack.indexed();
    await as(h().regulator(), `/batches/${first}`);
    await page.locator("#order-recall").waitFor();
    await checkAccessible();
    await screenshotBothLanguages(page, "order-recall");
    await page.getByLabel("召回级别").selectOption({ label: "一级" });
    await page.getByLabel("召回理由").fill("sterility failure reported by the CMO");
    await page.getByRole("button", { name: "签署并启动召回" }).click();
    await page.waitForURL(`${stack.url}/recalls/${first}`);
    await page.locator("#deadline").waitFor();
    expect((await read(h().regulator(), `/v1/batches/${first}`)).recall).to.deep.equal({ status: "OPEN", level: "I" });

    await page.goto(`${stack.url}/batches/${second}`);
    await page.locator("#order-recall").waitFor();
    await startRecall(h().c, h().c.mah, second, 2);
    await stack.indexed();
    await page.getByLabel("召回理由").fill("duplicate order");
    await page.getByRole("button", { name: "签署并启动召回" }).click();
    await page.locator("#outcome .refusal").waitFor();
    expect(await page.locator("#outcome .refusal").getAttribute("data-code")).to.equal("RECALL_ALREADY_STARTED");
    expect(await page.locator("#outcome .alert__title").textContent()).to.equal("该批次已在召回");
  });

  it("lets a regulator suspend and reinstate an organization, refusing a reinstatement already made", async () => {
    const target = h().c.distributor2;
    await as(h().regulator(), `/organizations/${target.id}`);
    await page.locator("#status-change").waitFor();
    await checkAccessible();
    await screenshotBothLanguages(page, "organization-suspend");
    await page.getByLabel("理由").fill("GSP inspection finding 2025-17");
    await page.getByRole("button", { name: "签署暂停" }).click();
    await page.locator("#organization-status", { hasText: "已暂停" }).waitFor();
    expect((await read(h().regulator(), `/v1/organizations/${target.id}`)).status).to.equal("SUSPENDED");

    // Another regulator reinstates it first; this page still offers the reinstatement.
    const { message, signature } = await h().c.sign("ConsortiumRegistry", "Reinstatement", h().c.regulator2.key, {
      regulatorId: h().c.regulator2.id,
      organizationId: target.id,
      reasonHash: hashText("finding closed"),
    });
    await h().c.registry.reinstateOrganization(message as never, signature);
    await stack.indexed();
    await page.getByLabel("理由").fill("finding closed");
    await page.getByRole("button", { name: "签署恢复" }).click();
    await page.locator("#outcome .refusal").waitFor();
    expect(await page.locator("#outcome .refusal").getAttribute("data-code")).to.equal("ORGANIZATION_NOT_SUSPENDED");
    expect((await read(h().regulator(), `/v1/organizations/${target.id}`)).status).to.equal("ACTIVE");
  });
});
