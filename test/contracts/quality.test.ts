import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText } from "ethers";
import { BatchImpact, DeviationCategory, DeviationKind, DeviationSeverity, RootCause } from "../../src/ledger";
import { closeDeviation, DAY, deployConsortium, openDeviation, recordBatch, releasedBatch, signClosure, signDeviation } from "./fixtures";
import type { Consortium, Party } from "./fixtures";

const REPORT = hashText("deviation report DR-001");
const PLAN = hashText("CAPA plan CAPA-001");

/** A batch with a major deviation open (reported by the CMO), not yet released. */
async function majorDeviation() {
  const c = await deployConsortium();
  const batchId = await recordBatch(c, "B-QA-001");
  await openDeviation(c, c.cmo, batchId, { severity: DeviationSeverity.Major, category: DeviationCategory.Equipment });
  return { ...c, batchId };
}

async function signCapa(c: Consortium, by: Party, batchId: string, overrides: Record<string, unknown> = {}) {
  return c.sign("CorrectiveActions", "CapaRecord", by.key, {
    organizationId: by.id,
    batchId,
    reportHash: REPORT,
    capaHash: PLAN,
    ownerId: c.cmo.id,
    dueAt: (await time.latest()) + 30 * DAY,
    ...overrides,
  });
}

async function recordCapa(c: Consortium, by: Party, batchId: string, overrides: Record<string, unknown> = {}) {
  const { message, signature } = await signCapa(c, by, batchId, overrides);
  return c.capas.recordCapa(message as never, signature);
}

async function signCheck(c: Consortium, by: Party, batchId: string, effective: boolean) {
  return c.sign("CorrectiveActions", "EffectivenessCheck", by.key, {
    mahId: by.id,
    batchId,
    capaHash: PLAN,
    effective,
    checkHash: hashText("check"),
  });
}

async function withCapa() {
  const c = await majorDeviation();
  await recordCapa(c, c.cmo, c.batchId);
  return c;
}

