import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { readFileSync } from "node:fs";
import request from "supertest";
import type { Page } from "playwright-core";
import { launchBrowser, mainControls, signInAsDemo, tabOrder, unnamedControls, webStack, writeDemoOrganizations } from "./stack";
import type { Party } from "../contracts/fixtures";

describe("batch page: the batch's EPCIS export", () => {
  let stack: Awaited<ReturnType<typeof webStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  let names: Map<number, string>;
  let batchId: string;

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), webStack()]);
    const { c } = stack.harness;
    names = await writeDemoOrganizations(stack.app, stack.harness, [c.mah, c.cmo, c.distributor, c.regulator2]);
    page = await (await browser.browser.newContext({ acceptDownloads: true, viewport: { width: 375, height: 740 } })).newPage();
    batchId = stack.harness.batches.released.batchId;
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const signIn = (party: Party) => signInAsDemo(page, stack.url, names.get(party.id)!, `/batches/${batchId}`);

  /** Clicks the export button and reads the file the browser saved. */
  async function exported(): Promise<{ fileName: string; document: any }> {
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#epcis-export").click()]);
    const file = await download.path();
    return { fileName: download.suggestedFilename(), document: JSON.parse(readFileSync(file, "utf8")) };
  }

  /** The document the API serves the same organization, for comparison. */
  async function served(party: Party) {
    const token = await stack.harness.tokenFor(party);
    const { body } = await request(stack.app).get(`/v1/batches/${batchId}/epcis`).set("authorization", `Bearer ${token}`).expect(200);
    return body;
  }

  it("saves the API's whole EPCIS document for a regulator of another province, named in Chinese and English", async () => {
    const { c } = stack.harness;
    await signIn(c.regulator2);
    const button = page.getByRole("button", { name: "下载本批次的 EPCIS 2.0 追溯记录" });
    await button.waitFor();
    const { fileName, document } = await exported();
    expect(fileName).to.equal("epcis-B-2024-001.jsonld");
    const expected = await served(c.regulator2);
    expect(document.type).to.equal("EPCISDocument");
    expect(document.epcisBody.eventList).to.deep.equal(expected.epcisBody.eventList);
    // regulators see the dispensed packs by serial
    expect(document.epcisBody.eventList.some((event: any) => event.epcList?.length > 0)).to.equal(true);
    await page.locator("#epcis-outcome", { hasText: "已保存为 epcis-B-2024-001.jsonld" }).waitFor();

    await page.getByRole("button", { name: "Switch to English" }).click();
    await page.getByRole("button", { name: "Download the batch's EPCIS 2.0 history" }).waitFor();
    expect(await page.locator("#epcis-hint").textContent()).to.contain("GS1 EPCIS 2.0 JSON-LD");
    await page.getByRole("button", { name: "切换到中文" }).click();
  });

  it("is reached by Tab and named for assistive technology", async () => {
    expect(await unnamedControls(page)).to.deep.equal([]);
    expect(await mainControls(page)).to.include("#epcis-export");
    expect(await tabOrder(page)).to.include("#epcis-export");
  });

  it("gives the batch's CMO the same export, its packs counted, not listed by serial", async () => {
    const { c } = stack.harness;
    await signIn(c.cmo);
    await page.locator("#epcis-export").waitFor();
    const { document } = await exported();
    expect(document.epcisBody.eventList).to.deep.equal((await served(c.cmo)).epcisBody.eventList);
    expect(document.epcisBody.eventList.every((event: any) => event.epcList === undefined)).to.equal(true);
  });

  it("is not offered to a holder, who may not read the batch's whole history", async () => {
    await signIn(stack.harness.c.distributor);
    await page.locator("#timeline-title, .alert--info", { hasText: "完整时间线仅向监管部门" }).waitFor();
    expect(await page.locator("#epcis-export").count()).to.equal(0);
  });

  it("shows the API's refusal beside the button and saves nothing", async () => {
    const { c } = stack.harness;
    await signIn(c.mah);
    await page.locator("#epcis-export").waitFor();
    // An API started without a public URL refuses the export rather than name parties ambiguously.
    const config = stack.harness.services.config as { publicUrl?: string };
    const publicUrl = config.publicUrl;
    config.publicUrl = undefined;
    try {
      let downloads = 0;
      page.on("download", () => downloads++);
      await page.locator("#epcis-export").click();
      await page.locator("#epcis-outcome [role=alert]", { hasText: "NO_PUBLIC_URL" }).waitFor();
      expect(downloads).to.equal(0);
    } finally {
      config.publicUrl = publicUrl;
    }
  });
});
