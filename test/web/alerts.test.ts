import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { id as hashText } from "ethers";
import type { Page } from "playwright-core";
import { alertConfig, createAlertEngine } from "../../src/alerts";
import { alertRoutes } from "../../src/alerts/routes";
import { PackState } from "../../src/ledger";
import { silentLogger } from "../../src/log";
import { supervisionRoutes } from "../../src/supervision/routes";
import { receive, ship } from "../contracts/fixtures";
import { changePackStates, provedPacks } from "../api/harness";
import { launchBrowser, phoneTab, screenshotBothLanguages, signingStack, signInAsDemo, unnamedControls } from "./stack";

describe("alerts and suspect-product pages: a case taken, investigated and closed, a report terminated, signed in the browser", () => {
  const config = alertConfig();
  let stack: Awaited<ReturnType<typeof signingStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const h = () => stack.harness;

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), signingStack([...alertRoutes(config), ...supervisionRoutes(config)])]);
    page = await phoneTab(browser.browser);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("the organization an alert is about takes it, moves it under investigation and closes it with a reason; the history shows each step", async () => {
    const { c } = h();
    const { batchId } = h().batches.released;
    const { shipmentId } = await ship(c, c.cmo, c.distributor2, batchId, 2n);
    await receive(c, c.distributor2, c.cmo, batchId, shipmentId, 2n, 1n);
    await stack.indexed();
    await createAlertEngine({ store: h().store, config, log: silentLogger(), now: () => Math.floor(Date.now() / 1000) }).catchUp();
    const alert = await h().store.db.selectFrom("alerts").select("id").where("rule", "=", "receipt_quantity_mismatch").executeTakeFirstOrThrow();

    await signInAsDemo(page, stack.url, stack.nameOf(c.cmo), "/alerts");
    const row = page.locator(`#alerts tr[data-alert="${alert.id}"]`);
    await row.waitFor();
    expect(await row.locator("td.case").textContent()).to.equal("新建");
    await row.locator("th a").click();
    await page.locator("#take-submit").waitFor();
    expect(await unnamedControls(page)).to.deep.equal([]);
    await page.locator("#take-submit").click();
    await page.locator("#status-submit").waitFor();
    await page.locator("#status-to").selectOption("1");
    await page.locator("#status-submit").click();
    await page.locator("#history tbody tr:nth-child(2)").waitFor();
    await page.locator("#close-reason").fill("the missing unit was found in the second carton");
    await page.locator("#close-submit").click();
    await page.locator("#history tbody tr:nth-child(3)").waitFor();
    expect(await page.locator("#history tbody td:nth-child(2)").allTextContents()).to.deep.equal(["认领", "调查中", "已关闭"]);
    expect(await page.locator("#history").textContent()).to.contain("the missing unit was found in the second carton");
    expect(await page.locator("#close-submit").count()).to.equal(0);
    await screenshotBothLanguages(page, "alert-case");
  });

  it("a regulator terminates a distributor's suspect-product report from its page; a non-regulator cannot", async () => {
    const { c } = h();
    const { batchId, tree, packs } = h().batches.released;
    await changePackStates(c, c.distributor, batchId, tree, [packs[6]!.key], PackState.Locked);
    await stack.indexed();
    const proved = provedPacks(tree, [packs[6]!.key]);
    const { message, signature } = await c.sign("AlertCases", "SuspectReport", c.distributor.key, {
      organizationId: c.distributor.id,
      batchId,
      packs: proved.packs,
      reasonHash: hashText("blurred print"),
    });
    await c.alertCases.fileSuspectReport(message as never, proved.proof, proved.proofFlags, signature);
    await stack.indexed();
    const reportId = await c.alertCases.suspectReportId(c.distributor.id, (message as { nonce: bigint }).nonce);

    await signInAsDemo(page, stack.url, stack.nameOf(c.mah), `/suspect-reports/${reportId}`);
    await page.locator("#terminate-submit").waitFor();
    expect(await page.locator("#terminate-submit").isDisabled()).to.equal(true);

    await signInAsDemo(page, stack.url, stack.nameOf(c.regulator2), "/suspect-reports");
    await page.locator(`#suspect-reports tr[data-report="${reportId}"] a`).click();
    await page.locator("#terminate-reason").fill("compared with retained samples: genuine");
    await page.locator("#terminate-outcome").selectOption("1");
    await page.locator("#terminate-submit").click();
    // Signed and indexed, the page reads the report again: terminated, no form left.
    await page.waitForFunction('document.querySelector("#content dl") && !document.querySelector("#terminate-submit")');
    expect(await page.locator("#content").textContent())
      .to.contain("compared with retained samples: genuine")
      .and.to.contain("已终止");
    const row = await h().store.db.selectFrom("suspect_reports").selectAll().where("id", "=", reportId).executeTakeFirstOrThrow();
    expect(row).to.include({ status: "TERMINATED", outcome: "CLEARED", terminated_by: c.regulator2.id });
  });

  it("a holder reports a scanned pack as suspect from its stock page: locked and reported in one request; a second report of it is refused and changes nothing", async () => {
    const { c } = h();
    const { batchId, printed } = h().batches.released;
    await signInAsDemo(page, stack.url, stack.nameOf(c.distributor), `/stock/${batchId}`);
    await page.getByRole("heading", { name: "报告可疑药品" }).waitFor();
    expect(await unnamedControls(page)).to.deep.equal([]);
    const reportsBefore = await h().store.db.selectFrom("suspect_reports").select("id").execute();
    await page.locator("#suspect-codes").fill(`${printed[7]}\n`);
    await page.locator("#suspect-reason").fill("seal broken, print blurred");
    await page.locator("#suspect-submit").click();
    await page.locator("#signed", { hasText: "已锁定并报告 1 盒可疑药品" }).waitFor();
    const before = new Set(reportsBefore.map((report) => report.id));
    const reports = (await h().store.db.selectFrom("suspect_reports").selectAll().execute()).filter((report) => !before.has(report.id));
    expect(reports).to.have.length(1);
    expect(reports[0]).to.include({ status: "OPEN", filed_by: c.distributor.id, batch_id: batchId });
    expect(JSON.parse(reports[0]!.packs)).to.have.length(1);
    const scan = await page.evaluate(
      `fetch("/v1/scans", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: ${JSON.stringify(printed[7])} }) }).then((r) => r.json())`,
    );
    expect((scan as { verdict: string }).verdict).to.equal("LOCKED");

    // The same pack again: the ledger refuses, and the refusal shows in the page's words; nothing is stored.
    await page.locator("#suspect-codes").fill(`${printed[7]}\n`);
    await page.locator("#suspect-reason").fill("reported twice");
    await page.locator("#suspect-submit").click();
    const refusal = page.locator("#outcome .refusal");
    await refusal.waitFor();
    expect(await h().store.db.selectFrom("suspect_reports").select("id").execute()).to.have.length(reportsBefore.length + 1);
    expect(await refusal.getAttribute("data-code"))
      .to.be.a("string")
      .and.not.equal("");

    await page.getByRole("button", { name: "Switch to English" }).click();
    await page.getByRole("heading", { name: "Report suspect product" }).waitFor();
    await page.getByRole("button", { name: "切换到中文" }).click();
  });

  it("a holder reports the whole batch as suspect by giving no codes", async () => {
    const { c } = h();
    const { batchId } = h().batches.released;
    await signInAsDemo(page, stack.url, stack.nameOf(c.dispenser), `/stock/${batchId}`);
    await page.locator("#suspect-reason").fill("the MAH's counterfeit warning names this batch");
    await page.locator("#suspect-submit").click();
    await page.locator("#signed", { hasText: "已报告整批可疑" }).waitFor();
    const report = await h().store.db.selectFrom("suspect_reports").selectAll().where("filed_by", "=", c.dispenser.id).executeTakeFirstOrThrow();
    expect(report).to.include({ batch_id: batchId, status: "OPEN", packs: "[]" });
  });
});
