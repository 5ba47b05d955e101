import { describe, it } from "vitest";
import { expect } from "chai";
import { CONTRACT_INTERFACES, CONTRACT_REFUSALS, LEDGER_ERRORS, refusalOf } from "../../src/ledger";
import { createNamer } from "../../src/store/names";

describe("refusal wording", () => {
  it("maps every custom error of the ledger's contracts to a stable code, a kind and a message", async () => {
    const store = (await import("../indexer/stores")).freshStore;
    const db = await store("sqlite");
    try {
      const names = createNamer(db);
      const seen = new Set<string>();
      const errors = Object.values(CONTRACT_INTERFACES).flatMap((iface) => {
        const found: string[] = [];
        iface.forEachError((fragment) => found.push(fragment.name));
        return found;
      });
      for (const name of new Set(errors)) {
        {
          const error = LEDGER_ERRORS.getError(name)!;
          seen.add(error.name);
          const args = error.inputs.map((input) => sampleOf(input.type));
          const context = {
            index: 0,
            attestation: { contract: "BatchLedger" as const, type: "Shipment", message: {}, signature: "0x" },
            signers: [],
            signerOrganizations: [],
            names,
          };
          const answer = await refusalOf(LEDGER_ERRORS.encodeErrorResult(error, args), context);
          expect(CONTRACT_REFUSALS, error.name).to.have.property(error.name);
          const rule = CONTRACT_REFUSALS[error.name]!;
          if (!rule.refine) expect([error.name, answer.kind, answer.code]).to.deep.equal([error.name, rule.kind, rule.code]);
          expect(answer.code, error.name).to.match(/^[A-Z][A-Z_]+$/);
          expect(answer.code, error.name).to.not.equal("CONTRACT_REFUSED", `${error.name} falls back to the generic refusal`);
          expect(["bad_input", "not_allowed", "conflict", "refused", "internal"], error.name).to.include(answer.kind);
          expect(answer.message, error.name).to.not.match(/undefined|NaN|\[object/);
        }
      }
      expect(seen.size).to.be.above(60);
      expect(
        Object.keys(CONTRACT_REFUSALS).filter((name) => !seen.has(name)),
        "refusals for errors no contract has",
      ).to.deep.equal([]);
    } finally {
      await db.close();
    }
  });
});

function sampleOf(type: string): unknown {
  if (type.startsWith("uint")) return 1n;
  if (type === "bytes32") return `0x${"ab".repeat(32)}`;
  if (type === "address") return "0x000000000000000000000000000000000000dEaD";
  if (type === "string") return "B-1";
  if (type === "bool") return true;
  throw new Error(`no sample for ${type}`);
}
