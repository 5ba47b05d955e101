import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, id as hashText, keccak256, ZeroHash } from "ethers";
import { CaseStatus, PackState, SuspectOutcome } from "../../src/ledger";
import { changePackStates, deployConsortium, dispensingProof, handOver, onboard, packId, releasedBatch, ZHEJIANG } from "./fixtures";
import type { Consortium, Party } from "./fixtures";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { Role } from "../../src/ledger";
import hre from "hardhat";

const ALERT = hashText("receipt_quantity_mismatch:0xabc:3");
const REASON = hashText("counted again: the pack was in the second carton");
/** The case of ALERT about `subjectId`, as AlertCases keys it. */
const caseKey = (subjectId: number, alertKey = ALERT) => keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint32"], [alertKey, subjectId]));

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

/** Moves the case of ALERT about `subjectId` (by default the distributor's, organization 4 in the fixture). */
async function setStatus(c: Consortium, by: Party, status: number, reasonHash = ZeroHash, subjectId = c.distributor.id) {
  const { message, signature } = await c.sign("AlertCases", "AlertStatusChange", by.key, {
    organizationId: by.id,
    caseKey: caseKey(subjectId),
    status,
    reasonHash,
  });
  return c.alertCases.changeAlertStatus(message as never, signature);
}

