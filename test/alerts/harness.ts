import request from "supertest";
import { id as hashText } from "ethers";
import { alertConfig, createAlertEngine, createScanObservations } from "../../src/alerts";
import type { AlertConfig } from "../../src/alerts";
import { alertRoutes } from "../../src/alerts/routes";
import { supervisionRoutes } from "../../src/supervision/routes";
import { silentLogger } from "../../src/log";
import { NOTIFICATION_KINDS } from "../../src/alerts/kinds";
import { subscriptionRoutes } from "../../src/notifications/routes";
import { supervisionRecordRoutes } from "../../src/supervision/records";
import type { AlertTable } from "../../src/store";
import { apiHarness } from "../api/harness";
import type { Consortium, Party } from "../contracts/fixtures";
import type { StoreKind } from "../indexer/stores";

/**
 * The API harness (three batches on a loopback chain, indexed) with the alert engine beside it and scans recorded.
 * `sync()` indexes what the chain has and lets the engine evaluate it; the engine's clock is `clock.now`. Webhook
 * URLs on loopback are refused unless `webhooks.allowPrivateAddresses` is on.
 */
export async function alertHarness(
  kind: StoreKind = "sqlite",
  overrides: Partial<AlertConfig> = {},
  webhooks: { allowPrivateAddresses?: boolean } = {},
) {
  const config = alertConfig(overrides);
  const h = await apiHarness(kind, [
    ...alertRoutes(config),
    ...supervisionRoutes(config),
    ...supervisionRecordRoutes(config),
    ...subscriptionRoutes(NOTIFICATION_KINDS, webhooks),
  ]);
  h.services.observations = createScanObservations(h.store, silentLogger());
  const clock = { now: Math.floor(Date.now() / 1000) };
  const engine = createAlertEngine({ store: h.store, config, log: silentLogger(), now: () => clock.now });
  // A fresh token each time: tests move the API's clock, which would expire a kept one.
  const bearer = async (party: Party) => `Bearer ${await h.tokenFor(party)}`;
  for (const { batchId, printed } of Object.values(h.batches)) {
    await request(h.app)
      .post(`/v1/batches/${batchId}/codes`)
      .set("authorization", await bearer(h.c.cmo))
      .send({ codes: printed })
      .expect(201);
  }
  return {
    ...h,
    config,
    engine,
    clock,
    bearer,
    async sync() {
      await h.indexer.catchUp();
      return engine.catchUp();
    },
    /** Alerts of `rule`, oldest first. */
    async alerts(rule: string): Promise<AlertTable[]> {
      return h.store.db.selectFrom("alerts").selectAll().where("rule", "=", rule).orderBy("id").execute();
    },
    async scan(party: Party, code: string, place?: string) {
      return request(h.app)
        .post("/v1/scans")
        .set("authorization", await bearer(party))
        .send({ code, place })
        .expect(200);
    },
  };
}

export type AlertHarness = Awaited<ReturnType<typeof alertHarness>>;

/** The CMO opens a deviation on a batch; returns its report hash. */
export async function openDeviation(c: Consortium, by: Party, batchId: string, label: string) {
  const reportHash = hashText(`deviation ${label}`);
  const { message, signature } = await c.sign("BatchLedger", "DeviationReport", by.key, {
    organizationId: by.id,
    batchId,
    kind: 1,
    severity: 1,
    category: 1,
    reportHash,
  });
  await c.batches.openDeviation(message as never, signature);
  return reportHash;
}

export async function closeDeviation(c: Consortium, by: Party, batchId: string, reportHash: string) {
  const { message, signature } = await c.sign("BatchLedger", "DeviationClosure", by.key, {
    organizationId: by.id,
    batchId,
    reportHash,
    rootCause: 4,
    batchImpact: 1,
    closureHash: hashText(`closure ${reportHash}`),
  });
  await c.batches.closeDeviation(message as never, signature);
}
