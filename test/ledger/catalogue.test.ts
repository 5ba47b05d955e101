import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "vitest";
import { expect } from "chai";
import { TypedDataEncoder } from "ethers";
import type { ParamType } from "ethers";
import { ATTESTATION_SPECS, CONTRACT_INTERFACES, CUSTODY_EVENTS, LEDGER_CONTRACTS, LEDGER_EVENTS } from "../../src/ledger";

/** Events a contract emits that are not attestations (OpenZeppelin's EIP-5267). */
const NOT_ATTESTATIONS = ["EIP712DomainChanged"];

/** "name type" of each component of a struct parameter, as the ABI has it (enums are uint8 there too). */
const components = (param: ParamType | undefined) => param?.components?.map((c) => `${c.name} ${c.type}`) ?? [];

/** Each contract's *_TYPEHASH strings, as written in its source: what the contract really verifies. */
function typehashStrings(contract: string): string[] {
  const source = readFileSync(path.join(__dirname, "../../contracts", `${contract}.sol`), "utf8").replace(/"\s*\n\s*"/g, "");
  return [...source.matchAll(/_TYPEHASH\s*=\s*keccak256\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!);
}

describe("the attestation catalogue", () => {
  it("names, for each attestation, a function of its contract that takes exactly the catalogued struct", () => {
    for (const spec of ATTESTATION_SPECS) {
      const fn = CONTRACT_INTERFACES[spec.contract].getFunction(spec.function);
      expect(fn, `${spec.contract}.${spec.function}`).to.not.equal(null);
      expect([spec.name, components(fn!.inputs[0])]).to.deep.equal([spec.name, spec.fields.map((f) => `${f.name} ${f.type}`)]);
      const extra = spec.call === "countersigned" ? ["bytes", "bytes"] : spec.call === "proved" ? ["bytes32[]", "bool[]", "bytes"] : ["bytes"];
      expect([spec.name, fn!.inputs.slice(1).map((p) => p.type)]).to.deep.equal([spec.name, extra]);
    }
  });

  it("signs each struct field for field as the contract's typehash", () => {
    const typehashes = new Set(LEDGER_CONTRACTS.flatMap(typehashStrings));
    for (const spec of ATTESTATION_SPECS) {
      const encoded = TypedDataEncoder.from({ [spec.name]: spec.fields.map((f) => ({ ...f })) }).encodeType(spec.name);
      expect(typehashes.has(encoded), `${spec.contract} has no typehash ${encoded}`).to.equal(true);
    }
    expect(typehashes.size).to.equal(ATTESTATION_SPECS.length);
  });

  it("names, for each attestation, the event that carries its struct, and catalogues every event of the contracts", () => {
    for (const spec of ATTESTATION_SPECS) {
      const event = CONTRACT_INTERFACES[spec.contract].getEvent(spec.event);
      expect(event, `${spec.contract}.${spec.event}`).to.not.equal(null);
      const struct = event!.inputs.find((input) => input.name === spec.struct);
      expect([spec.event, components(struct)]).to.deep.equal([spec.event, spec.fields.map((f) => `${f.name} ${f.type}`)]);
    }
    for (const contract of LEDGER_CONTRACTS) {
      const emitted: string[] = [];
      CONTRACT_INTERFACES[contract].forEachEvent((event) => {
        if (!NOT_ATTESTATIONS.includes(event.name)) emitted.push(event.name);
      });
      const catalogued = ATTESTATION_SPECS.filter((spec) => spec.contract === contract).map((spec) => spec.event);
      expect(emitted.sort(), contract).to.deep.equal([...catalogued].sort());
    }
    expect(new Set(LEDGER_EVENTS).size).to.equal(ATTESTATION_SPECS.length);
  });

  it("puts the acting organization first and the nonce second in every struct", () => {
    for (const spec of ATTESTATION_SPECS) {
      // The relay and the indexer read the organization an attestation speaks for from its first field.
      expect([spec.name, spec.fields[0]!.name]).to.satisfy(([, name]: string[]) =>
        /^(regulator|organization|mah|cmo|shipper|recipient|dispenser|holder|laboratory|sender)Id$/.test(name!),
      );
      expect([spec.name, spec.fields[1]]).to.deep.equal([spec.name, { name: "nonce", type: "uint256" }]);
    }
  });

  it("moves custody only through attestations that name the holder among their fields", () => {
    for (const spec of ATTESTATION_SPECS.filter((s) => s.custody || s.holder)) {
      expect(
        spec.fields.map((f) => f.name),
        spec.name,
      ).to.include(spec.holder);
    }
    expect([...CUSTODY_EVENTS]).to.deep.equal([
      "BatchRecorded",
      "BatchShipped",
      "ShipmentReceived",
      "PacksDispensed",
      "PackStatesChanged",
      "StockDestroyed",
    ]);
  });
});
