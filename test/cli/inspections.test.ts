import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import type { BaseWallet } from "ethers";
import { deployConsortium, recordBatch } from "../contracts/fixtures";
import type { Consortium, Party } from "../contracts/fixtures";
import { now, pendingAgreement } from "../contracts/supervision-fixtures";
import { deploymentOf, serveChain } from "../indexer/chain";
import { answerOf, errorOf, hardhatAccountKey, trace, workDir, writeDeployment } from "./helpers";

/**
 * Regulators' commands sent straight to a node (--rpc): cross-province review, licences, inspections, recognition
 * and sampling; each refusal names the contract's reason, exits 3 and sends nothing.
 */
describe("trace supervision commands over JSON-RPC", () => {
  let c: Consortium;
  let chain: Awaited<ReturnType<typeof serveChain>>;
  const work = workDir();
  let deployment: string;
  const sender = hardhatAccountKey(3);

  const cli = (party: Party | BaseWallet, ...argv: string[]) =>
    trace(
      { TRACE_PRIVATE_KEY: ("key" in party ? party.key : party).privateKey, TRACE_SENDER_KEY: sender },
      ...argv,
      "--deployment",
      deployment,
      "--json",
    );
  const blockNumber = () => hre.ethers.provider.getBlockNumber();
  /** A refusal: exit 3 when the ledger's state refuses it, 2 when the attestation itself is malformed. */
  async function refused(party: Party, ...argv: string[]) {
    return refusedWith(3, party, ...argv);
  }
  async function refusedWith(status: number, party: Party, ...argv: string[]) {
    const before = await blockNumber();
    const error = errorOf(await cli(party, ...argv), status);
    expect(await blockNumber(), "a refused command sends nothing").to.equal(before);
    return error;
  }

  beforeAll(async () => {
    chain = await serveChain();
    c = await deployConsortium();
    deployment = writeDeployment(work.file("deployment.json"), await deploymentOf(c), chain.url);
  });
  afterAll(async () => {
    await chain.close();
    work.remove();
  });

  it("agreements opinion then approve put a cross-province quality agreement in force, each by its province", async () => {
    const { agreementId } = await pendingAgreement(c);
    const early = await refused(c.regulator, "agreements", "approve", agreementId, "--document", "苏药监 许可");
    expect(early.code).to.equal("AGREEMENT_OPINION_MISSING");
    const wrong = await refused(c.regulator, "agreements", "opinion", agreementId, "--document", "意见");
    expect(wrong.code).to.equal("NOT_PROVINCE_REGULATOR");
    answerOf(await cli(c.regulator2, "agreements", "opinion", agreementId, "--document", "浙药监 意见"));
    answerOf(await cli(c.regulator, "agreements", "approve", agreementId, "--document", "苏药监 许可"));
    expect((await c.products.agreementTerms(agreementId)).approval).to.equal(3n);
  });

  it("licences record sets an expiry; a date in the past or another province's regulator is refused, sending nothing", async () => {
    const answer = answerOf(
      await cli(c.regulator2, "licences", "record", String(c.cmo.id), "--licence", "药品生产许可证 浙20160093", "--valid-until", "2099-12-31"),
    );
    expect(answer.attestation).to.equal("LicenceRecord");
    expect((await c.registry.organization(c.cmo.id)).licenceValidUntil).to.be.greaterThan(0n);
    const past = await refusedWith(2, c.regulator2, "licences", "record", String(c.cmo.id), "--licence", "x", "--valid-until", "2001-01-01");
    expect(past.code).to.equal("INVALID_LICENCE_EXPIRY");
    const foreign = await refused(c.regulator, "licences", "record", String(c.cmo.id), "--licence", "x", "--valid-until", "2099-12-31");
    expect(foreign.code).to.equal("NOT_PROVINCE_REGULATOR");
  });

  it("inspections record answers the inspection's id; another province recognises it, its own cannot", async () => {
    const inspected = String((await now(c)) - 86_400);
    const record = (...extra: string[]) => [
      "inspections",
      "record",
      "--organization",
      String(c.cmo.id),
      "--site",
      "Hangzhou plant",
      "--scope",
      "gmp-compliance",
      "--inspected",
      inspected,
      "--report",
      "ZJ-GMP-2026-001",
      ...extra,
    ];
    const contradiction = await refusedWith(2, c.regulator2, ...record("--grade", "compliant", "--major", "1"));
    expect(contradiction.code).to.equal("INSPECTION_GRADE_CONTRADICTS_FINDINGS");
    const answer = answerOf(await cli(c.regulator2, ...record("--grade", "compliant-with-corrections", "--major", "1", "--minor", "2")));
    expect(await c.supervision.inspectionProvince(answer.inspectionId)).to.equal(330000n);
    const own = await refused(c.regulator2, "inspections", "recognise", answer.inspectionId);
    expect(own.code).to.equal("OWN_PROVINCE_INSPECTION");
    answerOf(await cli(c.regulator, "inspections", "recognise", answer.inspectionId));
    expect(await c.supervision.isInspectionRecognised(answer.inspectionId, 320000)).to.equal(true);
    const bad = await cli(c.regulator2, ...record("--grade", "excellent"));
    expect(bad.status).to.equal(2);
  });

  it("sampling record needs --passed or --failed, and is refused for a batch the ledger does not hold", async () => {
    const batchId = await recordBatch(c, "CLI-S-1");
    const neither = errorOf(await cli(c.regulator, "sampling", "record", batchId, "--at", String(c.cmo.id), "--test", "assay", "--report", "r"), 2);
    expect(neither.code).to.equal("SAMPLING_RESULT_REQUIRED");
    const answer = answerOf(
      await cli(c.regulator, "sampling", "record", batchId, "--at", String(c.cmo.id), "--test", "assay", "--failed", "--report", "r"),
    );
    expect(answer.batchId).to.equal(batchId);
    const unknown = await refused(
      c.regulator,
      "sampling",
      "record",
      `0x${"ab".repeat(32)}`,
      "--at",
      String(c.cmo.id),
      "--test",
      "assay",
      "--passed",
      "--report",
      "r",
    );
    expect(unknown.code).to.equal("UNKNOWN_BATCH");
  });
});
