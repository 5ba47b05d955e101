import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { encryptKeystoreJson, id as hashText } from "ethers";
import request from "supertest";
import type { Page } from "playwright-core";
import { openDeviation, recordBatch, releaseFromFactory } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { packsFor } from "../api/harness";
import { validateEpcis } from "../../src/epcis/validate";
import { launchBrowser, mainControls, phoneTab, screenshotBothLanguages, signingStack, signInAsDemo, tabOrder, unnamedControls } from "./stack";

describe("release review page: the MAH's market release and the CMO's factory release and deviations, signed in the browser", () => {
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

  async function batchState(batchId: string) {
    const token = await h().tokenFor(h().c.mah);
    const { body } = await request(stack.app).get(`/v1/batches/${batchId}`).set("authorization", `Bearer ${token}`).expect(200);
    return body as { state: string; openDeviations: number };
  }

  /** A batch recorded and released from the factory outside the pages, indexed. */
  async function factoryReleased(batchNumber: string, coded?: Awaited<ReturnType<typeof packsFor>>) {
    const batchId = await recordBatch(h().c, batchNumber, coded ? { codesRoot: coded.tree.root, quantity: BigInt(coded.printed.length) } : {});
    await releaseFromFactory(h().c, batchId);
    await stack.indexed();
    if (coded) {
      await h().services.codes.register({ batchId: batchId.toLowerCase(), codes: coded.printed, by: h().c.cmo.id, now: h().services.now() });
    }
    return batchId;
  }

  const gates = () =>
    page.locator("#gates li").evaluateAll((items) => items.map((item) => [item.getAttribute("data-gate"), item.getAttribute("data-passed")]));

  it("shows every gate green and signs the market release with the MAH's key; the ledger says released", async () => {
    const batchId = await factoryReleased("R-2025-001");
    await signInAsDemo(page, stack.url, stack.nameOf(h().c.mah), `/batches/${batchId}/release`);
    await page.locator("#gates li").first().waitFor();
    expect(await gates()).to.deep.equal([
      ["factoryRelease", "true"],
      ["sterileRecords", "true"],
      ["testCertificate", "true"],
      ["retainedSamples", "true"],
      ["deviations", "true"],
      ["agreement", "true"],
      ["hold", "true"],
      ["recall", "true"],
      ["expiry", "true"],
      ["licence", "true"],
      ["qualifiedPerson", "true"],
    ]);
    expect(await page.locator("#gate-factoryRelease").textContent()).to.contain(hashText("QA certificate").slice(0, 8));
    expect(await unnamedControls(page)).to.deep.equal([]);
    const reached = await tabOrder(page);
    for (const control of await mainControls(page)) expect(reached, `Tab reaches ${control}`).to.include(control);
    await screenshotBothLanguages(page, "release-review");

    // Keyboard only: to the decision, type it, Enter signs.
    await page.locator("#decision").focus();
    await page.keyboard.type("QP decision 2025-001: release");
    await page.keyboard.press("Enter");
    await page.locator("#signed").waitFor();
    expect(await page.locator("#signed").textContent()).to.match(/已上市放行，记录在区块 \d+/);
    await page.locator("#released").waitFor();
    expect((await batchState(batchId)).state).to.equal("MARKET_RELEASED");
  });

  it("answers a refusal in the page's language with the CLI's words when a deviation was opened after the page was read", async () => {
    const batchId = await factoryReleased("R-2025-002");
    await signInAsDemo(page, stack.url, stack.nameOf(h().c.mah), `/batches/${batchId}/release`);
    await page.locator("#decision").waitFor();
    expect(await page.locator("#market-release-submit").isEnabled()).to.equal(true);
    // Meanwhile the CMO reports an OOS result: the page still shows what it read.
    await openDeviation(h().c, h().c.cmo, batchId, { kind: 2 });
    await stack.indexed();
    await page.locator("#decision").fill("QP decision 2025-002");
    await page.locator("#market-release-submit").click();
    const refusal = page.locator("#outcome .refusal");
    await refusal.waitFor();
    expect(await refusal.getAttribute("data-code")).to.equal("BATCH_HAS_OPEN_DEVIATIONS");
    expect(await refusal.locator(".alert__title").textContent()).to.equal("批次有未关闭的偏差");
    expect(await refusal.locator("p[lang=en]").textContent()).to.contain("R-2025-002 has 1 open deviation");
    await screenshotBothLanguages(page, "release-refused");
    await page.locator("#language").click();
    expect(await refusal.locator(".alert__title").textContent()).to.equal("The batch has open deviations");
    await page.locator("#language").click();
    // Read again, the page shows why and will not offer the release.
    await page.reload();
    await page.locator("#gate-deviations[data-passed=false]").waitFor();
    expect(await page.locator("#market-release-submit").isDisabled()).to.equal(true);
    expect(await page.locator("#market-release-submit").getAttribute("aria-describedby")).to.equal("market-release-why");
    expect((await batchState(batchId)).state).to.equal("FACTORY_RELEASED");
  });

  it("records the MAH's refusal of release from the page: the batch is rejected, scans REJECTED and offers no release", async () => {
    const coded = await packsFor("R-2025-005", 4);
    const { printed } = coded;
    const batchId = await factoryReleased("R-2025-005", coded);
    await signInAsDemo(page, stack.url, stack.nameOf(h().c.mah), `/batches/${batchId}/release`);
    await page.locator("#refuse-release").waitFor();
    expect(await unnamedControls(page)).to.deep.equal([]);
    await page.getByLabel("拒绝理由").fill("Sterility test failed: reject and destroy");
    await page.getByRole("button", { name: "签名拒绝放行" }).click();
    await page.locator("#refused").waitFor();
    expect(await page.locator("#signed").textContent()).to.match(/已拒绝上市放行，记录在区块 \d+/);
    expect(await page.locator("#market-release").count(), "no market release for a rejected batch").to.equal(0);
    expect(await page.locator("#refuse-release").count()).to.equal(0);
    await screenshotBothLanguages(page, "release-rejected");
    expect((await batchState(batchId)).state).to.equal("REJECTED");
    const scan = await request(stack.app).post("/v1/scans").send({ code: printed[0] }).expect(200);
    expect(scan.body.verdict).to.equal("REJECTED");
    // EPCIS: the lot inspected and found non-conformant, in a document that passes GS1's schema.
    const epcis = await request(stack.app)
      .get(`/v1/batches/${batchId}/epcis`)
      .set("authorization", `Bearer ${await h().tokenFor(h().c.mah)}`)
      .expect(200);
    expect(validateEpcis(epcis.body)).to.deep.equal([]);
    const refusal = (epcis.body.epcisBody.eventList as Record<string, unknown>[]).find((e) => e["trace:ledgerEvent"] === "BatchReleaseRefused");
    expect(refusal).to.include({ bizStep: "inspecting", disposition: "non_conformant", "trace:release": "refused" });
    // The batch's timeline names the refusal in the page's language.
    await page.goto(`${stack.url}/batches/${batchId}`);
    await page.getByText("拒绝上市放行（待销毁）").first().waitFor();
  });

  it("lets the CMO report a deviation, refuses its factory release while it is open, then closes it and releases", async () => {
    const batchId = await recordBatch(h().c, "R-2025-003");
    await stack.indexed();
    await signInAsDemo(page, stack.url, stack.nameOf(h().c.cmo), `/batches/${batchId}/release`);
    await page.locator("#open-deviation").waitFor();
    expect(await page.locator("#market-release").count(), "only the MAH signs the market release").to.equal(0);
    await page.getByLabel("类型").selectOption({ label: "检验结果超趋势（OOT）" });
    await page.getByLabel("偏差报告").fill("OOT assay, month 3");
    await page.getByRole("button", { name: "签署并报告偏差" }).click();
    await page.locator("#deviations tbody tr[data-status=OPEN]").waitFor();
    expect(await page.locator("#signed").textContent()).to.contain("偏差已报告");
    expect((await batchState(batchId)).openDeviations).to.equal(1);

    await page.getByLabel("出厂放行证书").fill("QA certificate R-2025-003");
    await page.getByRole("button", { name: "签署出厂放行" }).click();
    await page.locator("#outcome .refusal").waitFor();
    expect(await page.locator("#outcome .refusal").getAttribute("data-code")).to.equal("BATCH_HAS_OPEN_DEVIATIONS");
    expect((await batchState(batchId)).state).to.equal("MANUFACTURED");
    await screenshotBothLanguages(page, "release-cmo");

    await page.getByLabel("关闭报告").fill("OOT explained: analyst error, retest in trend");
    await page.getByRole("button", { name: "签署并关闭偏差" }).click();
    await page.locator("#deviations tbody tr[data-status=CLOSED]").waitFor();
    await page.getByLabel("出厂放行证书").fill("QA certificate R-2025-003");
    await page.getByRole("button", { name: "签署出厂放行" }).click();
    await page.locator("#gate-factoryRelease[data-passed=true]").waitFor();
    expect((await batchState(batchId)).state).to.equal("FACTORY_RELEASED");
    expect(await unnamedControls(page)).to.deep.equal([]);
  });

  it("lets the CMO record a batch with its codes file streamed twice (root, then registration), refusing a bad batch number", async () => {
    const { printed } = await packsFor("R-2025-020", 12);
    const file = { name: "codes.txt", mimeType: "text/plain", buffer: Buffer.from(`${printed.join("\n")}\n`) };
    await signInAsDemo(page, stack.url, stack.nameOf(h().c.cmo), "/batches/new");
    await page.locator("#record").waitFor();
    // Chosen from the agreements in force between the CMO and MAHs, the latest batch's first.
    const agreement = page.getByLabel("质量协议", { exact: true });
    expect(await agreement.inputValue(), "the agreement of the CMO's latest batch").to.equal(h().c.agreementId.toLowerCase());
    const offered = await agreement.locator("option").evaluateAll((options) => options.map((o) => [o.getAttribute("value"), o.textContent]));
    expect(offered[0]![1]).to.match(/^Suzhou B-Pharma · .+ · 有效至 /);
    const inForce = async (party: Party) =>
      (
        await request(stack.app)
          .get("/v1/agreements/in-force")
          .set("authorization", `Bearer ${await h().tokenFor(party)}`)
          .expect(200)
      ).body.items;
    expect(offered.map(([id]) => id)).to.have.members((await inForce(h().c.cmo)).map((a: { id: string }) => a.id));
    expect(await inForce(h().c.distributor), "a distributor is party to no quality agreement").to.deep.equal([]);
    await request(stack.app).get("/v1/agreements/in-force").expect(401);
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    await page.getByLabel("生产日期").fill(today);
    await page.getByLabel("有效期至").fill("2028-06-30");
    await page.getByLabel("批生产记录").fill("BPR R-2025-020 rev 1");
    await page.getByLabel("追溯码文件（一行一个）").setInputFiles(file);
    expect(await unnamedControls(page)).to.deep.equal([]);
    const reached = await tabOrder(page);
    for (const control of await mainControls(page)) expect(reached, `Tab reaches ${control}`).to.include(control);
    await screenshotBothLanguages(page, "record-batch");

    await page.getByLabel("批号").fill("R-2025-020-TOO-LONG-NUMBER");
    await page.getByRole("button", { name: "上传、签署并登记" }).click();
    await page.locator("#outcome .refusal").waitFor();
    expect(await page.locator("#outcome .refusal").getAttribute("data-code")).to.equal("INVALID_BATCH_NUMBER");

    await page.getByLabel("批号").fill("R-2025-020");
    await page.getByRole("button", { name: "上传、签署并登记" }).click();
    await page.locator("#recorded").waitFor();
    expect(await page.locator("#recorded").textContent()).to.contain("已登记 12 个追溯码");
    expect(await page.locator("#upload-progress").getAttribute("value")).to.equal("100");
    const batchId = await h().c.batches.batchId(h().c.productId, "R-2025-020");
    const state = await batchState(batchId);
    expect(state.state).to.equal("MANUFACTURED");
    const scan = await request(stack.app).post("/v1/scans").send({ code: printed[3] }).expect(200);
    expect(scan.body.verdict, "the codes are registered").to.equal("NOT_RELEASED");
  });

  it("serves the review to the batch's MAH and CMO and regulators, not to its holders", async () => {
    const { batchId } = h().batches.released;
    const review = async (party: Party, status: number) =>
      (
        await request(stack.app)
          .get(`/v1/batches/${batchId}/release-review`)
          .set("authorization", `Bearer ${await h().tokenFor(party)}`)
          .expect(status)
      ).body;
    expect((await review(h().c.distributor, 403)).error.code).to.equal("RELEASE_REVIEW_RESTRICTED");
    for (const party of [h().c.mah, h().c.cmo, h().regulator()]) {
      const body = await review(party, 200);
      expect(body.releasable, "already on the market").to.equal(false);
      expect(body.agreement.kind).to.equal("QUALITY");
      expect(body.factoryRelease.certificateHash).to.equal(hashText("QA certificate"));
    }
  });

  it("signs with a keystore signed in with: asks its password once, refuses a wrong one, never keeps it", async () => {
    const batchId = await factoryReleased("R-2025-004");
    const mah = h().c.mah;
    const keystore = await encryptKeystoreJson(
      { address: mah.key.address, privateKey: (mah.key as unknown as { privateKey: string }).privateKey },
      "qp secret",
      {
        scrypt: { N: 1024 },
      },
    );
    await page.evaluate("sessionStorage.clear()");
    await page.goto(`${stack.url}/sign-in?next=${encodeURIComponent(`/batches/${batchId}/release`)}`);
    await page
      .getByLabel("密钥文件（JSON keystore）")
      .setInputFiles({ name: "qp.json", mimeType: "application/json", buffer: Buffer.from(keystore) });
    await page.getByLabel("密码", { exact: true }).fill("qp secret");
    await page.getByRole("button", { name: "登录", exact: true }).click();
    await page.waitForURL(`${stack.url}/batches/${batchId}/release`);
    expect(await page.evaluate("sessionStorage.getItem('trace.session')")).not.to.contain("qp secret");
    // the product names no QP: the page signs with the MAH's own key and says so
    expect(await page.locator("#market-release").textContent()).to.contain("签署人：本机构密钥，不署个人姓名");
    await page.locator("#decision").fill("QP decision 2025-004");
    await page.locator("#market-release-submit").click();
    const dialog = page.getByRole("dialog", { name: "解锁签名密钥" });
    await dialog.waitFor();
    await dialog.getByLabel("密钥文件密码").fill("wrong");
    await dialog.getByLabel("密钥文件密码").press("Enter");
    await dialog.getByText("无法解密密钥文件").waitFor();
    await dialog.getByLabel("密钥文件密码").fill("qp secret");
    await dialog.getByRole("button", { name: "解锁并签名" }).click();
    await page.locator("#released").waitFor();
    expect((await batchState(batchId)).state).to.equal("MARKET_RELEASED");
  });
});
