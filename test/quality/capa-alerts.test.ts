import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import request from "supertest";
import { DAY, openDeviation } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { alertHarness } from "../alerts/harness";
import type { AlertHarness } from "../alerts/harness";

/** CAPA through the indexer, the read model, the API and the early warning: overdue and ineffective CAPA alert the MAH and CMO. */
describe("CAPA alerts and the batch's deviations", () => {
  let h: AlertHarness;
  let batchId: string;
  const report = hashText("deviation DEV-2025-031");
  const plan = (n: number) => hashText(`CAPA-2025-031 plan ${n}`);

  async function recordCapa(by: Party, capaHash: string, dueAt: number) {
    const { message, signature } = await h.c.sign("CorrectiveActions", "CapaRecord", by.key, {
      organizationId: by.id,
      batchId,
      reportHash: report,
      capaHash,
      ownerId: h.c.cmo.id,
      dueAt,
    });
    await h.c.capas.recordCapa(message as never, signature);
  }
  async function checkCapa(capaHash: string, effective: boolean) {
    const { message, signature } = await h.c.sign("CorrectiveActions", "EffectivenessCheck", h.c.mah.key, {
      mahId: h.c.mah.id,
      batchId,
      capaHash,
      effective,
      checkHash: hashText(`check ${capaHash}`),
    });
    await h.c.capas.checkCapaEffectiveness(message as never, signature);
  }
  const told = async (alertId: number) =>
    (await h.store.db.selectFrom("notifications").select("organization_id").distinct().where("alert_id", "=", alertId).execute()).map(
      (n) => n.organization_id,
    );

  beforeAll(async () => {
    h = await alertHarness();
    batchId = h.batches.unreleased.batchId;
    await openDeviation(h.c, h.c.cmo, batchId, { reportHash: report, severity: 2, category: 2 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("raises capa_ineffective when the MAH's effectiveness check fails, about the owner and told to the MAH and CMO", async () => {
    await recordCapa(h.c.cmo, plan(1), (await time.latest()) + 30 * DAY);
    await checkCapa(plan(1), false);
    await h.sync();
    const [alert] = await h.alerts("capa_ineffective");
    expect(alert).to.include({ organization_id: h.c.cmo.id, batch_id: batchId, subject: plan(1), status: "open", severity: "high" });
    expect(await told(alert!.id)).to.include.members([h.c.mah.id, h.c.cmo.id]);
  });

  it("raises capa_overdue once a CAPA is past due without a check, and resolves it when the check arrives", async () => {
    const dueAt = (await time.latest()) + 10 * DAY;
    await recordCapa(h.c.mah, plan(2), dueAt);
    await h.sync();
    await h.engine.evaluateDeadlines(dueAt - 60);
    expect(await h.alerts("capa_overdue")).to.have.length(0);
    await h.engine.evaluateDeadlines(dueAt + DAY);
    const [alert] = await h.alerts("capa_overdue");
    expect(alert).to.include({ organization_id: h.c.cmo.id, subject: plan(2), status: "open", severity: "medium" });
    expect(await told(alert!.id)).to.include.members([h.c.mah.id, h.c.cmo.id]);
    await checkCapa(plan(2), true);
    await h.sync();
    await h.engine.evaluateDeadlines(dueAt + 2 * DAY);
    expect((await h.alerts("capa_overdue"))[0]).to.include({ status: "resolved" });
    expect(await h.alerts("capa_ineffective")).to.have.length(1);
  });

  it("shows the batch's deviation with severity, category and each CAPA's state to its MAH, CMO and regulators only", async () => {
    const answer = await request(h.app)
      .get(`/v1/batches/${batchId}/deviations`)
      .set("authorization", await h.bearer(h.c.mah))
      .expect(200);
    const [deviation] = answer.body.items;
    expect(deviation).to.include({ reportHash: report, kind: "DEVIATION", severity: "MAJOR", category: "EQUIPMENT", status: "OPEN" });
    expect(deviation.capas.map((c: { capaHash: string; status: string; ownerId: number }) => [c.capaHash, c.status, c.ownerId])).to.deep.equal([
      [plan(1), "INEFFECTIVE", h.c.cmo.id],
      [plan(2), "EFFECTIVE", h.c.cmo.id],
    ]);
    await request(h.app)
      .get(`/v1/batches/${batchId}/deviations`)
      .set("authorization", await h.bearer(h.regulator()))
      .expect(200);
    const refused = await request(h.app)
      .get(`/v1/batches/${h.batches.released.batchId}/deviations`)
      .set("authorization", await h.bearer(h.c.distributor))
      .expect(403);
    expect(refused.body.error.code).to.equal("DEVIATIONS_RESTRICTED");
  });
});
