import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { id as hashText, ZeroHash } from "ethers";
import { CaseStatus, PackState, SuspectOutcome } from "../../src/ledger";
import { caseKeyOf } from "../../src/supervision/cases";
import { alertKeyHash } from "../../src/ledger";
import { DAY, receive, releasedBatch, ship } from "../contracts/fixtures";
import { inspectionOf } from "../contracts/supervision-fixtures";
import type { Party } from "../contracts/fixtures";
import { changePackStates, provedPacks } from "../api/harness";
import { STORE_KINDS } from "../indexer/stores";
import { alertHarness } from "../alerts/harness";
import type { AlertHarness } from "../alerts/harness";

describe.each(STORE_KINDS)("alert cases and suspect-product reports through the indexer and the API (%s)", (kind) => {
  let h: AlertHarness;
  let stock: string;

  beforeAll(async () => {
    h = await alertHarness(kind);
    stock = (await releasedBatch(h.c, "CASES", 1000n)).batchId;
    await h.sync();
  });
  afterAll(async () => h?.close());

  const get = async (party: Party, path: string, status = 200) =>
    (
      await request(h.app)
        .get(path)
        .set("authorization", await h.bearer(party))
        .expect(status)
    ).body;

  /** A receipt one unit short: a medium alert about the shipper (the CMO). */
  async function shortReceipt() {
    const { shipmentId } = await ship(h.c, h.c.cmo, h.c.distributor2, stock, 2n);
    await receive(h.c, h.c.distributor2, h.c.cmo, stock, shipmentId, 2n, 1n);
    await h.sync();
    const alerts = await h.alerts("receipt_quantity_mismatch");
    return alerts.find((a) => a.subject === shipmentId)!;
  }

  async function take(by: Party, key: string, subjectId: number) {
    const alertKey = alertKeyHash(key);
    const { message, signature } = await h.c.sign("AlertCases", "AlertTaking", by.key, { organizationId: by.id, alertKey, subjectId });
    await h.c.alertCases.takeAlert(message as never, signature);
  }

  async function setStatus(by: Party, caseKey: string, status: number, reasonHash = ZeroHash) {
    const { message, signature } = await h.c.sign("AlertCases", "AlertStatusChange", by.key, { organizationId: by.id, caseKey, status, reasonHash });
    await h.c.alertCases.changeAlertStatus(message as never, signature);
  }

  async function rating(party: Party) {
    return (await get(h.regulator(), `/v1/risk-ratings/${party.id}`)) as { score: number; alerts: { id: number }[] };
  }

  it("a new alert's case is NEW, unowned and due by its severity; the organization takes it, investigates and closes it with a reason", async () => {
    const alert = await shortReceipt();
    const caseKey = caseKeyOf(alert);
    const listed = (await get(h.c.cmo, `/v1/alerts?rule=receipt_quantity_mismatch`)).alerts.find((a: { id: number }) => a.id === Number(alert.id));
    expect(listed.case).to.include({
      alertKey: alertKeyHash(alert.key),
      caseKey,
      ownerId: null,
      status: "NEW",
      dueAt: Number(alert.observed_at) + h.config.caseDueSeconds.medium,
    });
    const before = await rating(h.c.cmo);
    expect(before.alerts.map((a) => a.id)).to.include(Number(alert.id));

    await take(h.c.cmo, alert.key, h.c.cmo.id);
    await setStatus(h.c.cmo, caseKey, CaseStatus.UnderInvestigation);
    const reason = "counted again: the second carton held the missing unit";
    await request(h.app)
      .post("/v1/reasons")
      .set("authorization", await h.bearer(h.c.cmo))
      .send({ text: reason })
      .expect(201);
    await setStatus(h.c.cmo, caseKey, CaseStatus.Closed, hashText(reason));
    await h.sync();

    const shown = await get(h.regulator(), `/v1/alerts/${alert.id}`);
    expect(shown.case).to.include({ ownerId: h.c.cmo.id, status: "CLOSED", reason, overdue: false });
    expect(shown.history.map((s: { action: string; organizationId: number }) => [s.action, s.organizationId])).to.deep.equal([
      ["TAKEN", h.c.cmo.id],
      ["UNDER_INVESTIGATION", h.c.cmo.id],
      ["CLOSED", h.c.cmo.id],
    ]);
    expect(shown.history[2].reason).to.equal(reason);
    const after = await rating(h.c.cmo);
    expect(after.alerts.map((a) => a.id)).to.not.include(Number(alert.id));
    expect(after.score).to.equal(before.score - h.config.rating.weights.alert.medium);
  });

  it("the engine escalates an open case past its due date once, and tells the organization, the owner and the regulators", async () => {
    const alert = await shortReceipt();
    await take(h.regulator(), alert.key, h.c.cmo.id);
    await h.sync();
    const due = Number(alert.observed_at) + h.config.caseDueSeconds.medium;
    await h.engine.evaluateDeadlines(due - 1);
    expect(await h.store.db.selectFrom("alert_escalations").selectAll().where("alert_id", "=", alert.id).execute()).to.have.length(0);
    await h.engine.evaluateDeadlines(due + 1);
    await h.engine.evaluateDeadlines(due + 2 * DAY);
    const told = await h.store.db
      .selectFrom("notifications")
      .select("organization_id")
      .where("kind", "=", "alert.case_overdue")
      .where("alert_id", "=", alert.id)
      .execute();
    expect(told.map((n) => n.organization_id)).to.have.members([h.c.cmo.id, h.regulator().id, h.c.regulator2.id]);
    h.setNow(due + 3);
    const shown = await get(h.c.cmo, `/v1/alerts/${alert.id}`);
    expect(shown.case).to.include({ overdue: true, escalatedAt: due + 1, ownerId: h.regulator().id, status: "NEW" });
    h.setNow(Math.floor(Date.now() / 1000));
  });

  it("a distributor's suspect-product report on packs it locked tells the MAH and every province's regulators; a regulator terminates it", async () => {
    const { batchId, tree, packs } = h.batches.released;
    const keys = [packs[5]!.key];
    await changePackStates(h.c, h.c.distributor, batchId, tree, keys, PackState.Locked);
    const reason = "packaging differs from the reference sample";
    const proved = provedPacks(tree, keys);
    const { message, signature } = await h.c.sign("AlertCases", "SuspectReport", h.c.distributor.key, {
      organizationId: h.c.distributor.id,
      batchId,
      packs: proved.packs,
      reasonHash: hashText(reason),
    });
    await h.c.alertCases.fileSuspectReport(message as never, proved.proof, proved.proofFlags, signature);
    await h.sync();
    const reportId = await h.c.alertCases.suspectReportId(h.c.distributor.id, (message as { nonce: bigint }).nonce);
    const told = await h.store.db
      .selectFrom("notifications")
      .select("organization_id")
      .distinct()
      .where("kind", "=", "ledger.SuspectReportFiled")
      .execute();
    expect(told.map((n) => n.organization_id)).to.include.members([h.c.mah.id, h.regulator().id, h.c.regulator2.id, h.c.distributor.id]);

    const open = await get(h.c.mah, `/v1/suspect-reports?status=OPEN`);
    expect(open.reports.map((r: { id: string }) => r.id)).to.include(reportId);
    await get(h.c.distributor2, `/v1/suspect-reports/${reportId}`, 403);

    const termination = await h.c.sign("AlertCases", "SuspectTermination", h.c.regulator2.key, {
      regulatorId: h.c.regulator2.id,
      reportId,
      outcome: SuspectOutcome.Cleared,
      reasonHash: hashText("the MAH confirmed a packaging change"),
    });
    await h.c.alertCases.terminateSuspectReport(termination.message as never, termination.signature);
    await h.sync();
    const ended = await get(h.regulator(), `/v1/suspect-reports/${reportId}`);
    expect(ended).to.include({ status: "TERMINATED", outcome: "CLEARED", terminatedBy: h.c.regulator2.id, batchId, filedBy: h.c.distributor.id });
  });

  it("a scan answers LOCKED for a reported pack and SUSPECT for every pack of a batch reported whole, until a regulator terminates the report", async () => {
    const { batchId, printed } = h.batches.released;
    const verdictOf = async (code: string) => (await request(h.app).post("/v1/scans").send({ code }).expect(200)).body.verdict as string;
    expect(await verdictOf(printed[6]!)).to.equal("GENUINE");
    expect(await verdictOf(printed[5]!)).to.equal("LOCKED");
    const { message, signature } = await h.c.sign("AlertCases", "SuspectReport", h.c.mah.key, {
      organizationId: h.c.mah.id,
      batchId,
      packs: [],
      reasonHash: hashText("a complaint about the whole lot"),
    });
    await h.c.alertCases.fileSuspectReport(message as never, [], [], signature);
    await h.sync();
    expect(await verdictOf(printed[6]!)).to.equal("SUSPECT");
    const reportId = await h.c.alertCases.suspectReportId(h.c.mah.id, (message as { nonce: bigint }).nonce);
    const termination = await h.c.sign("AlertCases", "SuspectTermination", h.regulator().key, {
      regulatorId: h.regulator().id,
      reportId,
      outcome: SuspectOutcome.Cleared,
      reasonHash: hashText("complaint unfounded"),
    });
    await h.c.alertCases.terminateSuspectReport(termination.message as never, termination.signature);
    await h.sync();
    expect(await verdictOf(printed[6]!)).to.equal("GENUINE");
  });

  it("an inspection recorded by one province tells the regulators of the inspected organization's partner provinces", async () => {
    // Zhejiang inspects its CMO; the CMO makes for a Jiangsu MAH, so Jiangsu's regulator hears of it and may recognise it.
    const { message, signature } = await inspectionOf(h.c, h.c.regulator2);
    await h.c.supervision.recordInspection(message as never, signature);
    await h.sync();
    const told = await h.store.db
      .selectFrom("notifications")
      .select("organization_id")
      .distinct()
      .where("kind", "=", "ledger.InspectionRecorded")
      .execute();
    expect(told.map((n) => n.organization_id)).to.have.members([h.c.cmo.id, h.c.regulator2.id, h.c.regulator.id]);
  });

  it("a filer cannot undo the lock of a pack its open report holds, and the scan still answers LOCKED", async () => {
    const { batchId, tree, packs } = h.batches.released;
    const keys = [packs[7]!.key];
    await changePackStates(h.c, h.c.distributor, batchId, tree, keys, PackState.Locked);
    const proved = provedPacks(tree, keys);
    const { message, signature } = await h.c.sign("AlertCases", "SuspectReport", h.c.distributor.key, {
      organizationId: h.c.distributor.id,
      batchId,
      packs: proved.packs,
      reasonHash: hashText("seal broken"),
    });
    await h.c.alertCases.fileSuspectReport(message as never, proved.proof, proved.proofFlags, signature);
    await expect(changePackStates(h.c, h.c.distributor, batchId, tree, keys, PackState.Active))
      .to.be.revertedWithCustomError(h.c.batches, "PackLockHeldByReport")
      .withArgs(proved.packs[0]);
    await h.sync();
    expect((await request(h.app).post("/v1/scans").send({ code: h.batches.released.printed[7]! }).expect(200)).body.verdict).to.equal("LOCKED");
  });

  it("refuses an empty reason and answers 404 for an unknown alert or report", async () => {
    const cmo = await h.bearer(h.c.cmo);
    const empty = await request(h.app).post("/v1/reasons").set("authorization", cmo).send({ text: "  " }).expect(400);
    expect(empty.body.error.code).to.equal("INVALID_INPUT");
    expect((await get(h.c.cmo, "/v1/alerts/999999", 404)).error.code).to.equal("NO_SUCH_ALERT");
    expect((await get(h.c.cmo, `/v1/suspect-reports/${hashText("none")}`, 404)).error.code).to.equal("NO_SUCH_SUSPECT_REPORT");
    expect(await h.store.db.selectFrom("reason_texts").select("hash").where("text", "=", "  ").execute()).to.have.length(0);
  });
});
