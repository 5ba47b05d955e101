import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { id as hashText, ZeroHash } from "ethers";
import { CaseStatus, PackState, SuspectOutcome } from "../../src/ledger";
import { changePackStates, deployConsortium, handOver, onboard, packId, releasedBatch, ZHEJIANG } from "./fixtures";
import type { Consortium, Party } from "./fixtures";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { Role } from "../../src/ledger";

const ALERT = hashText("receipt_quantity_mismatch:0xabc:3");
const REASON = hashText("counted again: the pack was in the second carton");

/** A released batch with 16 packs: 40 units at the Jiangsu distributor. */
async function consortiumWithStock() {
  const c = await deployConsortium();
  const { batchId, tree, codes } = await releasedBatch(c, "B-CASE-001", 100n, 16);
  await handOver(c, c.cmo, c.distributor, batchId, 40n);
  const stranger = await onboard(c, Role.Distributor, ZHEJIANG, "Ningbo Wholesale");
  return { ...c, batchId, tree, codes, stranger };
}
type Stock = Awaited<ReturnType<typeof consortiumWithStock>>;

async function take(c: Consortium, by: Party, subjectId: number, alertKey = ALERT) {
  const { message, signature } = await c.sign("AlertCases", "AlertTaking", by.key, { organizationId: by.id, alertKey, subjectId });
  return c.alertCases.takeAlert(message as never, signature);
}

async function setStatus(c: Consortium, by: Party, status: number, reasonHash = ZeroHash, alertKey = ALERT) {
  const { message, signature } = await c.sign("AlertCases", "AlertStatusChange", by.key, { organizationId: by.id, alertKey, status, reasonHash });
  return c.alertCases.changeAlertStatus(message as never, signature);
}

async function file(c: Stock, by: Party, codes: string[], reasonHash = REASON, nonce?: bigint) {
  const { message, signature } = await c.sign("AlertCases", "SuspectReport", by.key, {
    organizationId: by.id,
    batchId: c.batchId,
    packs: codes.map(packId),
    reasonHash,
    ...(nonce === undefined ? {} : { nonce }),
  });
  const reportId = await c.alertCases.suspectReportId(by.id, (message as { nonce: bigint }).nonce);
  return { reportId, tx: c.alertCases.fileSuspectReport(message as never, signature) };
}

async function terminate(c: Consortium, by: Party, reportId: string, outcome: number = SuspectOutcome.Cleared, reasonHash = REASON) {
  const { message, signature } = await c.sign("AlertCases", "SuspectTermination", by.key, { regulatorId: by.id, reportId, outcome, reasonHash });
  return c.alertCases.terminateSuspectReport(message as never, signature);
}

