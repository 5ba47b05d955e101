import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { id as hashText } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { RecallLevel, Role } from "../../src/ledger";
import {
  acknowledgeRecall,
  closeRecall,
  DAY,
  GTIN,
  handOver,
  onboard,
  receive,
  recordBatch,
  releasedBatch,
  registerProduct,
  releaseFromFactory,
  placeHold,
  releaseHold,
  releaseToMarket,
  revokeAgreement,
  ship,
  signQualityAgreement,
  JIANGSU,
  SHANGHAI,
  startRecall,
} from "../contracts/fixtures";
import { STORE_KINDS } from "../indexer/stores";
import { packsFor } from "../api/harness";
import { alertHarness, closeDeviation, openDeviation } from "./harness";
import type { AlertHarness } from "./harness";

describe.each(STORE_KINDS)("early-warning rules (%s)", (kind) => {
  let h: AlertHarness;
  /** A released batch of 1000 at the CMO, to ship from. */
  let stock: string;

  beforeAll(async () => {
    h = await alertHarness(kind);
    stock = (await releasedBatch(h.c, "STOCK", 1000n)).batchId;
    await h.sync();
  });
  afterAll(async () => h?.close());

  /** The organizations told of ledger events of `kind` about `batchId`. */
  const recipientsOf = async (kind: string, batchId: string) => {
    const rows = await h.store.db
      .selectFrom("notifications")
      .select("organization_id")
      .distinct()
      .where("kind", "=", kind)
      .where("payload", "like", `%"batchId":"${batchId}"%`)
      .execute();
    return rows.map((r) => r.organization_id);
  };

  describe("ledger event notifications", () => {
    it("tells every holder of a recalled batch, its MAH and CMO, and the regulators of every province it touched", async () => {
      // The recalled batch: held by the CMO and the distributor (Jiangsu), one unit on its way to distributor2 (Shanghai).
      expect(await recipientsOf("ledger.RecallStarted", h.batches.recalled.batchId)).to.have.members([
        h.c.mah.id,
        h.c.cmo.id,
        h.c.distributor.id,
        h.c.distributor2.id,
        h.c.regulator.id,
        h.c.regulator2.id,
      ]);
    });

    it("tells the parties of a shipment, not organizations with no part in it", async () => {
      const told = await recipientsOf("ledger.BatchShipped", h.batches.recalled.batchId);
      expect(told).to.include.members([h.c.cmo.id, h.c.distributor.id, h.c.distributor2.id, h.c.mah.id]);
      expect(told).to.not.include(h.c.dispenser.id);
    });
  });

  describe("quality", () => {
    it("flags a receipt short of what was shipped, to shipper, recipient, MAH and the provinces' regulators", async () => {
      const batchId = stock;
      const { shipmentId } = await ship(h.c, h.c.cmo, h.c.distributor2, batchId, 2n);
      await receive(h.c, h.c.distributor2, h.c.cmo, batchId, shipmentId, 2n, 1n);
      await h.sync();
      const [alert] = await h.alerts("receipt_quantity_mismatch");
      expect(alert).to.include({ organization_id: h.c.cmo.id, subject: shipmentId, batch_id: batchId, status: "open" });
      expect(JSON.parse(alert!.details)).to.include({ shipped: 2, received: 1 });
      const told = await h.store.db.selectFrom("notifications").select("organization_id").where("alert_id", "=", alert!.id).execute();
      expect(told.map((n) => n.organization_id)).to.have.members([h.c.cmo.id, h.c.distributor2.id, h.c.mah.id, h.c.regulator.id, h.c.regulator2.id]);
    });

    it("does not flag a receipt in full", async () => {
      await handOver(h.c, h.c.cmo, h.c.distributor2, stock, 1n);
      await h.sync();
      expect(await h.alerts("receipt_quantity_mismatch")).to.have.length(1);
    });

    it("flags a batch shipped within 90 days of expiry, and not one with years left", async () => {
      const now = await time.latest();
      const codes = await packsFor("NEAR-EXPIRY", 4);
      const nearExpiry = await recordBatch(h.c, "NEAR-EXPIRY", { quantity: 4n, codesRoot: codes.tree.root, expiresAt: now + 30 * DAY });
      await releaseFromFactory(h.c, nearExpiry);
      await releaseToMarket(h.c, nearExpiry);
      await handOver(h.c, h.c.cmo, h.c.distributor, nearExpiry, 2n);
      await handOver(h.c, h.c.cmo, h.c.distributor, stock, 1n);
      await h.sync();
      const alerts = await h.alerts("shipped_near_expiry");
      expect(alerts.map((a) => a.batch_id)).to.deep.equal([nearExpiry]);
      expect(alerts[0]!.organization_id).to.equal(h.c.cmo.id);
    });

    it("flags deviations closed just before market release, and not ones closed days before", async () => {
      const hurried = await recordBatch(h.c, "HURRIED");
      const report = await openDeviation(h.c, h.c.cmo, hurried, "hurried");
      await closeDeviation(h.c, h.c.cmo, hurried, report);
      await releaseFromFactory(h.c, hurried);
      await releaseToMarket(h.c, hurried);
      const patient = await recordBatch(h.c, "PATIENT");
      const settled = await openDeviation(h.c, h.c.cmo, patient, "patient");
      await closeDeviation(h.c, h.c.cmo, patient, settled);
      await time.increase(3 * DAY);
      await releaseFromFactory(h.c, patient);
      await releaseToMarket(h.c, patient);
      await h.sync();
      const alerts = await h.alerts("deviation_closed_before_release");
      expect(alerts.map((a) => a.batch_id)).to.deep.equal([hurried]);
      expect(alerts[0]!.organization_id).to.equal(h.c.mah.id);
    });

    it("flags a CMO whose deviations recur across clients, not one whose deviations stay with one client", async () => {
      // Two deviations so far, both for one MAH (above); a third for the same MAH is not yet a pattern across clients.
      const single = await recordBatch(h.c, "ONE-CLIENT");
      await openDeviation(h.c, h.c.cmo, single, "one client");
      await h.sync();
      expect(await h.alerts("cmo_recurring_deviations")).to.have.length(0);
      const mah2 = await onboard(h.c, Role.Mah, JIANGSU, "Wuxi Second MAH");
      const product2 = await registerProduct(h.c, mah2, "06901234567908");
      const agreement2 = await signQualityAgreement(h.c, mah2, h.c.cmo, product2);
      await recordBatch(h.c, "OTHER-CLIENT", { agreementId: agreement2 });
      const otherBatch = await h.c.batches.batchId(product2, "OTHER-CLIENT");
      await openDeviation(h.c, h.c.cmo, otherBatch, "other client");
      await h.sync();
      const alerts = await h.alerts("cmo_recurring_deviations");
      expect(alerts).to.have.length(1);
      expect(alerts[0]).to.include({ organization_id: h.c.cmo.id, batch_id: otherBatch });
      expect(JSON.parse(alerts[0]!.details).clients).to.deep.equal([h.c.mah.id, mah2.id].sort((a, b) => a - b));
    });

    it("flags batches awaiting release under a revoked agreement, not released ones", async () => {
      const agreement = await signQualityAgreement(h.c, h.c.mah, h.c.cmo, h.c.productId, { documentHash: hashText("second agreement") });
      const waiting = await recordBatch(h.c, "UNDER-REVOKED", { agreementId: agreement });
      const released = await recordBatch(h.c, "RELEASED-BEFORE", { agreementId: agreement });
      await releaseFromFactory(h.c, released);
      await releaseToMarket(h.c, released);
      await revokeAgreement(h.c, h.c.mah, agreement);
      await h.sync();
      const alerts = await h.alerts("agreement_not_in_force");
      expect(alerts.map((a) => a.batch_id)).to.deep.equal([waiting]);
      expect(alerts[0]).to.include({ organization_id: h.c.cmo.id, subject: agreement });
      // The revocation itself reaches both parties and the regulators of both provinces.
      const told = await h.store.db.selectFrom("notifications").select("organization_id").where("kind", "=", "ledger.AgreementRevoked").execute();
      expect(told.map((n) => n.organization_id)).to.have.members([h.c.mah.id, h.c.cmo.id, h.c.regulator.id, h.c.regulator2.id]);
    });
  });

  describe("recall reconciliation", () => {
    it("flags an acknowledgement reporting missing packs, about the holder, to the MAH and the regulators; not one that accounts for all", async () => {
      const { batchId } = await releasedBatch(h.c, "SHORT-1", 30n);
      await handOver(h.c, h.c.cmo, h.c.distributor2, batchId, 10n);
      await startRecall(h.c, h.c.mah, batchId, RecallLevel.I);
      await acknowledgeRecall(h.c, h.c.distributor2, batchId, { quarantined: 6n, dispensed: 1n, missing: 3n });
      await acknowledgeRecall(h.c, h.c.cmo, batchId, 20n);
      await h.sync();
      const alerts = (await h.alerts("recall_acknowledgement_shortfall")).filter((a) => a.batch_id === batchId);
      expect(alerts.map((a) => [a.organization_id, a.severity, a.status])).to.deep.equal([[h.c.distributor2.id, "high", "open"]]);
      expect(JSON.parse(alerts[0]!.details)).to.deep.equal({
        holderId: h.c.distributor2.id,
        held: 10,
        quarantined: 6,
        dispensed: 1,
        destroyed: 0,
        missing: 3,
      });
      expect(alerts[0]!.message).to.contain("cannot find 3 of the 10 units");
      const told = await h.store.db.selectFrom("notifications").select("organization_id").where("alert_id", "=", alerts[0]!.id).execute();
      expect(told.map((n) => n.organization_id)).to.have.members([h.c.distributor2.id, h.c.mah.id, h.c.regulator.id, h.c.regulator2.id]);
      // Closed, so the deadline rules of the other tests see only the harness's recall.
      await closeRecall(h.c, h.c.mah, batchId);
      await h.sync();
    });
  });

  describe("holds", () => {
    const toldOfAlert = async (alertId: number) =>
      (await h.store.db.selectFrom("notifications").select("organization_id").distinct().where("alert_id", "=", alertId).execute()).map(
        (n) => n.organization_id,
      );

    it("an OOS on a market-released batch holds it and tells every holder, the addressee of stock in transit and the regulators; the MAH's release resolves it", async () => {
      // Held by the CMO (Zhejiang) and the distributor (Jiangsu), 10 on their way to distributor2 (Shanghai).
      const { batchId } = await releasedBatch(h.c, "HOLD-OOS", 100n);
      await handOver(h.c, h.c.cmo, h.c.distributor, batchId, 40n);
      await ship(h.c, h.c.cmo, h.c.distributor2, batchId, 10n);
      const reportHash = await openDeviation(h.c, h.c.cmo, batchId, "OOS on the 6-month stability sample");
      await h.sync();
      const [alert] = (await h.alerts("batch_on_hold")).filter((a) => a.batch_id === batchId);
      expect(alert).to.include({ status: "open", organization_id: null });
      expect(JSON.parse(alert!.details)).to.include({ placedBy: h.c.cmo.id, reasonHash: reportHash });
      const everyoneConcerned = [h.c.mah.id, h.c.cmo.id, h.c.distributor.id, h.c.distributor2.id, h.c.regulator.id, h.c.regulator2.id];
      expect(await toldOfAlert(alert!.id)).to.have.members(everyoneConcerned);
      expect(await recipientsOf("ledger.DeviationOpened", batchId)).to.have.members(everyoneConcerned);

      await closeDeviation(h.c, h.c.cmo, batchId, reportHash);
      await releaseHold(h.c, h.c.mah, batchId);
      await h.sync();
      await h.engine.evaluateDeadlines();
      const [after] = (await h.alerts("batch_on_hold")).filter((a) => a.batch_id === batchId);
      expect(after).to.include({ status: "resolved", closed_reason: "the MAH released the hold or the batch was recalled" });
    });

    it("a hold placed by a regulator reaches the holders as ledger.BatchPlacedOnHold; a recall ends it", async () => {
      const { batchId } = await releasedBatch(h.c, "HOLD-REG", 100n);
      await handOver(h.c, h.c.cmo, h.c.dispenser, batchId, 10n);
      await placeHold(h.c, h.c.regulator2, batchId);
      await h.sync();
      expect(await recipientsOf("ledger.BatchPlacedOnHold", batchId)).to.have.members([
        h.c.mah.id,
        h.c.cmo.id,
        h.c.dispenser.id,
        h.c.regulator.id,
        h.c.regulator2.id,
      ]);
      await startRecall(h.c, h.c.mah, batchId, RecallLevel.II);
      await h.sync();
      await h.engine.evaluateDeadlines();
      const [alert] = (await h.alerts("batch_on_hold")).filter((a) => a.batch_id === batchId);
      expect(alert).to.include({ status: "resolved" });
      // Closed, so the deadline rules of the other tests see only the harness's recall.
      await acknowledgeRecall(h.c, h.c.cmo, batchId, 90n);
      await acknowledgeRecall(h.c, h.c.dispenser, batchId, 10n);
      await closeRecall(h.c, h.c.mah, batchId);
      await h.sync();
    });
  });

  describe("overdue", () => {
    it("flags a holder that has not acknowledged a level II recall after 3 days, not before, and not the one that did", async () => {
      const recall = await h.store.db.selectFrom("recalls").selectAll().where("batch_id", "=", h.batches.recalled.batchId).executeTakeFirstOrThrow();
      await h.engine.evaluateDeadlines(recall.started_at + 2 * DAY);
      expect(await h.alerts("recall_acknowledgement_overdue")).to.have.length(0);
      await h.engine.evaluateDeadlines(recall.started_at + 3 * DAY + 1);
      const alerts = await h.alerts("recall_acknowledgement_overdue");
      // The distributor holds 5 unacknowledged; the CMO acknowledged; distributor2's stock is still in transit.
      expect(alerts.map((a) => a.organization_id)).to.deep.equal([h.c.distributor.id]);
    });

    it("flags a level II recall without a progress report for 3 days, not one reported on time", async () => {
      const recall = await h.store.db.selectFrom("recalls").selectAll().where("batch_id", "=", h.batches.recalled.batchId).executeTakeFirstOrThrow();
      await h.engine.evaluateDeadlines(recall.started_at + 3 * DAY);
      const [overdue] = await h.alerts("recall_progress_report_overdue");
      // Due exactly 3 days after the recall started, never before (the deadline check above ran at 3 days + 1 s).
      expect(overdue).to.include({ organization_id: h.c.mah.id, status: "open", observed_at: recall.started_at + 3 * DAY });
      h.setNow(recall.started_at + 3 * DAY + 3600);
      const reported = await request(h.app)
        .post(`/v1/recalls/${h.batches.recalled.batchId}/progress-reports`)
        .set("authorization", await h.bearer(h.c.mah))
        .send({ reportHash: hashText("progress day 3") })
        .expect(201);
      expect(reported.body.nextDueAt - reported.body.reportedAt).to.equal(3 * DAY);
      await h.engine.evaluateDeadlines(recall.started_at + 5 * DAY);
      const after = await h.alerts("recall_progress_report_overdue");
      expect(after.map((a) => a.status)).to.deep.equal(["resolved"]);
    });

    it("refuses a progress report from anyone but the MAH, or for a batch without an open recall", async () => {
      const url = `/v1/recalls/${h.batches.recalled.batchId}/progress-reports`;
      const body = { reportHash: hashText("x") };
      const byCmo = await request(h.app)
        .post(url)
        .set("authorization", await h.bearer(h.c.cmo))
        .send(body)
        .expect(403);
      expect(byCmo.body.error.code).to.equal("NOT_BATCH_MAH");
      const noRecall = await request(h.app)
        .post(`/v1/recalls/${h.batches.released.batchId}/progress-reports`)
        .set("authorization", await h.bearer(h.c.mah))
        .send(body)
        .expect(409);
      expect(noRecall.body.error.code).to.equal("NO_OPEN_RECALL");
      await request(h.app)
        .post(url)
        .set("authorization", await h.bearer(h.c.mah))
        .send({ reportHash: "0x12" })
        .expect(400);
    });
    it("flags a shipment not received within 7 days, resolves it on receipt, and spares one received in time", async () => {
      const batchId = stock;
      const late = await ship(h.c, h.c.cmo, h.c.distributor, batchId, 1n);
      const onTime = await handOver(h.c, h.c.cmo, h.c.distributor, batchId, 1n);
      await h.sync();
      const shippedAt = await time.latest();
      const about = async (shipmentId: string) => (await h.alerts("shipment_overdue")).filter((a) => a.subject === shipmentId);
      await h.engine.evaluateDeadlines(shippedAt + 6 * DAY);
      expect(await about(late.shipmentId)).to.have.length(0);
      await h.engine.evaluateDeadlines(shippedAt + 8 * DAY);
      expect(await about(onTime)).to.have.length(0);
      const [alert] = await about(late.shipmentId);
      expect(alert).to.include({ organization_id: h.c.distributor.id, status: "open" });
      await receive(h.c, h.c.distributor, h.c.cmo, batchId, late.shipmentId, 1n);
      await h.sync();
      await h.engine.evaluateDeadlines(shippedAt + 9 * DAY);
      const [resolved] = await about(late.shipmentId);
      expect(resolved).to.include({ status: "resolved" });
      const closing = await h.store.db
        .selectFrom("notifications")
        .select("organization_id")
        .where("alert_id", "=", resolved!.id)
        .where("kind", "=", "alert.resolved")
        .execute();
      expect(closing.map((n) => n.organization_id)).to.include(h.c.distributor.id);
    });
  });

  describe("diversion and counterfeits", () => {
    it("flags a pack scanned by an organization off its custody path, not by its holder", async () => {
      const pack = h.batches.released.printed[6]!;
      expect((await h.scan(h.c.dispenser, pack)).body.verdict).to.equal("GENUINE");
      expect((await h.scan(h.c.distributor2, h.batches.unreleased.printed[0]!)).body.verdict).to.equal("NOT_RELEASED");
      await h.sync();
      expect(await h.alerts("pack_off_custody_path")).to.have.length(0);
      const stranger = await onboard(h.c, Role.Dispenser, SHANGHAI, "Shanghai Pharmacy");
      await h.sync();
      expect((await h.scan(stranger, pack)).body.verdict).to.equal("UNEXPECTED_HOLDER");
      await h.sync();
      const alerts = await h.alerts("pack_off_custody_path");
      expect(alerts.map((a) => a.organization_id)).to.deep.equal([stranger.id]);
    });

    it("flags a dispensed pack scanned again, and not an undispensed one", async () => {
      expect((await h.scan(h.c.dispenser, h.batches.released.printed[0]!)).body.verdict).to.equal("ALREADY_DISPENSED");
      await h.sync();
      const alerts = await h.alerts("dispensed_pack_rescanned");
      expect(alerts).to.have.length(1);
      const told = await h.store.db.selectFrom("notifications").select("organization_id").where("alert_id", "=", alerts[0]!.id).execute();
      expect(told.map((n) => n.organization_id)).to.include.members([h.c.dispenser.id, h.c.mah.id]);
    });

    it("flags repeated unknown serials of a registered product from one place, not fewer, nor unregistered products", async () => {
      const forged = (serial: string) => `01${GTIN}21${serial}`;
      await h.scan(h.c.distributor, forged("FAKE0001"));
      await h.scan(h.c.distributor, forged("FAKE0002"));
      for (const serial of ["UNREG001", "UNREG002", "UNREG003"]) {
        expect((await h.scan(h.c.distributor, "0109506000134352" + `21${serial}`)).body.verdict, "a product the ledger does not hold").to.equal(
          "NOT_ON_LEDGER",
        );
      }
      const unregistered = await h.store.db
        .selectFrom("scan_observations")
        .select(["verdict", "product_registered"])
        .where("product_code", "=", "09506000134352")
        .execute();
      expect(unregistered).to.deep.equal(Array(3).fill({ verdict: "NOT_ON_LEDGER", product_registered: 0 }));
      await h.sync();
      expect(await h.alerts("unknown_serials_repeated")).to.have.length(0);
      expect((await h.scan(h.c.distributor, forged("FAKE0003"), "Nanjing warehouse, dock 3")).body.verdict).to.equal("UNKNOWN_CODE");
      await h.scan(h.c.distributor, forged("FAKE0004"));
      await h.sync();
      const alerts = await h.alerts("unknown_serials_repeated");
      expect(alerts).to.have.length(1);
      expect(alerts[0]).to.include({ organization_id: h.c.distributor.id, subject: GTIN });
      expect(JSON.parse(alerts[0]!.details).places).to.deep.equal(["Nanjing warehouse, dock 3"]);
    });
  });

  describe("risk ratings and the alerts API", () => {
    it("rates organizations from their open alerts, visible to regulators with the alerts that cause it", async () => {
      const res = await request(h.app)
        .get("/v1/risk-ratings")
        .set("authorization", await h.bearer(h.c.regulator2))
        .expect(200);
      const byId = new Map(res.body.ratings.map((r: { organizationId: number }) => [r.organizationId, r]));
      const distributor = byId.get(h.c.distributor.id) as { rating: string; alerts: { rule: string }[] };
      expect(distributor.rating).to.equal("red");
      expect(distributor.alerts.map((a) => a.rule)).to.include.members(["recall_acknowledgement_overdue", "unknown_serials_repeated"]);
      // Regulators supervise; they are not rated.
      expect(byId.has(h.c.regulator.id)).to.equal(false);
      const own = await request(h.app)
        .get(`/v1/risk-ratings/${h.c.distributor.id}`)
        .set("authorization", await h.bearer(h.c.distributor))
        .expect(200);
      expect(own.body.rating).to.equal("red");
    });

    it("keeps other organizations' ratings from non-regulators", async () => {
      const all = await request(h.app)
        .get("/v1/risk-ratings")
        .set("authorization", await h.bearer(h.c.distributor))
        .expect(403);
      expect(all.body.error.code).to.equal("REGULATORS_ONLY");
      const other = await request(h.app)
        .get(`/v1/risk-ratings/${h.c.cmo.id}`)
        .set("authorization", await h.bearer(h.c.distributor))
        .expect(403);
      expect(other.body.error.code).to.equal("NOT_YOUR_ORGANIZATION");
      await request(h.app).get("/v1/risk-ratings").expect(401);
    });

    it("lists alerts: every one to a regulator, only its own or those sent to it to others", async () => {
      const all = await request(h.app)
        .get("/v1/alerts")
        .set("authorization", await h.bearer(h.c.regulator))
        .expect(200);
      const mine = await request(h.app)
        .get("/v1/alerts")
        .set("authorization", await h.bearer(h.c.distributor2))
        .expect(200);
      expect(all.body.alerts.length).to.be.greaterThan(mine.body.alerts.length);
      const visible = await h.store.db
        .selectFrom("notifications")
        .select("alert_id")
        .distinct()
        .where("organization_id", "=", h.c.distributor2.id)
        .where("alert_id", "is not", null)
        .execute();
      const expected = new Set(visible.map((v) => Number(v.alert_id)));
      for (const alert of mine.body.alerts as { id: number; organizationId: number }[]) {
        expect(alert.organizationId === h.c.distributor2.id || expected.has(alert.id)).to.equal(true);
      }
      const bad = await request(h.app)
        .get("/v1/alerts?rule=no_such_rule")
        .set("authorization", await h.bearer(h.c.regulator))
        .expect(400);
      expect(bad.body.error.field).to.equal("rule");
    });
  });
});
