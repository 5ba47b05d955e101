import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import type { Page } from "playwright-core";
import { createApp } from "../../src/api/app";
import { InspectionGrade } from "../../src/ledger";
import { supervisionRecordRoutes } from "../../src/supervision/records";
import { webPages } from "../../src/web";
import { alertHarness } from "../alerts/harness";
import type { AlertHarness } from "../alerts/harness";
import { DAY, recordBatch } from "../contracts/fixtures";
import { inspectionIdOf, inspectionOf, now, recognise, recordLicence, sampling } from "../contracts/supervision-fixtures";
import { launchBrowser, listen, phoneTab, screenshot, signInAsDemo, writeDemoOrganizations } from "./stack";

describe("the enterprise file and risk ratings pages in a real browser", () => {
  let h: AlertHarness;
  let server: Awaited<ReturnType<typeof listen>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let names: Map<number, string>;

  beforeAll(async () => {
    h = await alertHarness("sqlite");
    const { c } = h;
    await recordLicence(c, c.regulator2, c.cmo.id, (await now(c)) + 400 * DAY);
    const { message, signature } = await inspectionOf(c, c.regulator2, { criticalFindings: 1, grade: InspectionGrade.NonCompliant });
    await c.supervision.recordInspection(message as never, signature);
    await recognise(c, c.regulator, inspectionIdOf(c.regulator2, message.nonce));
    await sampling(c, c.regulator, await recordBatch(c, "WEB-SAMPLED"));
    await h.sync();
    h.clock.now = Math.max(h.clock.now, await now(c));
    await h.engine.evaluateDeadlines(h.clock.now);
    const app = createApp(h.services, supervisionRecordRoutes(h.config), [webPages]);
    server = await listen(app);
    names = await writeDemoOrganizations(app, h, [c.regulator, c.cmo, c.distributor]);
    browser = await launchBrowser();
    page = await phoneTab(browser.browser);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await h?.close();
  });

  it("shows a regulator the CMO's file: licence, the inspection Jiangsu recognised, the failed sample, the rating and its contributions", async () => {
    const { c } = h;
    await signInAsDemo(page, server.url, names.get(c.regulator.id)!, `/organizations/${c.cmo.id}/file`);
    await page.locator("#rating-contributions").waitFor();
    expect(await page.locator("#licence-state").textContent()).to.equal("有效");
    expect(await page.locator("#inspections tbody tr").count()).to.equal(1);
    const inspection = await page.locator("#inspections tbody tr").first().textContent();
    expect(inspection).to.contain("不符合要求");
    expect(inspection).to.contain("省份 320000");
    expect(await page.locator("#samplings tbody tr").first().textContent()).to.contain("不合格");
    expect(await page.locator("#rating-level").textContent()).to.equal("红（高风险）");
    const sources = await page.locator("#rating-contributions tbody th").allTextContents();
    expect(sources).to.include.members(["检查", "抽检不合格", "许可证"]);
    expect(await page.locator("#rating-history tbody tr").count()).to.be.greaterThan(0);
    await screenshot(page, "enterprise-file");
    await page.getByRole("button", { name: "Switch to English" }).click();
    await page.getByRole("heading", { name: "Enterprise file" }).waitFor();
    expect(await page.locator("#rating-level").textContent()).to.equal("red (high risk)");
  });

  it("lists every rating for a regulator, each linking to its file", async () => {
    await page.goto(`${server.url}/ratings`);
    await page.locator("#ratings tbody tr").first().waitFor();
    const cmoRow = page.locator("#ratings tbody tr", { hasText: names.get(h.c.cmo.id)! });
    expect(await cmoRow.locator("a", { hasText: /Open the file|查看档案/ }).getAttribute("href")).to.equal(`/organizations/${h.c.cmo.id}/file`);
  });

  it("shows another organization's refusal, not an empty page", async () => {
    await page.evaluate("localStorage.clear()"); // back to Chinese, which the demo sign-in buttons speak
    await signInAsDemo(page, server.url, names.get(h.c.distributor.id)!, `/organizations/${h.c.cmo.id}/file`);
    await page.locator("#content .alert").waitFor();
    expect(await page.locator("#content").textContent()).to.contain("NOT_YOUR_ORGANIZATION");
  });
});
