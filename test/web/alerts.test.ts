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
});
