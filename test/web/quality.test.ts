import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import type { Page } from "playwright-core";
import { RiskClass } from "../../src/ledger";
import { recordBatch, releaseFromFactory } from "../contracts/fixtures";
import {
  appointPerson,
  approveRetainedSamples,
  classifyProduct,
  recordRetainedSamples,
  referenceSterileRecords,
  releaseToMarketAs,
} from "../contracts/quality-fixtures";
import { launchBrowser, phoneTab, signingStack, signInAsDemo } from "./stack";

describe("batch page: the MAH's quality duties", () => {
  let stack: Awaited<ReturnType<typeof signingStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let batchId: string;

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), signingStack()]);
    page = await phoneTab(browser.browser);
    const { c } = stack.harness;
    await classifyProduct(c, RiskClass.Sterile);
    const qp = await appointPerson(c);
    batchId = await recordBatch(c, "ST-WEB-1");
    await referenceSterileRecords(c, batchId);
    await releaseFromFactory(c, batchId);
    await recordRetainedSamples(c, batchId);
    await approveRetainedSamples(c, batchId);
    await releaseToMarketAs(c, batchId, qp);
    await stack.indexed();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("shows the risk class, the sterile records and the QP who signed the market release, in Chinese and English", async () => {
    const { c } = stack.harness;
    await signInAsDemo(page, stack.url, stack.nameOf(c.mah), `/batches/${batchId}`);
    const section = page.locator("#quality");
    await section.waitFor();
    const zh = (await section.textContent()) ?? "";
    expect(zh)
      .to.contain("质量职责")
      .and.contain("无菌药品")
      .and.contain("王敏 Wang Min · 质量受权人")
      .and.contain("已引用")
      .and.contain("留样室 B-3")
      .and.contain("持有人已批准");
    await page.getByRole("button", { name: "Switch to English" }).click();
    await page.locator("#duties-title", { hasText: "Quality duties" }).waitFor();
    const en = (await section.textContent()) ?? "";
    expect(en).to.contain("sterile").and.contain("王敏 Wang Min · quality authorized person");
    await page.getByRole("button", { name: "切换到中文" }).click();
  });

  it("hides the product's persons and reviews from a holder that may read the batch but not the product", async () => {
    const { c } = stack.harness;
    await signInAsDemo(page, stack.url, stack.nameOf(c.distributor), `/batches/${stack.harness.batches.released.batchId}`);
    const quality = page.locator("#quality");
    await quality.waitFor();
    expect(await quality.textContent())
      .to.contain("上市放行签署人")
      .and.not.contain("产品关键人员")
      .and.not.contain("季度质量回顾");
  });
});
