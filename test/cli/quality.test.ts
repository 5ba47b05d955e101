import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import request from "supertest";
import { id as hashText, Wallet } from "ethers";
import type { BaseWallet } from "ethers";
import { DEFAULT_ALERT_CONFIG } from "../../src/alerts/config";
import { evaluateDeadlines } from "../../src/alerts/deadlines";
import { createApp } from "../../src/api/app";
import { createCodeBook } from "../../src/api/codebook";
import type { ApiServices } from "../../src/api/context";
import { createIndexer, createRpcSource } from "../../src/indexer";
import { DEFAULT_RECALL_DEADLINES, Role } from "../../src/ledger";
import { silentLogger } from "../../src/log";
import { deployConsortium, recordBatch, ZHEJIANG } from "../contracts/fixtures";
import type { Consortium, Party } from "../contracts/fixtures";
import { addMahKey, contractLaboratory, laboratoryTestedConsortium } from "../contracts/quality-fixtures";
import { tokenFor } from "../api/harness";
import { deploymentOf, serveChain } from "../indexer/chain";
import { freshStore } from "../indexer/stores";
import { answerOf, errorOf, hardhatAccountKey, trace, workDir, writeDeployment } from "./helpers";

/**
 * The quality duties through the CLI (straight to a node), the indexer and the API: each command changes the chain
 * as it says; each refusal names the contract's reason, exits 3 and sends nothing; bad arguments exit 2.
 */