describe("AlertCases: alert cases", () => {
  it("takeAlert: the organization the alert concerns takes it; the owner investigates and closes it with a reason", async () => {
    const c = await loadFixture(consortiumWithStock);
    await expect(take(c, c.distributor, c.distributor.id)).to.emit(c.alertCases, "AlertTaken");
    await expect(setStatus(c, c.distributor, CaseStatus.UnderInvestigation)).to.emit(c.alertCases, "AlertStatusChanged");
    await setStatus(c, c.distributor, CaseStatus.Closed, REASON);
    const recorded = await c.alertCases.alertCase(ALERT);
    expect([Number(recorded.subjectId), Number(recorded.ownerId), Number(recorded.status)]).to.deep.equal([
      c.distributor.id,
      c.distributor.id,
      CaseStatus.Closed,
    ]);
  });

  it("takeAlert_revertsWhenNeitherRegulatorNorSubject", async () => {
    const c = await loadFixture(consortiumWithStock);
    await expect(take(c, c.stranger, c.distributor.id))
      .to.be.revertedWithCustomError(c.alertCases, "NotAlertParty")
      .withArgs(ALERT, c.stranger.id);
  });

  it("takeAlert_revertsOnEmptyKey", async () => {
    const c = await loadFixture(consortiumWithStock);
    await expect(take(c, c.regulator, c.distributor.id, ZeroHash)).to.be.revertedWithCustomError(c.alertCases, "EmptyAlertKey");
  });

  it("takeAlert: a regulator takes a case over; an organization cannot, nor can the owner take it twice", async () => {
    const c = await loadFixture(consortiumWithStock);
    await take(c, c.distributor, c.distributor.id);
    await expect(take(c, c.distributor, c.distributor.id))
      .to.be.revertedWithCustomError(c.alertCases, "AlertAlreadyOwned")
      .withArgs(ALERT, c.distributor.id);
    await expect(take(c, c.regulator, c.distributor.id))
      .to.emit(c.alertCases, "AlertTaken")
      .withArgs(ALERT, c.regulator.id, c.distributor.id, anyValue, anyValue, anyValue);
    await expect(take(c, c.distributor, c.distributor.id))
      .to.be.revertedWithCustomError(c.alertCases, "AlertAlreadyOwned")
      .withArgs(ALERT, c.regulator.id);
    await expect(take(c, c.regulator2, c.distributor.id)).to.emit(c.alertCases, "AlertTaken");
  });

  it("takeAlert_revertsWhenSubjectDiffers and when the case is closed", async () => {
    const c = await loadFixture(consortiumWithStock);
    await take(c, c.regulator, c.distributor.id);
    await expect(take(c, c.regulator2, c.mah.id))
      .to.be.revertedWithCustomError(c.alertCases, "AlertSubjectMismatch")
      .withArgs(ALERT, c.distributor.id, c.mah.id);
    await setStatus(c, c.regulator, CaseStatus.Closed, REASON);
    await expect(take(c, c.regulator2, c.distributor.id))
      .to.be.revertedWithCustomError(c.alertCases, "AlertCaseClosed")
      .withArgs(ALERT);
  });

  it("changeAlertStatus_revertsWhenNotOwner (and before anyone took the case)", async () => {
    const c = await loadFixture(consortiumWithStock);
    await expect(setStatus(c, c.regulator, CaseStatus.UnderInvestigation))
      .to.be.revertedWithCustomError(c.alertCases, "NotAlertOwner")
      .withArgs(ALERT, 0, c.regulator.id);
    await take(c, c.distributor, c.distributor.id);
    await expect(setStatus(c, c.regulator, CaseStatus.UnderInvestigation))
      .to.be.revertedWithCustomError(c.alertCases, "NotAlertOwner")
      .withArgs(ALERT, c.distributor.id, c.regulator.id);
  });

  it("changeAlertStatus_revertsOnInvalidTransition: back to new, or to the status it has", async () => {
    const c = await loadFixture(consortiumWithStock);
    await take(c, c.distributor, c.distributor.id);
    await expect(setStatus(c, c.distributor, CaseStatus.New))
      .to.be.revertedWithCustomError(c.alertCases, "InvalidAlertTransition")
      .withArgs(ALERT, CaseStatus.New, CaseStatus.New);
    await setStatus(c, c.distributor, CaseStatus.UnderInvestigation);
    await expect(setStatus(c, c.distributor, CaseStatus.UnderInvestigation))
      .to.be.revertedWithCustomError(c.alertCases, "InvalidAlertTransition")
      .withArgs(ALERT, CaseStatus.UnderInvestigation, CaseStatus.UnderInvestigation);
  });

  it("changeAlertStatus_revertsWhenClosingWithoutReason, and once closed nothing changes", async () => {
    const c = await loadFixture(consortiumWithStock);
    await take(c, c.distributor, c.distributor.id);
    await expect(setStatus(c, c.distributor, CaseStatus.Closed)).to.be.revertedWithCustomError(c.alertCases, "MissingCaseReason");
    await setStatus(c, c.distributor, CaseStatus.Closed, REASON);
    await expect(setStatus(c, c.distributor, CaseStatus.UnderInvestigation))
      .to.be.revertedWithCustomError(c.alertCases, "AlertCaseClosed")
      .withArgs(ALERT);
  });

  it("changeAlertStatus_revertsWhenAnOrganizationClosesAnEscalatedCase: a regulator takes it over and closes it", async () => {
    const c = await loadFixture(consortiumWithStock);
    await take(c, c.distributor, c.distributor.id);
    await setStatus(c, c.distributor, CaseStatus.Escalated);
    await expect(setStatus(c, c.distributor, CaseStatus.Closed, REASON))
      .to.be.revertedWithCustomError(c.alertCases, "EscalatedCaseNeedsRegulator")
      .withArgs(ALERT);
    await take(c, c.regulator2, c.distributor.id);
    await expect(setStatus(c, c.regulator2, CaseStatus.Closed, REASON)).to.emit(c.alertCases, "AlertStatusChanged");
  });
});

