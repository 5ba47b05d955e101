import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { createIndexer, createRpcSource } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import { deployConsortium, recordBatch, reviewAgreement } from "../contracts/fixtures";
import { inspectionOf, now, pendingAgreement, recognise, recordLicence, sampling } from "../contracts/supervision-fixtures";
import { startNode } from "../nodes";
import type { TestNode } from "../nodes";
import { deploymentOf } from "./chain";
import { freshStore, STORE_KINDS } from "./stores";

/** Regulators' records: a licence, a cross-province agreement part-way through review, an inspection recognised, a failed sampling. */
async function history(node: TestNode) {
  const c = await deployConsortium(node.relayer);
  const validUntil = (await now(c)) + 365 * 24 * 3600;
  await recordLicence(c, c.regulator2, c.cmo.id, validUntil);
  const pending = await pendingAgreement(c);
  await reviewAgreement(c, "AgreementOpinion", c.regulator2, pending.agreementId);
  const { message, signature } = await inspectionOf(c, c.regulator2);
  const receipt = await (await c.supervision.recordInspection(message as never, signature)).wait();
  const inspectionId = receipt!.logs.map((l) => c.supervision.interface.parseLog(l)).find((l) => l?.name === "InspectionRecorded")!.args
    .inspectionId as string;
  await recognise(c, c.regulator, inspectionId);
  const batchId = await recordBatch(c, "S-1");
  await sampling(c, c.regulator, batchId);
  return { c, validUntil, pending, inspectionId, batchId };
}

describe.each(STORE_KINDS)("indexer: supervision records into %s", (kind) => {
  let chain: TestNode;
  let store: Store;
  let h: Awaited<ReturnType<typeof history>>;

  beforeAll(async () => {
    chain = await startNode("hardhat");
    h = await history(chain);
    store = await freshStore(kind);
    const source = createRpcSource(chain.url);
    const indexer = createIndexer({ source, store, deployment: await deploymentOf(h.c), log: silentLogger(), maxRange: 7 });
    await indexer.catchUp();
    source.close();
  });
  afterAll(async () => {
    await store.close();
    await chain.close();
  });

  it("verifies every regulator's attestation and reports no problem", async () => {
    const events = await store.db.selectFrom("ledger_events").select(["name", "verification", "problem"]).execute();
    const names = new Set(events.map((e) => e.name));
    for (const name of [
      "LicenceRecorded",
      "AgreementOpinionGiven",
      "AgreementApproved",
      "InspectionRecorded",
      "InspectionRecognised",
      "SamplingRecorded",
    ]) {
      expect(names.has(name), name).to.equal(true);
    }
    expect(events.filter((e) => e.problem !== null || !["verified", "bootstrap"].includes(e.verification))).to.deep.equal([]);
  });

  it("keeps each organization's licence expiry and each agreement's review stage as the contracts do", async () => {
    const cmo = await store.db.selectFrom("organizations").selectAll().where("id", "=", h.c.cmo.id).executeTakeFirstOrThrow();
    expect(cmo.licence_valid_until).to.equal(h.validUntil);
    const agreements = await store.db.selectFrom("agreements").selectAll().execute();
    const stage = (id: string) => agreements.find((a) => a.id === id)!;
    expect(stage(h.c.agreementId).approval).to.equal("APPROVED");
    expect([stage(h.pending.agreementId).approval, stage(h.pending.agreementId).opinion_by]).to.deep.equal(["AWAITING_APPROVAL", h.c.regulator2.id]);
    expect(Number((await h.c.products.agreementTerms(h.pending.agreementId)).approval)).to.equal(2);
  });

  it("keeps the inspection with its findings, the other province's recognition and the failed sampling", async () => {
    const inspection = await store.db.selectFrom("inspections").selectAll().executeTakeFirstOrThrow();
    expect(inspection).to.include({
      id: h.inspectionId,
      regulator_id: h.c.regulator2.id,
      province: 330000,
      organization_id: h.c.cmo.id,
      scope: "GMP_COMPLIANCE",
      grade: "COMPLIANT_WITH_CORRECTIONS",
      critical_findings: 0,
      major_findings: 1,
      minor_findings: 3,
    });
    const recognitions = await store.db.selectFrom("inspection_recognitions").selectAll().execute();
    expect(recognitions.map((r) => [r.inspection_id, r.province, r.regulator_id])).to.deep.equal([[h.inspectionId, 320000, h.c.regulator.id]]);
    const samplings = await store.db.selectFrom("samplings").selectAll().execute();
    expect(samplings.map((s) => [s.batch_id, s.sampled_at_id, s.test, s.passed])).to.deep.equal([[h.batchId, h.c.distributor.id, "assay (HPLC)", 0]]);
  });
});