describe("BatchLedger: deviations with severity, category, root cause and impact", () => {
  it("openDeviation_revertsWithoutSeverityOrCategory", async () => {
    const c = await loadFixture(majorDeviation);
    for (const [severity, category] of [
      [DeviationSeverity.None, DeviationCategory.Process],
      [DeviationSeverity.Minor, DeviationCategory.None],
    ]) {
      const { message, signature } = await signDeviation(c, c.cmo, c.batchId, {
        reportHash: hashText(`r${severity}${category}`),
        severity,
        category,
      });
      await expect(c.batches.openDeviation(message as never, signature))
        .to.be.revertedWithCustomError(c.batches, "DeviationNotClassified")
        .withArgs(severity, category);
    }
  });

  it("openDeviation emits the signed severity and category", async () => {
    const c = await loadFixture(majorDeviation);
    const reportHash = hashText("critical contamination");
    const { message, signature } = await signDeviation(c, c.mah, c.batchId, {
      kind: DeviationKind.OutOfSpecification,
      severity: DeviationSeverity.Critical,
      category: DeviationCategory.Environment,
      reportHash,
    });
    await expect(c.batches.openDeviation(message as never, signature))
      .to.emit(c.batches, "DeviationOpened")
      .withArgs(
        c.batchId,
        c.mah.id,
        [c.mah.id, message.nonce, c.batchId, DeviationKind.OutOfSpecification, DeviationSeverity.Critical, DeviationCategory.Environment, reportHash],
        false,
        c.mah.key.address,
        signature,
      );
  });

  it("closeDeviation_revertsWhenMajorAndClosedByTheCmo", async () => {
    const c = await loadFixture(majorDeviation);
    const { message, signature } = await signClosure(c, c.cmo, c.batchId);
    await expect(c.batches.closeDeviation(message as never, signature))
      .to.be.revertedWithCustomError(c.batches, "DeviationClosureNeedsMah")
      .withArgs(c.batchId, REPORT, DeviationSeverity.Major, c.cmo.id);
    await expect(closeDeviation(c, c.mah, c.batchId)).to.emit(c.batches, "DeviationClosed");
    expect((await c.batches.batch(c.batchId)).openDeviations).to.equal(0n);
  });

  it("closeDeviation_revertsWhenCriticalAndClosedByTheCmo, while the CMO closes a minor one", async () => {
    const c = await loadFixture(majorDeviation);
    await openDeviation(c, c.cmo, c.batchId, { reportHash: hashText("critical"), severity: DeviationSeverity.Critical });
    await openDeviation(c, c.cmo, c.batchId, { reportHash: hashText("minor"), severity: DeviationSeverity.Minor });
    const critical = await signClosure(c, c.cmo, c.batchId, { reportHash: hashText("critical") });
    await expect(c.batches.closeDeviation(critical.message as never, critical.signature))
      .to.be.revertedWithCustomError(c.batches, "DeviationClosureNeedsMah")
      .withArgs(c.batchId, hashText("critical"), DeviationSeverity.Critical, c.cmo.id);
    await expect(closeDeviation(c, c.cmo, c.batchId, { reportHash: hashText("minor") })).to.emit(c.batches, "DeviationClosed");
  });

  it("closeDeviation_revertsWithoutRootCauseOrImpact, and emits both when given", async () => {
    const c = await loadFixture(majorDeviation);
    for (const [rootCause, batchImpact] of [
      [RootCause.None, BatchImpact.NoImpact],
      [RootCause.Machine, BatchImpact.None],
    ]) {
      const { message, signature } = await signClosure(c, c.mah, c.batchId, { rootCause, batchImpact });
      await expect(c.batches.closeDeviation(message as never, signature))
        .to.be.revertedWithCustomError(c.batches, "DeviationConclusionMissing")
        .withArgs(rootCause, batchImpact);
    }
    const closureHash = hashText("closure");
    const { message, signature } = await signClosure(c, c.mah, c.batchId, {
      rootCause: RootCause.Machine,
      batchImpact: BatchImpact.Reworked,
      closureHash,
    });
    await expect(c.batches.closeDeviation(message as never, signature))
      .to.emit(c.batches, "DeviationClosed")
      .withArgs(
        c.batchId,
        c.mah.id,
        [c.mah.id, message.nonce, c.batchId, REPORT, RootCause.Machine, BatchImpact.Reworked, closureHash],
        c.mah.key.address,
        signature,
      );
  });

  it("a critical deviation on a market-released batch places it on hold", async () => {
    const c = await deployConsortium();
    const { batchId } = await releasedBatch(c, "B-QA-002");
    const { message, signature } = await signDeviation(c, c.cmo, batchId, {
      severity: DeviationSeverity.Critical,
      category: DeviationCategory.Materials,
    });
    await expect(c.batches.openDeviation(message as never, signature))
      .to.emit(c.batches, "DeviationOpened")
      .withArgs(batchId, c.cmo.id, (report: unknown[]) => report[4] === BigInt(DeviationSeverity.Critical), true, c.cmo.key.address, signature);
    expect((await c.batches.batch(batchId)).onHold).to.equal(true);
  });
});