/** Files a report on `codes` of the stock's batch, with their multiproof (or `proved` for another batch's). */
async function file(c: Stock, by: Party, codes: string[], reasonHash = REASON, proved = codes.length ? dispensingProof(c.tree, codes) : undefined) {
  const { message, signature } = await c.sign("AlertCases", "SuspectReport", by.key, {
    organizationId: by.id,
    batchId: c.batchId,
    packs: proved?.packs ?? [],
    reasonHash,
  });
  const reportId = await c.alertCases.suspectReportId(by.id, (message as { nonce: bigint }).nonce);
  return { reportId, tx: c.alertCases.fileSuspectReport(message as never, proved?.proof ?? [], proved?.proofFlags ?? [], signature) };
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
    expect(await c.alertCases.caseKeyOf(ALERT, c.distributor.id)).to.equal(caseKey(c.distributor.id));
    const recorded = await c.alertCases.alertCase(caseKey(c.distributor.id));
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
      .withArgs(caseKey(c.distributor.id), c.distributor.id);
    await expect(take(c, c.regulator, c.distributor.id))
      .to.emit(c.alertCases, "AlertTaken")
      .withArgs(caseKey(c.distributor.id), c.regulator.id, c.distributor.id, anyValue, anyValue, anyValue);
    await expect(take(c, c.distributor, c.distributor.id))
      .to.be.revertedWithCustomError(c.alertCases, "AlertAlreadyOwned")
      .withArgs(caseKey(c.distributor.id), c.regulator.id);
    await expect(take(c, c.regulator2, c.distributor.id)).to.emit(c.alertCases, "AlertTaken");
  });

  it("takeAlert: a first taker naming the wrong subject opens another case, and cannot take or close the subject's", async () => {
    const c = await loadFixture(consortiumWithStock);
    // The MAH takes (and closes) the alert about the distributor, naming itself: a case no alert about the
    // distributor points at.
    await expect(take(c, c.mah, c.mah.id))
      .to.emit(c.alertCases, "AlertTaken")
      .withArgs(caseKey(c.mah.id), c.mah.id, 0, anyValue, anyValue, anyValue);
    await setStatus(c, c.mah, CaseStatus.Closed, REASON, c.mah.id);
    expect(Number((await c.alertCases.alertCase(caseKey(c.distributor.id))).ownerId)).to.equal(0);
    // The distributor's case is untouched: the MAH cannot move it, the distributor takes it.
    await expect(setStatus(c, c.mah, CaseStatus.Closed, REASON))
      .to.be.revertedWithCustomError(c.alertCases, "NotAlertOwner")
      .withArgs(caseKey(c.distributor.id), 0, c.mah.id);
    await expect(take(c, c.distributor, c.distributor.id))
      .to.emit(c.alertCases, "AlertTaken")
      .withArgs(caseKey(c.distributor.id), c.distributor.id, 0, anyValue, anyValue, anyValue);
  });

  it("takeAlert_revertsWhenTheCaseIsClosed", async () => {
    const c = await loadFixture(consortiumWithStock);
    await take(c, c.regulator, c.distributor.id);
    await setStatus(c, c.regulator, CaseStatus.Closed, REASON);
    await expect(take(c, c.regulator2, c.distributor.id))
      .to.be.revertedWithCustomError(c.alertCases, "AlertCaseClosed")
      .withArgs(caseKey(c.distributor.id));
  });

  it("changeAlertStatus_revertsWhenNotOwner (and before anyone took the case)", async () => {
    const c = await loadFixture(consortiumWithStock);
    await expect(setStatus(c, c.regulator, CaseStatus.UnderInvestigation))
      .to.be.revertedWithCustomError(c.alertCases, "NotAlertOwner")
      .withArgs(caseKey(c.distributor.id), 0, c.regulator.id);
    await take(c, c.distributor, c.distributor.id);
    await expect(setStatus(c, c.regulator, CaseStatus.UnderInvestigation))
      .to.be.revertedWithCustomError(c.alertCases, "NotAlertOwner")
      .withArgs(caseKey(c.distributor.id), c.distributor.id, c.regulator.id);
  });

  it("changeAlertStatus_revertsOnInvalidTransition: back to new, or to the status it has", async () => {
    const c = await loadFixture(consortiumWithStock);
    await take(c, c.distributor, c.distributor.id);
    await expect(setStatus(c, c.distributor, CaseStatus.New))
      .to.be.revertedWithCustomError(c.alertCases, "InvalidAlertTransition")
      .withArgs(caseKey(c.distributor.id), CaseStatus.New, CaseStatus.New);
    await setStatus(c, c.distributor, CaseStatus.UnderInvestigation);
    await expect(setStatus(c, c.distributor, CaseStatus.UnderInvestigation))
      .to.be.revertedWithCustomError(c.alertCases, "InvalidAlertTransition")
      .withArgs(caseKey(c.distributor.id), CaseStatus.UnderInvestigation, CaseStatus.UnderInvestigation);
  });

  it("changeAlertStatus_revertsWhenClosingWithoutReason, and once closed nothing changes", async () => {
    const c = await loadFixture(consortiumWithStock);
    await take(c, c.distributor, c.distributor.id);
    await expect(setStatus(c, c.distributor, CaseStatus.Closed)).to.be.revertedWithCustomError(c.alertCases, "MissingCaseReason");
    await setStatus(c, c.distributor, CaseStatus.Closed, REASON);
    await expect(setStatus(c, c.distributor, CaseStatus.UnderInvestigation))
      .to.be.revertedWithCustomError(c.alertCases, "AlertCaseClosed")
      .withArgs(caseKey(c.distributor.id));
  });

  it("changeAlertStatus_revertsWhenAnOrganizationClosesAnEscalatedCase: a regulator takes it over and closes it", async () => {
    const c = await loadFixture(consortiumWithStock);
    await take(c, c.distributor, c.distributor.id);
    await setStatus(c, c.distributor, CaseStatus.Escalated);
    await expect(setStatus(c, c.distributor, CaseStatus.Closed, REASON))
      .to.be.revertedWithCustomError(c.alertCases, "EscalatedCaseNeedsRegulator")
      .withArgs(caseKey(c.distributor.id));
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

  it("fileSuspectReport_revertsWhenPacksNotInBatch: packs locked under another batch cannot be reported under this one", async () => {
    const c = await loadFixture(consortiumWithStock);
    const other = await releasedBatch(c, "B-CASE-002", 100n, 4);
    await handOver(c, c.cmo, c.distributor, other.batchId, 10n);
    await changePackStates(c, c.distributor, other.batchId, other.tree, other.codes.slice(0, 1), PackState.Locked);
    await expect((await file(c, c.distributor, other.codes.slice(0, 1), REASON, dispensingProof(other.tree, other.codes.slice(0, 1)))).tx)
      .to.be.revertedWithCustomError(c.alertCases, "SuspectPacksNotInBatch")
      .withArgs(c.batchId);
    // A proof of this batch's pack with the other batch's pack in its place is refused too.
    await lock(c, c.distributor, c.codes.slice(0, 1));
    const proved = dispensingProof(c.tree, c.codes.slice(0, 1));
    await expect((await file(c, c.distributor, [], REASON, { ...proved, packs: [packId(other.codes[0]!)] })).tx)
      .to.be.revertedWithCustomError(c.alertCases, "SuspectPacksNotInBatch")
      .withArgs(c.batchId);
  });

  it("fileSuspectReport_revertsWhenPackAlreadyReported while that report is open", async () => {
    const c = await loadFixture(consortiumWithStock);
    await lock(c, c.distributor, c.codes.slice(0, 2));
    const first = await file(c, c.distributor, c.codes.slice(0, 1));
    await first.tx;
    await expect((await file(c, c.mah, c.codes.slice(0, 2))).tx)
      .to.be.revertedWithCustomError(c.alertCases, "SuspectPackAlreadyReported")
      .withArgs(packId(c.codes[0]!), first.reportId);
    await terminate(c, c.regulator, first.reportId, SuspectOutcome.Cleared);
    await expect((await file(c, c.mah, c.codes.slice(0, 2))).tx).to.emit(c.alertCases, "SuspectReportFiled");
  });

  it("changePackStates_revertsWhenTheFilerUndoesALockAReportHolds, until a regulator clears the report", async () => {
    const c = await loadFixture(consortiumWithStock);
    const reported = c.codes.slice(0, 2);
    await lock(c, c.distributor, reported);
    const { reportId, tx } = await file(c, c.distributor, reported);
    await tx;
    const packs = dispensingProof(c.tree, reported).packs;
    expect(await c.alertCases.holdsPackLock(packs[0]!)).to.equal(true);
    await expect(changePackStates(c, c.distributor, c.batchId, c.tree, reported, PackState.Active))
      .to.be.revertedWithCustomError(c.batches, "PackLockHeldByReport")
      .withArgs(packs[0]);
    // Neither can the packs be dispensed: they are not active.
    await expect(changePackStates(c, c.distributor, c.batchId, c.tree, reported.slice(0, 1), PackState.Sample))
      .to.be.revertedWithCustomError(c.batches, "PackNotActive")
      .withArgs(packId(reported[0]!), PackState.Locked);
    const before = await c.batches.packRecord(packId(reported[0]!));
    expect(Number(before.state)).to.equal(PackState.Locked);
    await terminate(c, c.regulator, reportId, SuspectOutcome.Cleared);
    expect(await c.alertCases.holdsPackLock(packs[0]!)).to.equal(false);
    await expect(changePackStates(c, c.distributor, c.batchId, c.tree, reported, PackState.Active)).to.emit(c.batches, "PackStatesChanged");
  });

  it("changePackStates_revertsForGoodWhenTheReportFoundTheProductIllegitimate", async () => {
    const c = await loadFixture(consortiumWithStock);
    await lock(c, c.distributor, c.codes.slice(0, 1));
    const { reportId, tx } = await file(c, c.distributor, c.codes.slice(0, 1));
    await tx;
    await terminate(c, c.regulator, reportId, SuspectOutcome.Illegitimate);
    await expect(changePackStates(c, c.distributor, c.batchId, c.tree, c.codes.slice(0, 1), PackState.Active))
      .to.be.revertedWithCustomError(c.batches, "PackLockHeldByReport")
      .withArgs(packId(c.codes[0]!));
  });

  it("changePackStates: a lock no report names is undone by its setter", async () => {
    const c = await loadFixture(consortiumWithStock);
    await lock(c, c.distributor, c.codes.slice(0, 1));
    await expect(changePackStates(c, c.distributor, c.batchId, c.tree, c.codes.slice(0, 1), PackState.Active)).to.emit(
      c.batches,
      "PackStatesChanged",
    );
  });

  it("bindAlertCases_revertsOnceBoundOrForAnotherCaller", async () => {
    const c = await loadFixture(consortiumWithStock);
    const [, other] = await hre.ethers.getSigners();
    await expect(c.batches.bindAlertCases(other!.address))
      .to.be.revertedWithCustomError(c.batches, "AlertCasesAlreadyBound")
      .withArgs(await c.alertCases.getAddress());
    await expect(c.batches.connect(other!).bindAlertCases(other!.address))
      .to.be.revertedWithCustomError(c.batches, "NotDeployer")
      .withArgs(other!.address);
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
    await expect(c.alertCases.fileSuspectReport(message as never, [], [], signature))
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
