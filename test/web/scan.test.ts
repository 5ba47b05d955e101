import { afterAll, beforeAll, describe, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import bwipjs from "bwip-js";
import type { Page } from "playwright-core";
import request from "supertest";
import { formatCode, withCheckDigit } from "../../src/codes";
import { chinaTime } from "../../src/ledger/china-time";
import { createApp } from "../../src/api/app";
import { webPages } from "../../src/web";
import { packsFor } from "../api/harness";
import { placeHold, recordBatch, releaseFromFactory, releaseToMarket } from "../contracts/fixtures";
import { writeCameraFeed } from "./camera";
import { launchBrowser, listen, phoneTab, requireChromium, screenshot, webStack } from "./stack";

describe("scan page in a real browser", () => {
  let stack: Awaited<ReturnType<typeof webStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;

  let feedDir: string;

  beforeAll(async () => {
    requireChromium();
    stack = await webStack();
    // The camera films the label of a released pack (see the camera test).
    feedDir = mkdtempSync(path.join(tmpdir(), "trace-camera-"));
    const cameraFeed = path.join(feedDir, "label.y4m");
    writeCameraFeed(cameraFeed, stack.harness.batches.released.packs[4]!);
    browser = await launchBrowser({ cameraFeed });
    page = await phoneTab(browser.browser);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (feedDir) rmSync(feedDir, { recursive: true, force: true });
  });

  const hri = (batch: "released" | "recalled" | "unreleased", index: number) => formatCode(stack.harness.batches[batch].packs[index]!, "hri");

  /** Types a code as a pharmacist would and waits for the answer to replace the result area. */
  async function scan(code: string) {
    await page.goto(`${stack.url}/`);
    await page.getByLabel("追溯码", { exact: true }).fill(code);
    await page.getByRole("button", { name: "验证" }).click();
    return answer();
  }

  async function answer() {
    const shown = page.locator("#result > *").first();
    await shown.waitFor();
    return shown;
  }

  it("says a released pack is genuine, in green words, with product, batch and expiry", async () => {
    const verdict = await scan(hri("released", 5));
    expect(await verdict.getAttribute("data-verdict")).to.equal("GENUINE");
    expect(await verdict.locator(".verdict__word").textContent()).to.contain("正品");
    expect(await verdict.getAttribute("class")).to.contain("verdict--good");
    const text = (await verdict.textContent())!;
    expect(text).to.contain("B-2024-001");
    const batch = await request(stack.app)
      .get(`/v1/batches/${stack.harness.batches.released.batchId}`)
      .set("authorization", `Bearer ${await stack.harness.tokenFor(stack.harness.c.mah)}`);
    // The batch is valid to 23:59:59 China time on its expiry date: that date is what the page shows.
    const [date, clock] = chinaTime(batch.body.expiresAt).split("T");
    expect(clock).to.equal("23:59:59.000+08:00");
    expect(text).to.contain(`有效期至${date}`);
    expect(text).to.contain("Product");
    expect(await page.locator("html").getAttribute("lang")).to.equal("zh-CN");
    await screenshot(page, "scan-genuine");
  });

  it("says a recalled pack is recalled, in red, with the level and a link to the recall", async () => {
    const verdict = await scan(hri("recalled", 0));
    expect(await verdict.getAttribute("data-verdict")).to.equal("RECALLED");
    expect(await verdict.locator(".verdict__word").textContent()).to.contain("已召回");
    expect(await verdict.getAttribute("class")).to.contain("verdict--danger");
    expect(await verdict.getByRole("link", { name: /召回中（II 级）/ }).getAttribute("href")).to.equal(
      `/recalls/${stack.harness.batches.recalled.batchId}`,
    );
    await screenshot(page, "scan-recalled");
  });

  it("says a pack of a held batch is on hold, in red, not to be sold or dispensed, in Chinese and English", async () => {
    const h = stack.harness;
    const codes = await packsFor("B-2024-HLD", 2);
    const batchId = await recordBatch(h.c, "B-2024-HLD", { quantity: 2n, codesRoot: codes.tree.root });
    await releaseFromFactory(h.c, batchId);
    await releaseToMarket(h.c, batchId);
    await placeHold(h.c, h.c.mah, batchId);
    await h.indexer.catchUp();
    await request(stack.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", `Bearer ${await h.tokenFor(h.c.cmo)}`)
      .send({ codes: codes.printed })
      .expect(201);
    const verdict = await scan(formatCode(codes.packs[0]!, "hri"));
    expect(await verdict.getAttribute("data-verdict")).to.equal("ON_HOLD");
    expect(await verdict.getAttribute("class")).to.contain("verdict--danger");
    expect(await verdict.locator(".verdict__word").textContent()).to.contain("暂停销售");
    expect(await verdict.locator(".verdict__advice").textContent()).to.contain("不得销售或调配");
    await page.getByRole("button", { name: "Switch to English" }).click();
    try {
      expect(await page.locator("#verdict .verdict__word").textContent()).to.contain("On hold");
      expect(await page.locator("#verdict .verdict__advice").textContent()).to.contain("awaiting the MAH's decision: do not sell or dispense");
      await screenshot(page, "scan-on-hold");
    } finally {
      await page.getByRole("button", { name: "切换到中文" }).click();
    }
  });

  it("says a code no batch contains is unknown, and may be counterfeit", async () => {
    const { packs } = await packsFor("B-FAKE", 1);
    const verdict = await scan(formatCode(packs[0]!, "hri"));
    expect(await verdict.getAttribute("data-verdict")).to.equal("UNKNOWN_CODE");
    expect(await verdict.locator(".verdict__word").textContent()).to.contain("未知追溯码");
    expect(await verdict.textContent()).to.contain("可能是假药");
    await screenshot(page, "scan-unknown");
  });

  it("says a product this ledger does not hold is not on it, in amber, and not a counterfeit, in Chinese and English", async () => {
    const verdict = await scan(`(01)${withCheckDigit("0950600013436")}(21)ELSEWHERE1`);
    expect(await verdict.getAttribute("data-verdict")).to.equal("NOT_ON_LEDGER");
    expect(await verdict.getAttribute("class")).to.contain("verdict--warning");
    expect(await verdict.locator(".verdict__word").textContent()).to.contain("本账本未收录该产品");
    expect(await verdict.locator(".verdict__advice").textContent())
      .to.contain("国家药品追溯协同服务平台")
      .and.not.contain("可能是假药");
    await page.getByRole("button", { name: "Switch to English" }).click();
    try {
      expect(await page.locator("#verdict .verdict__word").textContent()).to.contain("Not on this ledger");
      expect(await page.locator("#verdict .verdict__advice").textContent()).to.contain(
        "Verify it with the MAH or the national drug traceability platform",
      );
      await screenshot(page, "scan-not-on-ledger");
    } finally {
      await page.getByRole("button", { name: "切换到中文" }).click();
    }
  });

  it("shows a genuine pack's AIs the ledger does not read", async () => {
    const pack = stack.harness.batches.released.packs[6]!;
    const verdict = await scan(`(01)${pack.gtin}(7003)2712311200(240)ADD-1(10)${pack.batch}(21)${pack.serial}`);
    expect(await verdict.getAttribute("data-verdict")).to.equal("GENUINE");
    expect(await verdict.textContent()).to.contain("未读取的应用标识符(7003) (240)");
  });

  it("decodes an uploaded photo of a GS1 DataMatrix and gives its verdict", async () => {
    const pack = stack.harness.batches.unreleased.packs[1]!;
    const elements = formatCode(pack, "element-string", { symbologyId: "" });
    const png = await bwipjs.toBuffer({
      bcid: "gs1datamatrix",
      text: formatCode(pack, "hri"),
      scale: 6,
      paddingwidth: 6,
      paddingheight: 6,
      backgroundcolor: "FFFFFF",
    });
    await page.goto(`${stack.url}/`);
    await page.getByLabel("上传条码照片").setInputFiles({ name: "pack.png", mimeType: "image/png", buffer: png });
    const verdict = await answer();
    expect(await verdict.getAttribute("data-verdict")).to.equal("NOT_RELEASED");
    expect(await verdict.getAttribute("class")).to.contain("verdict--warning");
    expect(await verdict.textContent()).to.contain("B-2024-003");
    expect(await page.getByLabel("追溯码", { exact: true }).inputValue()).to.contain(elements.slice(0, 16));
    await screenshot(page, "scan-upload");
  });

  it("reads a pack's code with the device camera and gives its verdict", async () => {
    await page.goto(`${stack.url}/`);
    await page.getByRole("button", { name: "用摄像头扫码" }).click();
    const verdict = page.locator("#verdict");
    await verdict.waitFor();
    expect(await verdict.getAttribute("data-verdict")).to.equal("GENUINE");
    expect(await verdict.textContent()).to.contain(stack.harness.batches.released.packs[4]!.key);
    expect(await page.locator("#camera-view").isHidden()).to.equal(true);
    await screenshot(page, "scan-camera");
  });

  it("says so when a photo holds no barcode", async () => {
    const png = await bwipjs.toBuffer({ bcid: "code128", text: "not a datamatrix", backgroundcolor: "FFFFFF" });
    await page.goto(`${stack.url}/`);
    await page.getByLabel("上传条码照片").setInputFiles({ name: "photo.png", mimeType: "image/png", buffer: png });
    expect(await (await answer()).textContent()).to.contain("没有识别到");
  });

  it("switches to English, remembers it, and redraws the verdict in it", async () => {
    await scan(hri("released", 6));
    await page.getByRole("button", { name: "Switch to English" }).click();
    expect(await page.locator("html").getAttribute("lang")).to.equal("en");
    expect(await page.locator("#verdict .verdict__word").textContent()).to.contain("Genuine");
    await page.reload();
    expect(await page.getByRole("button", { name: "Check" }).isVisible()).to.equal(true);
    await screenshot(page, "scan-english");
    await page.getByRole("button", { name: "切换到中文" }).click();
    expect(await page.locator("html").getAttribute("lang")).to.equal("zh-CN");
  });

  it("can be used by keyboard alone", async () => {
    await page.goto(`${stack.url}/`);
    await page.getByLabel("追溯码", { exact: true }).focus();
    await page.keyboard.type(hri("released", 7));
    await page.keyboard.press("Enter");
    expect(await (await answer()).getAttribute("data-verdict")).to.equal("GENUINE");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.id")).to.equal("scan-submit");
    // Focus is visible: the focused control wears the focus outline.
    expect(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).to.equal("solid");
  });

  it("fits a phone's width without sideways scrolling", async () => {
    await scan(hri("recalled", 1));
    expect(await page.evaluate("document.documentElement.scrollWidth")).to.be.at.most(375);
  });

  it("says a malformed code is the user's input to check, with the API's code and message, not a fault of the service", async () => {
    const shown = await scan("(01)12345678901234(21)X");
    const text = (await shown.textContent())!;
    expect(await shown.getAttribute("role")).to.equal("alert");
    expect(text).to.contain("CODE_BAD_CHECK_DIGIT");
    expect(text).to.contain("输入的追溯码有误");
    expect(text).not.to.contain("服务拒绝");
    await screenshot(page, "scan-refused");
  });

  it("says the service is unavailable when the API cannot be reached", async () => {
    const server = await listen(createApp(stack.harness.services, [], [webPages]));
    await page.goto(`${server.url}/`);
    await page.getByLabel("追溯码", { exact: true }).fill(hri("released", 5));
    await server.close();
    await page.getByRole("button", { name: "验证" }).click();
    const shown = await answer();
    expect(await shown.textContent()).to.contain("服务不可用");
    await screenshot(page, "scan-service-down");
  });
});