describe("AlertCases: suspect-product reports", () => {
  const lock = (c: Stock, by: Party, codes: string[]) => changePackStates(c, by, c.batchId, c.tree, codes, PackState.Locked);

  it("fileSuspectReport: a holder reports packs it locked; a regulator terminates the report", async () => {
    const c = await loadFixture(consortiumWithStock);
    await lock(c, c.distributor, c.codes.slice(0, 2));
    const { reportId, tx } = await file(c, c.distributor, c.codes.slice(0, 2));
    await expect(tx).to.emit(c.alertCases, "SuspectReportFiled").withArgs(reportId, c.batchId, c.distributor.id, anyValue, anyValue, anyValue);
    expect((await c.alertCases.suspectReport(reportId)).open).to.equal(true);
    await expect(terminate(c, c.regulator2, reportId, SuspectOutcome.Illegitimate))
      .to.emit(c.alertCases, "SuspectReportTerminated")
      .withArgs(reportId, c.batchId, c.regulator2.id, anyValue, anyValue, anyValue);
    const report = await c.alertCases.suspectReport(reportId);
    expect([report.open, Number(report.outcome)]).to.deep.equal([false, SuspectOutcome.Illegitimate]);
  });

  it("fileSuspectReport: the batch's MAH and a regulator report the whole batch without holding it", async () => {
    const c = await loadFixture(consortiumWithStock);
    await (
      await file(c, c.mah, [])
    ).tx;
    await expect((await file(c, c.regulator, [])).tx).to.emit(c.alertCases, "SuspectReportFiled");
  });

  it("fileSuspectReport_revertsWhenNotHolderMahOrRegulator", async () => {
    const c = await loadFixture(consortiumWithStock);
    await expect((await file(c, c.stranger, [])).tx)
      .to.be.revertedWithCustomError(c.alertCases, "NotSuspectReporter")
      .withArgs(c.batchId, c.stranger.id);
  });

  it("fileSuspectReport_revertsWhenPackNotLocked", async () => {
    const c = await loadFixture(consortiumWithStock);
    await lock(c, c.distributor, c.codes.slice(0, 1));
    await expect((await file(c, c.distributor, c.codes.slice(0, 2))).tx)
      .to.be.revertedWithCustomError(c.alertCases, "SuspectPackNotLocked")
      .withArgs(packId(c.codes[1]!));
  });

  it("fileSuspectReport_revertsWithoutReason and on an unknown batch", async () => {
    const c = await loadFixture(consortiumWithStock);
    await expect((await file(c, c.distributor, [], ZeroHash)).tx).to.be.revertedWithCustomError(c.alertCases, "MissingCaseReason");
    const { message, signature } = await c.sign("AlertCases", "SuspectReport", c.regulator.key, {
      organizationId: c.regulator.id,
      batchId: hashText("no such batch"),
      packs: [],
      reasonHash: REASON,
    });
    await expect(c.alertCases.fileSuspectReport(message as never, signature))
      .to.be.revertedWithCustomError(c.alertCases, "SuspectBatchUnknown")
      .withArgs(hashText("no such batch"));
  });

  it("terminateSuspectReport_revertsWhenNotRegulator, not open, without outcome or reason", async () => {
    const c = await loadFixture(consortiumWithStock);
    const { reportId, tx } = await file(c, c.distributor, []);
    await tx;
    await expect(terminate(c, c.mah, reportId)).to.be.revertedWithCustomError(c.alertCases, "OrganizationRoleMismatch");
    await expect(terminate(c, c.regulator, reportId, SuspectOutcome.None)).to.be.revertedWithCustomError(c.alertCases, "InvalidSuspectOutcome");
    await expect(terminate(c, c.regulator, reportId, SuspectOutcome.Cleared, ZeroHash)).to.be.revertedWithCustomError(
      c.alertCases,
      "MissingCaseReason",
    );
    await expect(terminate(c, c.regulator, hashText("never filed")))
      .to.be.revertedWithCustomError(c.alertCases, "SuspectReportNotOpen")
      .withArgs(hashText("never filed"));
    await terminate(c, c.regulator, reportId);
    await expect(terminate(c, c.regulator2, reportId))
      .to.be.revertedWithCustomError(c.alertCases, "SuspectReportNotOpen")
      .withArgs(reportId);
  });

  it("a replayed attestation is refused by its nonce", async () => {
    const c = await loadFixture(consortiumWithStock);
    const { message, signature } = await c.sign("AlertCases", "AlertTaking", c.regulator.key, {
      organizationId: c.regulator.id,
      alertKey: ALERT,
      subjectId: c.distributor.id,
    });
    await c.alertCases.takeAlert(message as never, signature);
    await expect(c.alertCases.takeAlert(message as never, signature)).to.be.revertedWithCustomError(c.alertCases, "AttestationNonceUsed");
  });
});