describe("CorrectiveActions: CAPA with owner, due date and effectiveness check", () => {
  it("recordCapa by the CMO records the CAPA owned by the CMO, due in 30 days", async () => {
    const c = await loadFixture(majorDeviation);
    const { message, signature } = await signCapa(c, c.cmo, c.batchId);
    await expect(c.capas.recordCapa(message as never, signature))
      .to.emit(c.capas, "CapaRecorded")
      .withArgs(
        c.batchId,
        c.cmo.id,
        c.cmo.id,
        [c.cmo.id, message.nonce, c.batchId, REPORT, PLAN, c.cmo.id, message.dueAt],
        c.cmo.key.address,
        signature,
      );
    const capa = await c.capas.capa(c.batchId, PLAN);
    expect([capa.status, capa.ownerId, capa.dueAt]).to.deep.equal([1n, BigInt(c.cmo.id), BigInt(message.dueAt as number)]);
  });

  it("recordCapa_revertsWhenNotTheBatchsMahOrCmo, as signer or as owner", async () => {
    const c = await loadFixture(majorDeviation);
    await expect(recordCapa(c, c.distributor, c.batchId))
      .to.be.revertedWithCustomError(c.capas, "NotCapaParty")
      .withArgs(c.batchId, c.distributor.id);
    await expect(recordCapa(c, c.mah, c.batchId, { ownerId: c.distributor.id }))
      .to.be.revertedWithCustomError(c.capas, "NotCapaParty")
      .withArgs(c.batchId, c.distributor.id);
  });

  it("recordCapa_revertsForAnUnknownDeviationOrBatch", async () => {
    const c = await loadFixture(majorDeviation);
    await expect(recordCapa(c, c.cmo, c.batchId, { reportHash: hashText("never reported") }))
      .to.be.revertedWithCustomError(c.capas, "UnknownDeviation")
      .withArgs(c.batchId, hashText("never reported"));
    const unknown = hashText("no such batch");
    await expect(recordCapa(c, c.cmo, unknown))
      .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
      .withArgs(unknown);
  });

  it("recordCapa_revertsWhenDueDatePassed", async () => {
    const c = await loadFixture(majorDeviation);
    const dueAt = (await time.latest()) - DAY;
    await expect(recordCapa(c, c.cmo, c.batchId, { dueAt }))
      .to.be.revertedWithCustomError(c.capas, "CapaDueDatePassed")
      .withArgs(dueAt);
  });

  it("recordCapa_revertsWhenAlreadyRecorded", async () => {
    const c = await loadFixture(withCapa);
    await expect(recordCapa(c, c.mah, c.batchId))
      .to.be.revertedWithCustomError(c.capas, "CapaAlreadyRecorded")
      .withArgs(c.batchId, PLAN);
  });

  it("checkCapaEffectiveness_revertsWhenNotTheBatchsMah", async () => {
    const c = await loadFixture(withCapa);
    const { message, signature } = await c.sign("CorrectiveActions", "EffectivenessCheck", c.cmo.key, {
      mahId: c.cmo.id,
      batchId: c.batchId,
      capaHash: PLAN,
      effective: true,
      checkHash: hashText("check"),
    });
    await expect(c.capas.checkCapaEffectiveness(message as never, signature))
      .to.be.revertedWithCustomError(c.capas, "NotCapaChecker")
      .withArgs(c.batchId, c.cmo.id);
  });

  it("checkCapaEffectiveness_revertsForAnUnknownCapa", async () => {
    const c = await loadFixture(majorDeviation);
    const { message, signature } = await signCheck(c, c.mah, c.batchId, true);
    await expect(c.capas.checkCapaEffectiveness(message as never, signature))
      .to.be.revertedWithCustomError(c.capas, "UnknownCapa")
      .withArgs(c.batchId, PLAN);
  });

  it("checkCapaEffectiveness records a failed check once: a second check reverts, a new CAPA may follow", async () => {
    const c = await loadFixture(withCapa);
    const failed = await signCheck(c, c.mah, c.batchId, false);
    await expect(c.capas.checkCapaEffectiveness(failed.message as never, failed.signature))
      .to.emit(c.capas, "CapaEffectivenessChecked")
      .withArgs(
        c.batchId,
        c.mah.id,
        PLAN,
        [c.mah.id, failed.message.nonce, c.batchId, PLAN, false, hashText("check")],
        c.mah.key.address,
        failed.signature,
      );
    expect((await c.capas.capa(c.batchId, PLAN)).status).to.equal(3n);
    const again = await signCheck(c, c.mah, c.batchId, true);
    await expect(c.capas.checkCapaEffectiveness(again.message as never, again.signature))
      .to.be.revertedWithCustomError(c.capas, "CapaAlreadyChecked")
      .withArgs(c.batchId, PLAN, 3);
    await expect(recordCapa(c, c.cmo, c.batchId, { capaHash: hashText("CAPA plan CAPA-001 R1") })).to.emit(c.capas, "CapaRecorded");
  });
});