describe("trace quality: CLI, indexer and API", () => {
  let c: Consortium & Awaited<ReturnType<typeof contractLaboratory>>;
  let chain: Awaited<ReturnType<typeof serveChain>>;
  const work = workDir();
  let deployment: string;
  const sender = hardhatAccountKey(3);
  let qp: BaseWallet;

  const cli = (party: Party | BaseWallet, ...argv: string[]) =>
    trace(
      { TRACE_PRIVATE_KEY: ("key" in party ? party.key : party).privateKey, TRACE_SENDER_KEY: sender },
      ...argv,
      "--deployment",
      deployment,
      "--json",
    );
  const blockNumber = () => hre.ethers.provider.getBlockNumber();
  /** A command refused by the ledger (exit 3) or for its arguments (exit 2: commander's message, or a JSON error). */
  async function refused(party: Party | BaseWallet, status: number, ...argv: string[]) {
    const before = await blockNumber();
    const result = await cli(party, ...argv);
    expect(await blockNumber(), "a refused command sends nothing").to.equal(before);
    if (status === 2 && result.stderr.startsWith("error:")) {
      expect(result.status).to.equal(2);
      return { code: "USAGE", message: result.stderr };
    }
    return errorOf(result, status);
  }

  beforeAll(async () => {
    chain = await serveChain();
    c = await laboratoryTestedConsortium(await deployConsortium());
    deployment = writeDeployment(work.file("deployment.json"), await deploymentOf(c), chain.url);
    qp = await addMahKey(c);
  });
  afterAll(async () => {
    await chain.close();
    work.remove();
  });

  it("classifies the product sterile, once; a CMO may not", async () => {
    expect(answerOf(await cli(c.mah, "quality", "classify", c.productId, "--class", "sterile"))).to.include({ attestation: "RiskClassification" });
    expect(await c.qualityDuties.riskClass(c.productId)).to.equal(2n);
    expect((await refused(c.mah, 3, "quality", "classify", c.productId, "--class", "vaccine")).code).to.equal("RISK_CLASS_ALREADY_SET");
    expect((await refused(c.cmo, 3, "quality", "classify", c.productId, "--class", "vaccine")).code).to.equal("ORGANIZATION_ROLE_MISMATCH");
    expect((await refused(c.mah, 2, "quality", "classify", c.productId, "--class", "dangerous")).message).to.contain("dangerous");
  });

  it("names the QP by a key of the MAH's; a stranger's key, an empty name or an unknown role is refused", async () => {
    const stranger = Wallet.createRandom().address;
    const error = await refused(c.mah, 3, "quality", "appoint", c.productId, "--person-key", stranger, "--role", "qp", "--name", "王敏");
    expect(error.code).to.equal("PERSON_KEY_NOT_OF_ORGANIZATION");
    expect(error.message).to.contain("add the person's key");
    expect((await refused(c.mah, 2, "quality", "appoint", c.productId, "--person-key", qp.address, "--role", "qp", "--name", " ")).code).to.equal(
      "EMPTY_PERSON_NAME",
    );
    await refused(c.mah, 2, "quality", "appoint", c.productId, "--person-key", qp.address, "--role", "boss", "--name", "王敏");
    await refused(c.mah, 2, "quality", "appoint", c.productId, "--person-key", "0x123", "--role", "qp", "--name", "王敏");
    answerOf(await cli(c.mah, "quality", "appoint", c.productId, "--person-key", qp.address, "--role", "qp", "--name", "王敏 Wang Min"));
    expect((await c.qualityDuties.person(c.productId, qp.address)).role).to.equal(1n);
  });

  it("takes a sterile, laboratory-tested batch through its records, certificate and the QP's release", async () => {
    const batchId = await recordBatch(c, "ST-CLI-1");
    const missing = await refused(c.cmo, 3, "release", "factory", batchId, "--certificate", "QA certificate");
    expect(missing.code).to.equal("STERILE_RECORDS_MISSING");
    expect(missing.message).to.contain("environmental-monitoring and cleaning records");
    answerOf(await cli(c.cmo, "quality", "sterile-records", batchId, "--environmental-monitoring", "EM cleanroom B", "--cleaning", "line 3"));
    expect((await refused(c.cmo, 3, "release", "factory", batchId, "--certificate", "QA certificate")).code).to.equal("TEST_CERTIFICATE_MISSING");
    const certify = ["quality", "certify", batchId, "--agreement", c.testingAgreementId, "--certificate", "CoA ST-CLI-1"];
    await refused(c.laboratory, 2, ...certify, "--result", "maybe");
    expect((await refused(c.cmo, 3, ...certify, "--result", "passed")).code).to.equal("ORGANIZATION_ROLE_MISMATCH");
    answerOf(await cli(c.laboratory, ...certify, "--result", "passed"));
    answerOf(await cli(c.cmo, "release", "factory", batchId, "--certificate", "QA certificate"));
    expect((await refused(qp, 3, "release", "market", batchId, "--decision", "release")).code).to.equal("RETAINED_SAMPLES_NOT_APPROVED");
    const { expiresAt } = await c.batches.batch(batchId);
    const tooShort = await refused(
      c.cmo,
      2,
      "quality",
      "samples",
      batchId,
      "--quantity",
      "12",
      "--location",
      "留样室 B-3",
      "--until",
      String(expiresAt),
    );
    expect(tooShort.code).to.equal("RETENTION_TOO_SHORT");
    await refused(c.cmo, 2, "quality", "samples", batchId, "--quantity", "0", "--location", "留样室 B-3", "--until", String(expiresAt));
    await refused(c.cmo, 2, "quality", "samples", batchId, "--quantity", "12", "--location", " ", "--until", String(expiresAt));
    expect((await refused(c.mah, 3, "quality", "approve-samples", batchId, "--approval", "ok")).code).to.equal("RETAINED_SAMPLES_NOT_RECORDED");
    const until = String(Number(expiresAt) + 366 * 86_400);
    answerOf(await cli(c.cmo, "quality", "samples", batchId, "--quantity", "12", "--location", "留样室 B-3", "--until", until));
    expect((await refused(c.cmo, 3, "quality", "approve-samples", batchId, "--approval", "ok")).code).to.equal("ORGANIZATION_ROLE_MISMATCH");
    answerOf(await cli(c.mah, "quality", "approve-samples", batchId, "--approval", "留样批准"));
    expect(await c.qualityDuties.retainedSamples(batchId)).to.deep.equal([true, true]);
    const notQp = await refused(c.mah, 3, "release", "market", batchId, "--decision", "release");
    expect(notQp.code).to.equal("RELEASE_NOT_BY_QUALIFIED_PERSON");
    const misnamed = await refused(qp, 2, "release", "market", batchId, "--decision", "release", "--signer-name", "王敏");
    expect(misnamed.code).to.equal("RELEASE_SIGNER_NAME_MISMATCH");
    expect((await c.batches.batch(batchId)).state).to.equal(2n);
    // straight to a node there is no release review to read the appointment from: the QP names herself (role qp)
    expect(answerOf(await cli(qp, "release", "market", batchId, "--decision", "release", "--signer-name", "王敏 Wang Min"))).to.include({
      signerName: "王敏 Wang Min",
      signerRole: "QUALIFIED_PERSON",
    });
    expect((await c.batches.batch(batchId)).state).to.equal(3n);
  });

  it("files a quarterly review once; a bad quarter or risk level is refused before anything is sent", async () => {
    const review = ["quality", "review", c.productId, "--risk", "medium", "--review", "Q3 review"];
    answerOf(await cli(c.mah, ...review, "--quarter", "2026Q3"));
    expect(await c.qualityDuties.isQualityReviewFiled(c.productId, 2026, 3)).to.equal(true);
    expect((await refused(c.mah, 3, ...review, "--quarter", "2026Q3")).code).to.equal("QUALITY_REVIEW_ALREADY_FILED");
    await refused(c.mah, 2, ...review, "--quarter", "2026Q5");
    await refused(c.mah, 2, "quality", "review", c.productId, "--risk", "none", "--review", "x", "--quarter", "2026Q2");
  });

  let acknowledged: string;
  let unanswered: string;
  it("keeps the quality agreement's communication log: agreed channels, a notice each way, one acknowledged", async () => {
    const notify = (channel: string) => [
      "quality",
      "notify",
      c.agreementId,
      "--kind",
      "change-control",
      "--channel",
      channel,
      "--notice",
      "CC-2025-014",
    ];
    expect((await refused(c.cmo, 3, ...notify("portal"))).code).to.equal("COMMUNICATION_TERMS_MISSING");
    await refused(c.mah, 2, "quality", "terms", c.agreementId, "--channels", "email,pigeon", "--response-hours", "48", "--clause", "clause 9");
    await refused(c.mah, 2, "quality", "terms", c.agreementId, "--channels", "email", "--response-hours", "0", "--clause", "clause 9");
    expect(
      (await refused(c.cmo, 3, "quality", "terms", c.agreementId, "--channels", "email", "--response-hours", "48", "--clause", "x")).code,
    ).to.equal("ORGANIZATION_ROLE_MISMATCH");
    answerOf(await cli(c.mah, "quality", "terms", c.agreementId, "--channels", "email,portal", "--response-hours", "48", "--clause", "clause 9"));
    expect((await refused(c.cmo, 3, ...notify("portal"))).code).to.equal("COMMUNICATION_TERMS_NOT_COUNTERSIGNED");
    const countersign = ["quality", "countersign", c.agreementId, "--response-hours", "48", "--clause", "clause 9", "--channels"];
    expect((await refused(c.cmo, 3, ...countersign, "email")).code).to.equal("COMMUNICATION_TERMS_MISMATCH");
    expect((await refused(c.mah, 3, ...countersign, "email,portal")).code).to.equal("ORGANIZATION_ROLE_MISMATCH");
    answerOf(await cli(c.cmo, ...countersign, "email,portal"));
    expect((await c.qualityDuties.communicationTerms(c.agreementId)).countersigned).to.equal(true);
    expect((await refused(c.cmo, 3, ...notify("phone"))).code).to.equal("CHANNEL_NOT_AGREED");
    await refused(c.cmo, 2, "quality", "notify", c.agreementId, "--kind", "gossip", "--channel", "portal", "--notice", "x");
    acknowledged = answerOf(await cli(c.cmo, ...notify("portal"))).noticeId as string;
    expect((await c.qualityDuties.notice(acknowledged)).recipientId).to.equal(BigInt(c.mah.id));
    expect((await refused(c.cmo, 3, "quality", "acknowledge", acknowledged, "--response", "ok")).code).to.equal("NOT_NOTICE_RECIPIENT");
    answerOf(await cli(c.mah, "quality", "acknowledge", acknowledged, "--response", "received, assessing"));
    expect((await refused(c.mah, 3, "quality", "acknowledge", acknowledged, "--response", "again")).code).to.equal("NOTICE_ALREADY_ACKNOWLEDGED");
    unanswered = answerOf(
      await cli(c.mah, "quality", "notify", c.agreementId, "--kind", "audit-finding", "--channel", "email", "--notice", "audit 2025-03"),
    ).noticeId as string;
  });

  it("lists the product as a shortage drug and reports its stop before the stop; a late report is refused", async () => {
    const stopAt = async (days: number) => String((await hre.ethers.provider.getBlock("latest"))!.timestamp + days * 86_400);
    expect((await refused(c.mah, 3, "quality", "stop-report", c.productId, "--stop", await stopAt(90), "--report", "stop")).code).to.equal(
      "PRODUCT_NOT_SHORTAGE_LISTED",
    );
    expect((await refused(c.cmo, 3, "quality", "shortage", c.productId, "--basis", "list 2026")).code).to.equal("NOT_SHORTAGE_LISTER");
    answerOf(await cli(c.regulator, "quality", "shortage", c.productId, "--basis", "国家短缺药品清单 2026"));
    expect(await c.qualityDuties.isShortageListed(c.productId)).to.equal(true);
    const late = await refused(c.mah, 3, "quality", "stop-report", c.productId, "--stop", await stopAt(-1), "--report", "stop");
    expect(late.code).to.equal("STOP_PRODUCTION_REPORT_LATE");
    expect(late.message).to.contain("due before the stop");
    await refused(c.mah, 2, "quality", "stop-report", c.productId, "--stop", "someday", "--report", "stop");
    const stop = await stopAt(90);
    answerOf(await cli(c.mah, "quality", "stop-report", c.productId, "--stop", stop, "--report", "停产报告"));
    expect(await c.qualityDuties.reportedStopAt(c.productId)).to.equal(BigInt(stop));
  });

  it("onboards a laboratory and signs a testing agreement with it from the CLI", async () => {
    const lab = Wallet.createRandom();
    const onboarded = answerOf(
      await cli(
        c.regulator,
        "organizations",
        "onboard",
        "--role",
        "laboratory",
        "--region",
        String(ZHEJIANG),
        "--name",
        "Hangzhou Lab",
        "--licence",
        "L-1",
        "--key",
        lab.address,
      ),
    );
    expect((await c.registry.organization(onboarded.onboardedOrganizationId)).role).to.equal(BigInt(Role.Laboratory));
  });

  /** Indexes the chain into a fresh store and runs `use` against the API over it. */
  async function overApi(use: (app: ReturnType<typeof createApp>, store: Awaited<ReturnType<typeof freshStore>>) => Promise<void>) {
    const store = await freshStore("sqlite");
    const source = createRpcSource(chain.url);
    try {
      await createIndexer({ source, store, deployment: await deploymentOf(c), log: silentLogger() }).catchUp();
      const services: ApiServices = {
        store,
        log: silentLogger(),
        config: {
          secret: randomBytes(32),
          tokenLifetime: 900,
          recallDeadlines: DEFAULT_RECALL_DEADLINES,
          publicRateLimit: 10_000,
          dataDir: work.dir,
          publicUrl: "https://ledger.example.cn",
        },
        codes: createCodeBook(store, work.dir),
        now: () => Math.floor(Date.now() / 1000),
        deployment: await deploymentOf(c),
      };
      try {
        await use(createApp(services), store);
      } finally {
        services.codes.close();
      }
    } finally {
      source.close();
      await store.close();
    }
  }

  it("indexes the duties and answers them through the API to the parties, not to a distributor", async () => {
    await overApi(async (app, store) => {
      const mah = await tokenFor(app, c.mah);
      const product = await request(app).get(`/v1/products/${c.productId}/quality`).set("authorization", `Bearer ${mah}`).expect(200);
      expect(product.body).to.include({ riskClass: "STERILE", sterileRecordsRequired: true });
      expect(product.body.responsiblePersons).to.deep.include({
        key: qp.address.toLowerCase(),
        name: "王敏 Wang Min",
        role: "QUALIFIED_PERSON",
        revoked: false,
        appointedAt: product.body.responsiblePersons[0].appointedAt,
        revokedAt: null,
      });
      expect(
        product.body.qualityReviews.map((r: { year: number; quarter: number; riskLevel: string }) => [r.year, r.quarter, r.riskLevel]),
      ).to.deep.equal([[2026, 3, "MEDIUM"]]);
      const batchId = await c.batches.batchId(c.productId, "ST-CLI-1");
      const cmo = await tokenFor(app, c.cmo);
      const batch = await request(app).get(`/v1/batches/${batchId}/quality`).set("authorization", `Bearer ${cmo}`).expect(200);
      expect(batch.body.sterileRecords.environmentalMonitoringHash).to.equal(hashText("EM cleanroom B"));
      expect(batch.body.testCertificate).to.include({ passed: true, testingAgreementId: c.testingAgreementId });
      expect(batch.body.testCertificate.laboratory.name).to.equal("Zhejiang Drug Testing Laboratory");
      expect(batch.body.marketReleasedBy.person).to.include({ name: "王敏 Wang Min", role: "QUALIFIED_PERSON" });
      expect(batch.body.marketReleasedBy).to.include({ signerName: "王敏 Wang Min", signerRole: "QUALIFIED_PERSON" });
      expect(batch.body.retainedSamples).to.include({ quantity: 12, location: "留样室 B-3", approvedBy: c.mah.id });
      expect(product.body).to.include({ shortageListed: true });
      expect(product.body.stopProductionReports).to.have.length(1);
      const overview = await request(app).get(`/v1/organizations/${c.mah.id}/quality`).set("authorization", `Bearer ${mah}`).expect(200);
      expect(overview.body.products.find((p: { productId: string }) => p.productId === c.productId)).to.include({
        riskClass: "STERILE",
        shortageListed: true,
      });
      expect(overview.body.agreements.find((a: { agreementId: string }) => a.agreementId === c.agreementId)).to.include({
        countersigned: true,
        openNotices: 1,
      });
      const cmoOverview = await request(app).get(`/v1/organizations/${c.cmo.id}/quality`).set("authorization", `Bearer ${cmo}`).expect(200);
      expect(cmoOverview.body.products.map((p: { productId: string }) => p.productId)).to.include(c.productId);
      const notOwn = await request(app).get(`/v1/organizations/${c.mah.id}/quality`).set("authorization", `Bearer ${cmo}`).expect(403);
      expect(notOwn.body.error.code).to.equal("NOT_YOUR_ORGANIZATION");
      await request(app)
        .get(`/v1/organizations/999999/quality`)
        .set("authorization", `Bearer ${await tokenFor(app, c.regulator)}`)
        .expect(404);

      const distributor = await tokenFor(app, c.distributor);
      const refused = await request(app).get(`/v1/products/${c.productId}/quality`).set("authorization", `Bearer ${distributor}`).expect(403);
      expect(refused.body.error.code).to.equal("NOT_YOUR_PRODUCT");
      await request(app).get(`/v1/products/0x1234/quality`).set("authorization", `Bearer ${mah}`).expect(400);
      await request(app)
        .get(`/v1/products/${hashText("nothing")}/quality`)
        .set("authorization", `Bearer ${mah}`)
        .expect(404);
      await request(app).get(`/v1/products/${c.productId}/quality`).expect(401);
      const lab = await tokenFor(app, c.laboratory);
      await request(app).get(`/v1/products/${c.productId}/quality`).set("authorization", `Bearer ${lab}`).expect(200);

      const log = await request(app).get(`/v1/agreements/${c.agreementId}/communications`).set("authorization", `Bearer ${cmo}`).expect(200);
      expect(log.body.terms).to.include({ responseSeconds: 48 * 3600, recordedBy: c.mah.id, countersignedBy: c.cmo.id });
      expect(log.body.terms.channels).to.deep.equal(["EMAIL", "PORTAL"]);
      expect(
        log.body.notices.map((n: { id: string; kind: string; acknowledgedAt: number | null }) => [n.id, n.kind, n.acknowledgedAt !== null]),
      ).to.deep.equal([
        [acknowledged, "CHANGE_CONTROL", true],
        [unanswered, "AUDIT_FINDING", false],
      ]);
      await request(app).get(`/v1/agreements/${c.agreementId}/communications`).set("authorization", `Bearer ${distributor}`).expect(403);
      await request(app).get(`/v1/agreements/${c.testingAgreementId}/communications`).set("authorization", `Bearer ${mah}`).expect(404);
      const due = log.body.notices[1].dueAt as number;
      const overdue = async (now: number) =>
        (await store.db.transaction().execute((trx) => evaluateDeadlines(trx, DEFAULT_ALERT_CONFIG, now))).drafts.filter(
          (d) => d.rule === "notice_acknowledgement_overdue",
        );
      expect(await overdue(due - 1)).to.deep.equal([]);
      const late = await overdue(due + 3600);
      expect(late.map((d) => [d.subject, d.organizationId, d.notify])).to.deep.equal([[unanswered, c.cmo.id, [c.mah.id]]]);
    });
  });

  it("shows red on the release review what the contract would refuse, and records the MAH's refusal of release", async () => {
    const batchId = await recordBatch(c, "ST-CLI-2");
    const inFactory = await recordBatch(c, "ST-CLI-3");
    answerOf(await cli(c.cmo, "quality", "sterile-records", batchId, "--environmental-monitoring", "EM B", "--cleaning", "line 3"));
    answerOf(
      await cli(c.laboratory, "quality", "certify", batchId, "--agreement", c.testingAgreementId, "--certificate", "CoA 2", "--result", "passed"),
    );
    answerOf(await cli(c.cmo, "release", "factory", batchId, "--certificate", "QA certificate"));
    const { expiresAt } = await c.batches.batch(batchId);
    const until = String(Number(expiresAt) + 366 * 86_400);
    answerOf(await cli(c.cmo, "quality", "samples", batchId, "--quantity", "6", "--location", "留样室 B-3", "--until", until));
    answerOf(await cli(c.mah, "quality", "approve-samples", batchId, "--approval", "留样批准 ST-CLI-2"));
    const review = async (app: ReturnType<typeof createApp>, who: Party, id: string) =>
      (
        await request(app)
          .get(`/v1/batches/${id}/release-review`)
          .set("authorization", `Bearer ${await tokenFor(app, who)}`)
          .expect(200)
      ).body;
    const red = (body: { gates: { gate: string; passed: boolean }[] }) => body.gates.filter((g) => !g.passed).map((g) => g.gate);
    const qpParty = { ...c.mah, key: qp } as unknown as Party;
    await overApi(async (app) => {
      // Signed in with the MAH's own key, not its QP's: QualityDuties.checkMarketRelease would refuse it.
      const mahView = await review(app, c.mah, batchId);
      expect([red(mahView), mahView.releasable]).to.deep.equal([["qualifiedPerson"], false]);
      expect(mahView.qualityDuties).to.deep.include({ qualifiedPersonSigns: true, signerKey: c.mah.key.address.toLowerCase() });
      expect(mahView.qualityDuties.qualifiedPersons).to.deep.equal([{ key: qp.address.toLowerCase(), name: "王敏 Wang Min" }]);
      const qpView = await review(app, qpParty, batchId);
      expect([red(qpView), qpView.releasable]).to.deep.equal([[], true]);
      // Still in the factory, without its sterile records, certificate or approved retained samples: those duties are red.
      expect(red(await review(app, c.cmo, inFactory))).to.deep.equal(["factoryRelease", "sterileRecords", "testCertificate", "retainedSamples"]);
    });
    expect((await refused(c.mah, 3, "release", "market", batchId, "--decision", "release")).code).to.equal("RELEASE_NOT_BY_QUALIFIED_PERSON");

    await refused(c.mah, 2, "release", "refuse", batchId);
    expect((await refused(c.cmo, 3, "release", "refuse", batchId, "--reason", "not yours")).code).to.equal("NOT_BATCH_MAH");
    answerOf(await cli(c.mah, "release", "refuse", batchId, "--reason", "OOS confirmed: reject"));
    expect((await c.batches.batch(batchId)).state).to.equal(4n);
    const again = await refused(qp, 3, "release", "market", batchId, "--decision", "release");
    expect(again.code).to.equal("BATCH_REJECTED");
    expect(again.message).to.contain(
      "was refused market release by its MAH (rejected, to be destroyed): it can never be released, shipped or dispensed",
    );
    expect((await refused(c.cmo, 3, "ship", batchId, "--to", String(c.distributor.id), "--quantity", "1")).code).to.equal("BATCH_REJECTED");
    await overApi(async (app) => {
      const token = await tokenFor(app, c.mah);
      const batch = (await request(app).get(`/v1/batches/${batchId}`).set("authorization", `Bearer ${token}`).expect(200)).body;
      expect(batch.state).to.equal("REJECTED");
      expect(batch.releaseRefusal.reasonHash).to.equal(hashText("OOS confirmed: reject"));
      expect((await review(app, qpParty, batchId)).releasable).to.equal(false);
    });
  });
});
