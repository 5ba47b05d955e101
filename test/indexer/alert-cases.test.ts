import { afterEach, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { id as hashText } from "ethers";
import { alertCaseKey, alertKeyHash, CaseStatus, SuspectOutcome } from "../../src/ledger";
import type { Store } from "../../src/store";
import { freshStore, STORE_KINDS } from "./stores";
import { syntheticConsortium } from "./synthetic";
import type { SyntheticConsortium } from "./synthetic";

/** AlertCases events into the read model: a case's owner, status and history; suspect-product reports. */
describe.each(STORE_KINDS)("alert cases in the read model on %s", (kind) => {
  let store: Store;
  let s: SyntheticConsortium;

  beforeEach(async () => {
    store = await freshStore(kind);
    s = await syntheticConsortium();
    await s.ledger.apply(store);
  });
  afterEach(async () => store.close());

  async function step() {
    expect((await s.ledger.apply(store)).problems).to.deep.equal([]);
  }
  const at = () => s.ledger.block(s.ledger.head).timestamp;

  it("a case taken, taken over by a regulator and closed keeps each signed step in its history", async () => {
    const alert = "receipt_quantity_mismatch:0x01:0";
    const alertKey = alertKeyHash(alert);
    const caseKey = alertCaseKey(alert, s.distributor.id);
    await s.ledger.takeAlert(s.distributor, alertKey, s.distributor.id);
    const opened = at();
    await s.ledger.changeAlertStatus(s.distributor, caseKey, CaseStatus.Escalated);
    await s.ledger.takeAlert(s.regulator, alertKey, s.distributor.id, s.distributor.id);
    await s.ledger.changeAlertStatus(s.regulator, caseKey, CaseStatus.Closed, CaseStatus.Escalated, hashText("resolved on inspection"));
    await step();
    const recorded = await store.db.selectFrom("alert_cases").selectAll().where("case_key", "=", caseKey).executeTakeFirstOrThrow();
    expect(recorded).to.deep.include({
      subject_id: s.distributor.id,
      owner_id: s.regulator.id,
      status: "CLOSED",
      reason_hash: hashText("resolved on inspection"),
      revision: 4,
    });
    expect(Number(recorded.opened_at)).to.equal(opened);
    expect(Number(recorded.closed_at)).to.equal(at());
    const history = await store.db.selectFrom("alert_case_history").selectAll().where("case_key", "=", caseKey).orderBy("revision").execute();
    expect(history.map((h) => [h.action, h.organization_id, h.previous_owner_id])).to.deep.equal([
      ["TAKEN", s.distributor.id, 0],
      ["ESCALATED", s.distributor.id, null],
      ["TAKEN", s.regulator.id, s.distributor.id],
      ["CLOSED", s.regulator.id, null],
    ]);
  });

  it("a suspect-product report is open with its packs until terminated with an outcome", async () => {
    const batchId = await s.releasedBatch("S-001", 10);
    const packs = [hashText("pack 1"), hashText("pack 2")];
    const reportId = await s.ledger.fileSuspectReport(s.cmo, batchId, packs);
    await step();
    const open = await store.db.selectFrom("suspect_reports").selectAll().where("id", "=", reportId).executeTakeFirstOrThrow();
    expect(open).to.include({ batch_id: batchId, filed_by: s.cmo.id, status: "OPEN", outcome: "NONE" });
    expect(JSON.parse(open.packs)).to.deep.equal(packs);
    await s.ledger.terminateSuspectReport(s.regulator, reportId, batchId, SuspectOutcome.Illegitimate);
    await step();
    const ended = await store.db.selectFrom("suspect_reports").selectAll().where("id", "=", reportId).executeTakeFirstOrThrow();
    expect(ended).to.include({ status: "TERMINATED", outcome: "ILLEGITIMATE", terminated_by: s.regulator.id });
  });

  it("a status change of a case never taken, or a termination of an unknown report, is recorded as a problem", async () => {
    const batchId = await s.releasedBatch("S-002", 10);
    await step();
    await s.ledger.changeAlertStatus(s.regulator, hashText("never taken"), CaseStatus.Closed);
    await s.ledger.terminateSuspectReport(s.regulator, hashText("never filed"), batchId, SuspectOutcome.Cleared);
    const { problems } = await s.ledger.apply(store);
    expect(problems.map((p) => p.problem)).to.deep.equal([
      `no alert case ${hashText("never taken")}`,
      `no open suspect-product report ${hashText("never filed")}`,
    ]);
  });
});
