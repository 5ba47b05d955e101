import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { encryptKeystoreJson } from "ethers";
import request from "supertest";
import type { Page } from "playwright-core";
import { formatCode } from "../../src/codes";
import { demoOrganizationsFile } from "../../src/web/demo";
import { acknowledgeRecall } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { launchBrowser, phoneTab, screenshot, webStack } from "./stack";

describe("sign-in, provenance, recall and label pages in a real browser", () => {
  let stack: Awaited<ReturnType<typeof webStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;

  beforeAll(async () => {
    browser = await launchBrowser();
    stack = await webStack();
    page = await phoneTab(browser.browser);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const h = () => stack.harness;

  /** What the demo writes: its organizations and development keys. */
  async function writeDemoOrganizations(parties: Party[]) {
    const organizations = [];
    for (const party of parties) {
      const { body } = await request(stack.app).get(`/v1/organizations/${party.id}`).expect(200);
      organizations.push({
        organizationId: party.id,
        name: body.name,
        role: body.role,
        region: body.region,
        address: party.key.address,
        privateKey: party.key.privateKey,
      });
    }
    const file = demoOrganizationsFile(h().services.config.dataDir);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(organizations));
    return organizations;
  }

  async function signInAsDemo(name: string) {
    await page.goto(`${stack.url}/sign-in`);
    await page.getByRole("button", { name: new RegExp(`以 ${name}`) }).click();
    await page.waitForURL(`${stack.url}/`);
  }

  async function signOut() {
    await page.evaluate("sessionStorage.clear()");
  }

  it("offers no demo sign-in outside demo mode, only the keystore form", async () => {
    await request(stack.app).get("/v1/demo/organizations").expect(404);
    await page.goto(`${stack.url}/sign-in`);
    await page.getByLabel("密钥文件（JSON keystore）").waitFor();
    expect(await page.locator("#demo").isHidden()).to.equal(true);
  });

  it("signs in a demo organization in one click and shows it the custody path on a scan", async () => {
    const organizations = await writeDemoOrganizations([h().c.mah, h().c.distributor, h().c.dispenser, h().regulator()]);
    await page.goto(`${stack.url}/sign-in`);
    await page.locator("#demo-list button").first().waitFor();
    expect(await page.locator("#demo-list button").count()).to.equal(organizations.length);
    await screenshot(page, "sign-in");
    const dispenser = organizations.find((o) => o.organizationId === h().c.dispenser.id)!;
    await signInAsDemo(dispenser.name);
    expect(await page.locator("#session").textContent()).to.contain(dispenser.name);
    await page.getByLabel("追溯码", { exact: true }).fill(formatCode(h().batches.released.packs[5]!, "hri"));
    await page.getByRole("button", { name: "验证" }).click();
    const custody = page.locator("#custody");
    await custody.waitFor();
    const steps = await custody.locator("li").allTextContents();
    expect(steps.map((s) => s.split(" · ")[0])).to.deep.equal(["记录批次生产", "发货", "收货", "发货", "收货", "销售或调配"]);
    expect(steps.every((s) => s.includes("✓ 签名已验证"))).to.equal(true);
    await screenshot(page, "scan-custody");
    await signOut();
  });

  it("signs in with an encrypted keystore file, decrypted in the page", async () => {
    const distributor = h().c.distributor;
    const keystore = await encryptKeystoreJson({ address: distributor.key.address, privateKey: distributor.key.privateKey }, "correct horse", {
      scrypt: { N: 1024 },
    });
    await page.goto(`${stack.url}/sign-in?next=/batches`);
    await page
      .getByLabel("密钥文件（JSON keystore）")
      .setInputFiles({ name: "keystore.json", mimeType: "application/json", buffer: Buffer.from(keystore) });
    await page.getByLabel("密码").fill("wrong password");
    await page.getByRole("button", { name: "登录", exact: true }).click();
    expect(await page.locator("#outcome [role=alert]").textContent()).to.contain("无法解密密钥文件");
    await page.getByLabel("密码").fill("correct horse");
    await page.getByRole("button", { name: "登录", exact: true }).click();
    await page.waitForURL(`${stack.url}/batches`);
    const rows = page.locator("#batches tbody tr");
    await rows.first().waitFor();
    expect(await rows.locator("th").allTextContents()).to.have.members(["B-2024-001", "B-2024-002"]);
    await screenshot(page, "batches");
    await signOut();
  });

  it("returns after sign-in only to a page of its own site, whatever the next address says", async () => {
    // The same loopback server under another name is another origin: leaving for it is leaving the site.
    const elsewhere = new URL(stack.url.replace("127.0.0.1", "localhost")).host;
    const name = await orgName(h().c.dispenser);
    const signInFrom = async (next: string) => {
      const address = `${stack.url}/sign-in?next=${encodeURIComponent(next)}`;
      await page.goto(address);
      await page.getByRole("button", { name: new RegExp(`以 ${name}`) }).click();
      await page.waitForURL((url) => url.href !== address);
      const landed = page.url();
      await signOut();
      return landed;
    };
    for (const next of [
      `/\\${elsewhere}/stolen`,
      `/\t/${elsewhere}/stolen`,
      `//${elsewhere}/stolen`,
      `http://${elsewhere}/stolen`,
      "javascript:alert(1)",
    ]) {
      expect(await signInFrom(next), JSON.stringify(next)).to.equal(`${stack.url}/`);
    }
    expect(await signInFrom("/recalls?view=all#late")).to.equal(`${stack.url}/recalls?view=all#late`);
  });

  it("shows a batch's provenance timeline, every step signed and verified, with links", async () => {
    await signInAsDemo(await orgName(h().regulator()));
    await page.goto(`${stack.url}/batches/${h().batches.recalled.batchId}`);
    const steps = page.locator("#timeline > li");
    await steps.first().waitFor();
    expect(await steps.evaluateAll((items) => items.map((item) => item.getAttribute("data-event")))).to.deep.equal([
      "AgreementSigned",
      "AgreementOpinionGiven",
      "AgreementApproved",
      "BatchRecorded",
      "BatchFactoryReleased",
      "BatchMarketReleased",
      "BatchShipped",
      "ShipmentReceived",
      "BatchShipped",
      "RecallStarted",
      "RecallAcknowledged",
    ]);
    expect(await steps.locator(".mark--ok").count()).to.equal(11);
    expect(await steps.locator(".mark--bad").count()).to.equal(0);
    const first = steps.first();
    expect(await first.getByRole("link").first().getAttribute("href")).to.match(/^\/organizations\/\d+$/);
    expect(await first.locator("code").getAttribute("title")).to.match(/^0x[0-9a-f]{64}$/);
    expect(await page.getByRole("link", { name: "召回中（II 级）" }).getAttribute("href")).to.equal(`/recalls/${h().batches.recalled.batchId}`);
    expect(await page.evaluate("document.documentElement.scrollWidth")).to.be.at.most(375);
    await screenshot(page, "provenance");
  });

  it("shows a recall: holders, acknowledged and outstanding quantities, the deadline and who is late", async () => {
    await page.goto(`${stack.url}/recalls/${h().batches.recalled.batchId}`);
    const holders = page.locator("#holders tbody tr");
    await holders.first().waitFor();
    const byOrganization = await holders.evaluateAll((rows) =>
      rows.map((row): [number, Array<string | null>] => [
        Number(row.getAttribute("data-organization")),
        [...row.querySelectorAll("td")].map((cell) => cell.textContent),
      ]),
    );
    expect(byOrganization).to.deep.equal([
      [h().c.cmo.id, ["2", "是", "2", "0", "0", "0", byOrganization[0]![1][6], "按时"]],
      [h().c.distributor.id, ["5", "否", "—", "—", "—", "—", "—", "待确认"]],
    ]);
    // 8 made: the CMO's 2 accounted for, the distributor's 5 and the 1 on its way not yet.
    expect(await page.locator("#reconciliation").textContent()).to.contain("尚有 6 件未说明去向");
    expect(await page.locator("#total-made").textContent()).to.equal("8");
    expect(await page.locator("#total-unexplained").textContent()).to.equal("6");
    expect(await page.locator("#main").textContent()).to.contain("二级");
    expect(await page.evaluate("document.documentElement.scrollWidth")).to.be.at.most(375);
    await screenshot(page, "recall");
    // Past the level II deadline (three days), the holder that has not acknowledged is late.
    h().setNow(Math.floor(Date.now() / 1000) + 4 * 86_400);
    try {
      // Tokens issued before the jump have expired by the API's clock: sign in again.
      await signOut();
      await signInAsDemo(await orgName(h().regulator()));
      await page.goto(`${stack.url}/recalls/${h().batches.recalled.batchId}`);
      await page.locator("#holders tbody tr.late").waitFor();
      expect(await page.locator("#holders tbody tr.late").getAttribute("data-organization")).to.equal(String(h().c.distributor.id));
      expect(await page.locator("#deadline").textContent()).to.contain("已超过期限");
      await screenshot(page, "recall-late");
    } finally {
      h().setNow(Math.floor(Date.now() / 1000));
      await signOut();
      await signInAsDemo(await orgName(h().regulator()));
    }
  });

  it("renders a pack's printable GS1 DataMatrix label from the batch page, only for the batch's own packs", async () => {
    const pack = h().batches.released.packs[3]!;
    await page.goto(`${stack.url}/batches/${h().batches.released.batchId}`);
    await page.getByLabel("这一盒的追溯码").fill(formatCode(pack, "hri"));
    await page.getByRole("button", { name: "生成标签" }).click();
    const label = page.locator("#label");
    await label.waitFor();
    expect(await label.locator("svg").getAttribute("aria-label")).to.contain(formatCode(pack, "hri"));
    expect(await label.textContent()).to.contain("B-2024-001");
    await page.getByRole("button", { name: "打印" }).waitFor();
    await page.emulateMedia({ media: "print" });
    await screenshot(page, "label-print");
    await page.emulateMedia({ media: "screen" });
    await screenshot(page, "label");
    // The printed symbol scans back to the same pack: its picture, uploaded on the scan page, is genuine.
    const picture = await label.locator("svg").screenshot();
    await page.goto(`${stack.url}/`);
    await page.getByLabel("上传条码照片").setInputFiles({ name: "label.png", mimeType: "image/png", buffer: picture });
    const verdict = page.locator("#verdict");
    await verdict.waitFor();
    expect(await verdict.getAttribute("data-verdict")).to.equal("GENUINE");
    expect(await verdict.textContent()).to.contain(pack.key);
    await page.goto(`${stack.url}/batches/${h().batches.released.batchId}`);
    await page.getByLabel("这一盒的追溯码").fill(formatCode(h().batches.recalled.packs[0]!, "hri"));
    await page.getByRole("button", { name: "生成标签" }).click();
    await page.locator("#label-output [role=alert]").waitFor();
    expect(await page.locator("#label-output").textContent()).to.contain("不属于本批次");
  });

  it("switches the provenance page to English", async () => {
    await page.goto(`${stack.url}/batches/${h().batches.released.batchId}`);
    await page.locator("#timeline > li").first().waitFor();
    await page.getByRole("button", { name: "Switch to English" }).click();
    expect(await page.locator("html").getAttribute("lang")).to.equal("en");
    expect(await page.locator("#timeline > li .step").first().textContent()).to.equal("Agreement signed");
    expect(await page.locator("h1").textContent()).to.equal("Batch provenance");
    await screenshot(page, "provenance-english");
    await page.getByRole("button", { name: "切换到中文" }).click();
  });

  it("shows the API's refusal on a page: a holder asking for a batch it never held", async () => {
    await signOut();
    await signInAsDemo(await orgName(h().c.dispenser));
    await page.goto(`${stack.url}/batches/${h().batches.recalled.batchId}`);
    const alert = page.locator("#content [role=alert]");
    await alert.waitFor();
    expect(await alert.textContent()).to.contain("403 NOT_YOUR_BATCH");
    await screenshot(page, "batch-refused");
    await signOut();
  });

  it("asks to sign in rather than show an empty page", async () => {
    await page.goto(`${stack.url}/recalls/${h().batches.recalled.batchId}`);
    const alert = page.locator("#content [role=alert]");
    await alert.waitFor();
    expect(await alert.getByRole("link", { name: "去登录" }).getAttribute("href")).to.equal(
      `/sign-in?next=${encodeURIComponent(`/recalls/${h().batches.recalled.batchId}`)}`,
    );
  });

  it("says the service is unavailable when the API goes down under a loaded page", async () => {
    await page.goto(`${stack.url}/organizations/${h().c.mah.id}`);
    await page.locator("#organization-name").waitFor();
    // Every later request to the API fails as if the server were gone.
    await page.route("**/v1/**", (route) => route.abort("connectionrefused"));
    try {
      await page.goto(`${stack.url}/organizations/${h().c.mah.id}`);
      const alert = page.locator("#content [role=alert]");
      await alert.waitFor();
      expect(await alert.textContent()).to.contain("服务不可用");
      await screenshot(page, "organization-service-down");
    } finally {
      await page.unroute("**/v1/**");
    }
  });

  it("answers bad label requests with the code's error, and serves the browser libraries", async () => {
    const missing = await request(stack.app).get("/labels/datamatrix.svg").expect(400);
    expect(missing.body.error).to.include({ code: "INVALID_INPUT", field: "code" });
    const badCheck = await request(stack.app).get("/labels/datamatrix.svg").query({ code: "(01)12345678901234(21)X" }).expect(400);
    expect(badCheck.body.error.code).to.equal("CODE_BAD_CHECK_DIGIT");
    const pack = h().batches.released.packs[0]!;
    const label = await request(stack.app)
      .get("/labels/datamatrix.svg")
      .query({ code: formatCode(pack, "element-string") })
      .expect(200);
    expect(label.headers["content-type"]).to.match(/^image\/svg\+xml/);
    expect(decodeURIComponent(label.headers["x-label-text"]!)).to.equal(formatCode(pack, "hri"));
    for (const bundle of ["/vendor/zxing.js", "/vendor/ethers.js"]) {
      expect((await request(stack.app).get(bundle).expect(200)).headers["content-type"]).to.match(/^text\/javascript/);
    }
  });

  it("refuses a malformed demo file by name, leaving it as it was", async () => {
    const file = demoOrganizationsFile(h().services.config.dataDir);
    const before = readFileSync(file, "utf8");
    writeFileSync(file, JSON.stringify([{ organizationId: 1, name: "x" }]));
    try {
      const res = await request(stack.app).get("/v1/demo/organizations").expect(500);
      expect(res.body.error.code).to.equal("DEMO_FILE_INVALID");
      expect(res.body.error.message).to.contain(file);
      await page.goto(`${stack.url}/sign-in`);
      expect(await page.locator("#outcome [role=alert]").textContent()).to.contain("DEMO_FILE_INVALID");
      expect(readFileSync(file, "utf8")).to.equal(JSON.stringify([{ organizationId: 1, name: "x" }]));
    } finally {
      writeFileSync(file, before);
    }
  });

  it("lists the recalls the organization may read, each linking to its reconciliation, and says when there are none", async () => {
    await signOut();
    await signInAsDemo(await orgName(h().regulator()));
    await page.goto(`${stack.url}/recalls`);
    const rows = page.locator("#recalls tbody tr");
    await rows.first().waitFor();
    expect(await rows.locator("th a").evaluateAll((links) => links.map((link) => link.getAttribute("href")))).to.deep.equal([
      `/recalls/${h().batches.recalled.batchId}`,
    ]);
    expect(await rows.first().locator("td").allTextContents()).to.include.members(["二级", "进行中"]);
    await page.getByRole("button", { name: "Switch to English" }).click();
    expect(await page.locator("#recalls thead th").first().textContent()).to.equal("Batch");
    expect(await page.locator("h1").textContent()).to.equal("Recalls");
    await page.getByRole("button", { name: "切换到中文" }).click();
    await signOut();
    // The dispenser never held the recalled batch: no recall is its to read.
    await signInAsDemo(await orgName(h().c.dispenser));
    await page.goto(`${stack.url}/recalls`);
    await page.getByText("没有可查看的召回。").waitFor();
    await signOut();
  });

  it("serves every page in the same frame and, with JavaScript off, says so under the page's heading", async () => {
    const pages: Array<[string, string]> = [
      ["/", "title.scan"],
      ["/sign-in", "title.signIn"],
      ["/batches", "title.batches"],
      [`/batches/${h().batches.released.batchId}`, "title.batch"],
      ["/recalls", "title.recalls"],
      [`/recalls/${h().batches.recalled.batchId}`, "title.recall"],
      [`/organizations/${h().c.mah.id}`, "title.organization"],
    ];
    const noScript = await browser.browser.newContext({ javaScriptEnabled: false });
    try {
      const plain = await noScript.newPage();
      for (const [address, heading] of pages) {
        const response = await plain.goto(`${stack.url}${address}`);
        expect(response?.headers()["cache-control"], address).to.equal("no-cache");
        expect(await plain.locator("html").getAttribute("lang"), address).to.equal("zh-CN");
        expect(await plain.getByRole("link", { name: "跳到正文" }).getAttribute("href"), address).to.equal("#main");
        expect(await plain.locator("#site-header").count(), address).to.equal(1);
        expect(await plain.locator(`main h1[data-i18n="${heading}"]`).count(), address).to.equal(1);
        expect(await plain.locator("main noscript .alert").textContent(), address).to.equal("此页面需要启用 JavaScript。This page needs JavaScript.");
        expect(await plain.locator("main noscript .alert").isVisible(), address).to.equal(true);
      }
      await screenshot(plain, "no-javascript");
    } finally {
      await noScript.close();
    }
  });

  it("says an address is not a batch rather than show an empty page", async () => {
    await page.goto(`${stack.url}/batches/not-a-batch`);
    expect(await page.locator("#content [role=alert]").textContent()).to.contain("/batches/not-a-batch");
  });

  async function orgName(party: Party) {
    return ((await request(stack.app).get(`/v1/organizations/${party.id}`).expect(200)).body as { name: string }).name;
  }

  // Last: it acknowledges the harness's recall for the distributor, which the tests above expect outstanding.
  it("marks a holder that could not find part of its holding, and counts what is still unaccounted for", async () => {
    const recalled = h().batches.recalled.batchId;
    await acknowledgeRecall(h().c, h().c.distributor, recalled, { quarantined: 3n, dispensed: 1n, missing: 1n });
    await h().indexer.catchUp();
    await signInAsDemo(await orgName(h().regulator()));
    await page.goto(`${stack.url}/recalls/${recalled}`);
    const distributor = page.locator(`#holders tbody tr[data-organization="${h().c.distributor.id}"]`);
    await distributor.waitFor();
    expect(await distributor.getAttribute("class")).to.equal("shortfall");
    expect(await distributor.locator("td").evaluateAll((cells) => cells.slice(0, 6).map((cell) => cell.textContent))).to.deep.equal([
      "3",
      "是",
      "3",
      "1",
      "0",
      "1",
    ]);
    // 8 made: 2 + 3 quarantined, 1 dispensed, 1 missing, 1 still on its way to the second distributor.
    expect(await page.locator("#reconciliation").textContent()).to.equal(
      "尚有 1 件未说明去向（未确认的持有或在途）：召回不能关闭。 其中 1 件下落不明。",
    );
    await screenshot(page, "recall-shortfall");
    await signOut();
  });
});
