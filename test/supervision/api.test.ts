import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { InspectionGrade, RiskClass } from "../../src/ledger";
import { alertHarness } from "../alerts/harness";
import type { AlertHarness } from "../alerts/harness";
import { DAY, recordBatch } from "../contracts/fixtures";
import { inspectionIdOf, inspectionOf, now, pendingAgreement, recognise, recordLicence, sampling } from "../contracts/supervision-fixtures";
import { answerOf, errorOf, trace } from "../cli/helpers";
import { STORE_KINDS } from "../indexer/stores";
import { classifyProduct } from "../contracts/quality-fixtures";

/**
 * Regulators' records through the read API, the rating engine and the CLI's reads: a Zhejiang inspection of the
 * CMO that Jiangsu recognises, a failed sampling, a licence close to expiry, a cross-province agreement awaiting
 * review; ratings with their contributions, their history and the regulators told when one changes.
 */
describe.each(STORE_KINDS)("supervision API (%s)", (kind) => {
  let h: AlertHarness;
  let inspectionId: string;
  let pendingId: string;
  let server: Server;
  let api: string;

  beforeAll(async () => {
    h = await alertHarness(kind);
    const { c } = h;
    await h.sync();
    await h.engine.evaluateDeadlines(h.clock.now);
    await recordLicence(c, c.regulator, c.mah.id, (await now(c)) + 30 * DAY);
    const { message, signature } = await inspectionOf(c, c.regulator2, { criticalFindings: 1, grade: InspectionGrade.NonCompliant });
    await c.supervision.recordInspection(message as never, signature);
    inspectionId = inspectionIdOf(c.regulator2, message.nonce);
    await recognise(c, c.regulator, inspectionId);
    await sampling(c, c.regulator, await recordBatch(c, "SAMPLED-1"));
    pendingId = (await pendingAgreement(c)).agreementId;
    await classifyProduct(c, RiskClass.Vaccine);
    await h.sync();
    // The engine's clock moves forward only, as real time does: the chain's may lag behind it.
    h.clock.now = Math.max(h.clock.now + 1, await now(c));
    await h.engine.evaluateDeadlines(h.clock.now);
    server = h.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.close();
    await h?.close();
  });

  it("shows an inspection to every regulator with the provinces that recognise it, and an organization only its own", async () => {
    const res = await request(h.app)
      .get("/v1/inspections")
      .set("authorization", await h.bearer(h.c.regulator))
      .expect(200);
    const [inspection] = res.body.inspections;
    expect(inspection).to.deep.include({ id: inspectionId, province: 330000, grade: "NON_COMPLIANT" });
    expect(inspection.recognisedBy.map((r: { province: number }) => r.province)).to.deep.equal([320000]);
    const own = await request(h.app)
      .get("/v1/inspections")
      .set("authorization", await h.bearer(h.c.cmo))
      .expect(200);
    expect(own.body.inspections.map((i: { id: string }) => i.id)).to.deep.equal([inspectionId]);
    const other = await request(h.app)
      .get(`/v1/inspections?organizationId=${h.c.cmo.id}`)
      .set("authorization", await h.bearer(h.c.distributor))
      .expect(403);
    expect(other.body.error.code).to.equal("NOT_YOUR_ORGANIZATION");
  });

  it("rates the CMO from its inspection and the failed sampling, each contribution with its points and facts", async () => {
    const res = await request(h.app)
      .get(`/v1/risk-ratings/${h.c.cmo.id}`)
      .set("authorization", await h.bearer(h.c.regulator2))
      .expect(200);
    const points = Object.fromEntries(res.body.contributions.map((c: { source: string; points: number }) => [c.source, c.points]));
    const { weights } = h.config.rating;
    expect(points.inspections).to.equal(weights.inspectionGrade.NON_COMPLIANT + weights.criticalFinding + weights.majorFinding);
    expect(points.sampling).to.equal(weights.samplingFailure);
    expect(res.body.score).to.equal(Object.values(points).reduce((a: number, b) => a + (b as number), 0));
    expect(res.body.rating).to.equal("red");
    expect(res.body.inspectionsPerYear).to.equal(h.config.rating.inspectionsPerYear.red);
    const mah = await request(h.app)
      .get(`/v1/risk-ratings/${h.c.mah.id}`)
      .set("authorization", await h.bearer(h.c.mah))
      .expect(200);
    const licence = mah.body.contributions.find((c: { source: string }) => c.source === "licence");
    expect(licence.points).to.equal(weights.licenceExpiringSoon);
    // Both hold or make a vaccine, the riskiest class; an organization with no classified product adds nothing.
    for (const body of [res.body, mah.body]) {
      const productRisk = body.contributions.find((c: { source: string }) => c.source === "productRisk");
      expect(productRisk).to.include({ points: 3 * weights.productRisk, detail: "its riskiest product is vaccine" });
    }
    const distributor = await request(h.app)
      .get(`/v1/risk-ratings/${h.c.distributor.id}`)
      .set("authorization", await h.bearer(h.c.regulator))
      .expect(200);
    expect(distributor.body.contributions.find((c: { source: string }) => c.source === "productRisk")).to.include({ points: 0 });
  });

  it("records the rating's change in its history and tells the regulators of the organization's province", async () => {
    const history = await h.store.db.selectFrom("risk_ratings").selectAll().where("organization_id", "=", h.c.cmo.id).orderBy("rated_at").execute();
    expect(history.map((r) => r.level).at(-1)).to.equal("red");
    const told = await h.store.db.selectFrom("notifications").selectAll().where("kind", "=", "rating.changed").execute();
    const aboutCmo = told.filter((n) => JSON.parse(n.payload).organizationId === h.c.cmo.id);
    expect(aboutCmo.map((n) => n.organization_id)).to.include(h.c.regulator2.id);
    expect(aboutCmo.map((n) => n.organization_id)).not.to.include(h.c.regulator.id);
    expect(JSON.parse(aboutCmo.at(-1)!.payload)).to.include({ rating: "red", inspectionsPerYear: 4 });
    // Nothing changed since: a second pass records and tells nothing more.
    const before = told.length;
    await h.engine.evaluateDeadlines(h.clock.now);
    expect(await h.store.db.selectFrom("notifications").selectAll().where("kind", "=", "rating.changed").execute()).to.have.length(before);
  });

  it("files everything about one enterprise: licence, agreements under review, inspections, samplings, batches, rating history", async () => {
    const res = await request(h.app)
      .get(`/v1/organizations/${h.c.mah.id}/file`)
      .set("authorization", await h.bearer(h.c.regulator))
      .expect(200);
    expect(res.body.organization.licence.state).to.equal("EXPIRING");
    expect(res.body.organization.licence.history).to.have.length(1);
    const approvals = Object.fromEntries(res.body.agreements.map((a: { id: string; approval: string }) => [a.id, a.approval]));
    expect(approvals[h.c.agreementId]).to.equal("APPROVED");
    expect(approvals[pendingId]).to.equal("AWAITING_OPINION");
    expect(res.body.samplings.map((s: { passed: boolean }) => s.passed)).to.deep.equal([false]);
    expect(res.body.batches.length).to.be.greaterThan(0);
    expect(res.body.rating.contributions.length).to.be.greaterThan(0);
    expect(res.body.ratingHistory.length).to.be.greaterThan(0);
    await request(h.app)
      .get(`/v1/organizations/${h.c.mah.id}/file`)
      .set("authorization", await h.bearer(h.c.distributor))
      .expect(403);
  });

  it("trace inspections list and trace ratings show read the same, signed in; without a key they say so", async () => {
    const env = { TRACE_PRIVATE_KEY: h.c.regulator.key.privateKey };
    const listed = answerOf(await trace(env, "inspections", "list", "--api", api, "--json"));
    expect(listed.inspections.map((i: { id: string }) => i.id)).to.deep.equal([inspectionId]);
    const rating = answerOf(await trace(env, "ratings", "show", String(h.c.cmo.id), "--api", api, "--json"));
    expect(rating.rating).to.equal("red");
    const table = await trace(env, "ratings", "show", "--api", api);
    expect(table.status).to.equal(0);
    expect(table.stdout).to.include("inspections +");
    expect(errorOf(await trace({}, "ratings", "show", "--api", api, "--json"), 2).code).to.equal("KEY_REQUIRED");
  });
});
