import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import type { Page } from "playwright-core";
import { alertConfig } from "../../src/alerts";
import { supervisionRecordRoutes } from "../../src/supervision/records";
import { inspectionOf, pendingAgreement } from "../contracts/supervision-fixtures";
import { launchBrowser, mainControls, phoneTab, screenshotBothLanguages, signingStack, signInAsDemo, tabOrder, unnamedControls } from "./stack";

/** A date (YYYY-MM-DD) `days` from today in China Standard Time, as a date input takes it. */
const chinaDate = (days: number) => new Date(Date.now() + 8 * 3600_000 + days * 86_400_000).toISOString().slice(0, 10);

describe("a regulator signs supervision records on the enterprise file page in a real browser", () => {
  let stack: Awaited<ReturnType<typeof signingStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let pending: Awaited<ReturnType<typeof pendingAgreement>>;
  const h = () => stack.harness;

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), signingStack(supervisionRecordRoutes(alertConfig()))]);
    page = await phoneTab(browser.browser);
    const { c } = h();
    // A cross-province agreement awaiting the CMO province's opinion, and Jiangsu's inspection of the Zhejiang CMO.
    pending = await pendingAgreement(c);
    const { message, signature } = await inspectionOf(c, c.regulator);
    await c.supervision.recordInspection(message as never, signature);
    await stack.indexed();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const filePage = () => `/organizations/${h().c.cmo.id}/file`;

  it("every form's control has a name and is reached by Tab, in Chinese and English", async () => {
    await signInAsDemo(page, stack.url, stack.nameOf(h().c.regulator2), filePage());
    await page.locator("#review-form").waitFor();
    expect(await unnamedControls(page)).to.deep.equal([]);
    const reached = await tabOrder(page, 160);
    for (const control of await mainControls(page)) expect(reached, `Tab reaches ${control}`).to.include(control);
    await screenshotBothLanguages(page, "regulator-forms");
    await page.locator("#language").click();
    await page.getByRole("heading", { name: "Record an inspection" }).waitFor();
    expect(await page.getByRole("button", { name: "Sign the recognition" }).isEnabled()).to.equal(true);
    expect(await page.getByLabel("Critical findings").inputValue()).to.equal("0");
    await page.locator("#language").click();
    await page.getByRole("heading", { name: "记录检查" }).waitFor();
  });

  it("Zhejiang records the CMO's licence and an inspection, recognises Jiangsu's, records a failed sampling and gives its opinion", async () => {
    const { c } = h();
    await signInAsDemo(page, stack.url, stack.nameOf(c.regulator2), filePage());
    await page.locator("#licence-form").waitFor();

    await page.getByLabel("许可证编号或文件").fill("药品生产许可证 浙20160093");
    await page.locator("#licence-until").fill(chinaDate(400));
    await page.locator("#licence-form-submit").click();
    await page.locator("#licence-history tbody tr").first().waitFor();
    expect(await page.locator("#licence-state").textContent()).to.equal("有效");

    await page.locator("#inspection-site").fill("杭州工厂 2 号车间");
    await page.locator("#inspection-scope").selectOption({ label: "有因检查" });
    await page.locator("#inspection-major").fill("2");
    await page.locator("#inspection-grade").selectOption({ label: "整改后符合要求" });
    await page.locator("#inspection-date").fill(chinaDate(-2));
    await page.locator("#inspection-report").fill("浙药监 有因检查报告 ZJ-2026-045");
    await page.locator("#inspection-form-submit").click();
    await page.locator("#inspections tbody tr:nth-child(2)").waitFor();
    expect(await page.locator("#inspections").textContent()).to.contain("杭州工厂 2 号车间");

    // Jiangsu's inspection is the one Zhejiang may recognise (its own is not offered).
    expect(await page.locator("#recognition-inspection option").count()).to.equal(1);
    await page.locator("#recognition-form-submit").click();
    await page.locator("#inspections td", { hasText: "省份 330000" }).waitFor();
    expect(await page.locator("#recognition-form-submit").isDisabled()).to.equal(true);

    await page.locator("#sampling-test").fill("含量测定");
    await page.locator("#sampling-result").selectOption("failed");
    await page.locator("#sampling-report").fill("浙药检 抽检报告 2026-118");
    await page.locator("#sampling-form-submit").click();
    await page.locator("#samplings tbody tr").first().waitFor();
    expect(await page.locator("#samplings").textContent()).to.contain("不合格");

    await page.locator("#review-agreement").selectOption(pending.agreementId);
    await page.locator("#review-document").fill("浙药监函〔2026〕12 号 委托生产意见");
    await page.locator("#review-form-submit").click();
    await page.locator("#agreements td", { hasText: "待持有人所在省局审批" }).waitFor();

    const recorded = await h()
      .store.db.selectFrom("inspections")
      .select(["site", "major_findings", "grade"])
      .where("regulator_id", "=", c.regulator2.id)
      .execute();
    expect(recorded).to.deep.equal([{ site: "杭州工厂 2 号车间", major_findings: 2, grade: "COMPLIANT_WITH_CORRECTIONS" }]);
  });

  it("Jiangsu approves the agreement from the same page; the ledger's refusal of a licence outside its province is shown in its words", async () => {
    const { c } = h();
    await signInAsDemo(page, stack.url, stack.nameOf(c.regulator), filePage());
    await page.locator("#review-form").waitFor();
    await page.locator("#review-agreement").selectOption(pending.agreementId);
    await page.locator("#review-document").fill("苏药监函〔2026〕7 号 批复");
    await page.locator("#review-form-submit").click();
    await page.locator("#agreements td", { hasText: "两省已审批，生效" }).waitFor();

    // The licence of a Zhejiang enterprise is Zhejiang's to record.
    await page.goto(`${stack.url}${filePage()}`);
    await page.locator("#licence-form").waitFor();
    await page.locator("#licence-document").fill("a licence Jiangsu cannot record");
    await page.locator("#licence-until").fill(chinaDate(30));
    await page.locator("#licence-form-submit").click();
    await page.locator("#outcome .refusal").waitFor();
    expect(await page.locator("#outcome .refusal").getAttribute("data-code")).to.equal("NOT_PROVINCE_REGULATOR");
  });

  it("shows no regulator forms to the enterprise itself", async () => {
    await signInAsDemo(page, stack.url, stack.nameOf(h().c.cmo), filePage());
    await page.locator("#licence").waitFor();
    expect(await page.locator("form.panel").count()).to.equal(0);
  });
});
