import { describe, it } from "vitest";
import { expect } from "chai";
import { CONTRACT_REFUSALS, REFUSAL_TITLES, releasable, releaseGates } from "../../src/ledger";
import type { ReleaseFacts } from "../../src/ledger";

const NOW = 1_800_000_000;
const ready: ReleaseFacts = {
  state: "FACTORY_RELEASED",
  recallStatus: "NONE",
  holdStatus: "NONE",
  expiresAt: NOW + 86_400,
  factoryRelease: { certificateHash: `0x${"11".repeat(32)}`, at: NOW - 60 },
  deviations: [{ kind: "OOS", status: "CLOSED" }],
  agreement: { kind: "QUALITY", validFrom: NOW - 86_400, validUntil: NOW + 86_400, revoked: false },
  duties: {
    sterileRecordsRequired: true,
    sterileRecorded: true,
    certificateRequired: true,
    certificatePassed: true,
    retainedSamplesApproved: true,
    qualifiedPersonSigns: true,
    signerIsQualifiedPerson: true,
  },
  mah: { active: true, licenceValidUntil: NOW + 86_400 },
};
const failing = (facts: ReleaseFacts) =>
  releaseGates(facts, NOW)
    .filter((gate) => !gate.passed)
    .map((gate) => gate.gate);

describe("market release gates", () => {
  it("are all green for a factory-released batch with every deviation closed, in force, not held, recalled or expired", () => {
    expect(failing(ready)).to.deep.equal([]);
    expect(releasable(ready, NOW)).to.equal(true);
  });

  it("turn red one by one for what would stop the release", () => {
    expect(failing({ ...ready, state: "MANUFACTURED", factoryRelease: null })).to.deep.equal(["factoryRelease"]);
    expect(failing({ ...ready, deviations: [...ready.deviations, { kind: "DEVIATION", status: "OPEN" }] })).to.deep.equal(["deviations"]);
    expect(failing({ ...ready, agreement: { ...ready.agreement!, revoked: true } })).to.deep.equal(["agreement"]);
    expect(failing({ ...ready, agreement: { ...ready.agreement!, validUntil: NOW - 1 } })).to.deep.equal(["agreement"]);
    expect(failing({ ...ready, agreement: null })).to.deep.equal(["agreement"]);
    expect(failing({ ...ready, holdStatus: "ON_HOLD" })).to.deep.equal(["hold"]);
    expect(failing({ ...ready, recallStatus: "OPEN" })).to.deep.equal(["recall"]);
    expect(failing({ ...ready, expiresAt: NOW - 1 })).to.deep.equal(["expiry"]);
    // The last valid second is still valid (src/ledger/expiry.ts).
    expect(failing({ ...ready, expiresAt: NOW })).to.deep.equal([]);
    // QualityDuties.checkMarketRelease: a sterile-class batch's retained samples approved by its MAH; none needed otherwise.
    expect(failing({ ...ready, duties: { ...ready.duties, retainedSamplesApproved: false } })).to.deep.equal(["retainedSamples"]);
    expect(failing({ ...ready, duties: { ...ready.duties, retainedSamplesApproved: false, sterileRecordsRequired: false } })).to.deep.equal([]);
    // QualityDuties.checkMarketRelease: a product with a named quality authorized person is released by one.
    expect(failing({ ...ready, duties: { ...ready.duties, signerIsQualifiedPerson: false } })).to.deep.equal(["qualifiedPerson"]);
    // The registry refuses a suspended MAH's attestations, and any once its licence has ended (at its last second).
    expect(failing({ ...ready, mah: { active: false, licenceValidUntil: null } })).to.deep.equal(["licence"]);
    expect(failing({ ...ready, mah: { active: true, licenceValidUntil: NOW } })).to.deep.equal(["licence"]);
  });

  it("show the factory release's quality duties red while they are missing, green once the batch is past factory release", () => {
    const manufactured: ReleaseFacts = { ...ready, state: "MANUFACTURED", factoryRelease: null };
    const missing = { ...ready.duties, sterileRecorded: false, certificatePassed: null };
    expect(failing({ ...manufactured, duties: missing })).to.deep.equal(["factoryRelease", "sterileRecords", "testCertificate"]);
    expect(failing({ ...manufactured, duties: { ...missing, certificatePassed: false } })).to.include("testCertificate");
    expect(failing({ ...manufactured, duties: { ...missing, sterileRecordsRequired: false, certificateRequired: false } })).to.deep.equal([
      "factoryRelease",
    ]);
    // QualityDuties.checkFactoryRelease let it through: the records were there.
    expect(failing({ ...ready, duties: missing })).to.deep.equal([]);
  });

  it("never let a rejected batch be released", () => {
    expect(releasable({ ...ready, state: "REJECTED" }, NOW)).to.equal(false);
  });

  it("offer no release for a batch already on the market", () => {
    expect(releasable({ ...ready, state: "MARKET_RELEASED" }, NOW)).to.equal(false);
  });
});

describe("refusal headlines", () => {
  it("word only codes the relay answers, in both languages", () => {
    const relayCodes = [
      "CONTRACT_REFUSED",
      "BUNDLE_SPANS_CONTRACTS",
      "CHAIN_UNAVAILABLE",
      "SENT_OUTCOME_UNKNOWN",
      "TRANSACTION_REVERTED",
      "NOT_MINED_IN_TIME",
      "NOT_INDEXED_IN_TIME",
    ];
    const known = new Set([
      ...Object.values(CONTRACT_REFUSALS).map((rule) => rule.code),
      "KEY_NOT_OF_ORGANIZATION",
      "SIGNING_KEY_ALREADY_REVOKED",
      "PARTY_SUSPENDED",
      ...relayCodes,
    ]);
    for (const [code, words] of Object.entries(REFUSAL_TITLES)) {
      expect(known.has(code), code).to.equal(true);
      expect(words["zh-CN"] && words.en, code).to.be.a("string").that.is.not.empty;
    }
  });
});
