import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { keccak256 } from "ethers";
import type { Page } from "playwright-core";
import { openDeviation } from "../contracts/fixtures";
import { acknowledgeNotice, agreeCommunicationTerms, countersignCommunicationTerms, EMAIL, PORTAL, sendNotice } from "../contracts/quality-fixtures";
import { launchBrowser, phoneTab, screenshotBothLanguages, signingStack, signInAsDemo, unnamedControls } from "./stack";

/**
 * The quality agreement's communication log page (terms with the CMO's countersignature, notices with their
 * acknowledgements, the overdue one marked) and the batch page's document upload (streamed bytes) with the owner's
 * grant and revoke, in Chinese and English.
 */
describe("quality communication pages", () => {
  let stack: Awaited<ReturnType<typeof signingStack>>;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  let page: Page;
  const report = Buffer.from("偏差报告 DR-2026-044：压片机转速偏离 / tablet press speed out of range", "utf8");
  const reportHash = keccak256(report).toLowerCase();

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), signingStack()]);
    page = await phoneTab(browser.browser);
    const { c } = stack.harness;
    await agreeCommunicationTerms(c, { channels: (1 << EMAIL) | (1 << PORTAL), responseSeconds: 3600 });
    await countersignCommunicationTerms(c, { responseSeconds: 3600 });
    const answered = await sendNotice(c, c.cmo);
    await (await answered.tx).wait();
    await acknowledgeNotice(c, c.mah, answered.noticeId);
    await (await (await sendNotice(c, c.mah, { kind: 4, channel: EMAIL })).tx).wait();
    await (await openDeviation(c, c.cmo, stack.harness.batches.unreleased.batchId, { reportHash })).wait();
    await stack.indexed();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("shows the agreed terms countersigned by the CMO and each notice, the unacknowledged one marked overdue, in Chinese and English", async () => {
    const { c } = stack.harness;
    const notices = await stack.harness.store.db.selectFrom("quality_notices").select(["due_at", "acknowledged_at"]).execute();
    const open = notices.find((n) => n.acknowledged_at === null)!;
    // The API's clock moves past the open notice's response time; the sign-in below is on that clock too.
    stack.harness.setNow(open.due_at + 60);
    await signInAsDemo(page, stack.url, stack.nameOf(c.cmo), `/agreements/${c.agreementId}/communications`);
    await page.locator("#notices").waitFor();
    const terms = (await page.locator("#terms").textContent()) ?? "";
    expect(terms).to.contain("电子邮件").and.contain("门户系统").and.contain("1 小时").and.contain(`机构 ${c.cmo.id}`);
    expect(await page.locator("#countersignature").getAttribute("class")).to.equal(null);
    const rows = page.locator("#notices tbody tr");
    expect(await rows.count()).to.equal(2);
    expect(await rows.nth(0).textContent())
      .to.contain("变更控制")
      .and.contain("已确认");
    const overdue = page.locator('#notices tr[data-overdue="true"]');
    expect(await overdue.textContent())
      .to.contain("审计发现")
      .and.contain("已逾期，未确认");
    expect(await unnamedControls(page)).to.deep.equal([]);
    await page.getByRole("button", { name: "Switch to English" }).click();
    await page.locator("h1", { hasText: "Quality agreement communication log" }).waitFor();
    expect(await page.locator("#terms").textContent())
      .to.contain("email")
      .and.contain("portal")
      .and.contain("1 hours");
    expect(await overdue.textContent())
      .to.contain("audit finding")
      .and.contain("overdue, not acknowledged");
    await page.getByRole("button", { name: "切换到中文" }).click();
    await screenshotBothLanguages(page, "communications");
  });

  it("uploads a document's bytes from the batch page, then the owner grants and revokes a reader, in Chinese and English", async () => {
    const { c } = stack.harness;
    stack.harness.setNow(Math.floor(Date.now() / 1000));
    const batchId = stack.harness.batches.unreleased.batchId;
    await signInAsDemo(page, stack.url, stack.nameOf(c.cmo), `/batches/${batchId}`);
    await page.locator("#upload").waitFor();
    await page.setInputFiles("#upload-file", { name: "not-on-ledger.txt", mimeType: "text/plain", buffer: Buffer.from("unrelated") });
    await page.getByRole("button", { name: "上传" }).click();
    await page.locator("#documents-outcome", { hasText: "DOCUMENT_NOT_ON_LEDGER" }).or(page.locator("#documents-outcome .alert")).first().waitFor();
    expect(await stack.harness.store.db.selectFrom("quality_documents").select("hash").execute()).to.deep.equal([]);

    await page.setInputFiles("#upload-file", { name: "DR-2026-044.txt", mimeType: "text/plain", buffer: report });
    await page.getByRole("button", { name: "上传" }).click();
    await page.locator("#documents-outcome", { hasText: "已上传：DR-2026-044.txt" }).waitFor();
    const item = page.locator(`#documents li[data-hash="${reportHash}"]`);
    expect(await item.textContent())
      .to.contain("DR-2026-044.txt")
      .and.contain("读者");
    const stored = await stack.harness.store.db.selectFrom("quality_documents").selectAll().execute();
    expect(stored.map((d) => [d.hash, d.size])).to.deep.equal([[reportHash, report.length]]);

    await page.locator(`#grant-${reportHash}`).fill(String(c.distributor.id));
    await page.getByRole("button", { name: "授权阅读" }).click();
    await page.locator("#documents-outcome", { hasText: `已授权机构 ${c.distributor.id} 阅读。` }).waitFor();
    await item.locator(`li[data-reader="${c.distributor.id}"]`).waitFor();
    await page.getByRole("button", { name: "Switch to English" }).click();
    await page.locator("#upload h3", { hasText: "Upload a quality document" }).waitFor();
    expect(await page.locator(`#documents li[data-hash="${reportHash}"]`).textContent()).to.contain("Readers");
    await page.getByRole("button", { name: `Revoke ${c.distributor.id}'s access` }).click();
    await page.locator("#documents-outcome", { hasText: `Organization ${c.distributor.id} may no longer read it.` }).waitFor();
    expect(await page.locator(`#documents li[data-hash="${reportHash}"] li[data-reader="${c.distributor.id}"]`).count()).to.equal(0);
    expect(await unnamedControls(page)).to.deep.equal([]);
    await page.getByRole("button", { name: "切换到中文" }).click();
  });

  it("shows the organization's quality overview and the product's quality file, the overdue CAPA marked, in Chinese and English", async () => {
    const { c } = stack.harness;
    const batchId = stack.harness.batches.unreleased.batchId;
    const { message, signature } = await c.sign("CorrectiveActions", "CapaRecord", c.mah.key, {
      organizationId: c.mah.id,
      batchId,
      reportHash,
      capaHash: keccak256(Buffer.from("CAPA-2026-044")),
      ownerId: c.mah.id,
      dueAt: (await c.relayer.provider!.getBlock("latest"))!.timestamp + 600,
    });
    await (await c.capas.recordCapa(message as never, signature)).wait();
    await stack.indexed();
    const capa = await stack.harness.store.db.selectFrom("capas").select("due_at").executeTakeFirstOrThrow();
    stack.harness.setNow(capa.due_at + 60);
    await signInAsDemo(page, stack.url, stack.nameOf(c.mah), `/organizations/${c.mah.id}/quality`);
    await page.locator("#quality-products").waitFor();
    const row = page.locator(`#quality-products tr[data-product="${c.productId}"]`);
    expect(await row.textContent()).to.contain("1（1 项逾期）");
    expect(await page.locator(`#quality-agreements tr[data-agreement="${c.agreementId}"]`).textContent()).to.contain("已会签");
    await row.getByRole("link").click();
    await page.locator("#capas").waitFor();
    expect(await page.locator('#capas tr[data-overdue="true"]').textContent()).to.contain("已逾期");
    await page.getByRole("button", { name: "Switch to English" }).click();
    await page.locator("h1", { hasText: "Product quality file" }).waitFor();
    expect(await page.locator('#capas tr[data-overdue="true"]').textContent()).to.contain("overdue, not yet checked");
    expect(await unnamedControls(page)).to.deep.equal([]);
    await page.getByRole("button", { name: "切换到中文" }).click();
  });
});
