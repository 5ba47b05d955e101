import { describe, it } from "vitest";
import { expect } from "chai";
import { aggregate, buildCodeTree, createHierarchy, parseCode, verifyMultiProof, verifyProof } from "../../src/codes";

const pallet = parseCode("(00)106141412345678908");
const caseA = parseCode("(00)006141411234567890");
const caseB = parseCode("(00)006141411234567906");
const packs = Array.from({ length: 6 }, (_, i) => parseCode(`8123456000000000000${i}`));

describe("aggregate", () => {
  it("commits a case's contents with a root that proves each pack is inside", async () => {
    const { aggregate: record, tree } = await aggregate(caseA, packs.slice(0, 3));
    expect(record).to.deep.equal({ container: caseA.key, contents: packs.slice(0, 3).map((p) => p.key), contentsRoot: tree.root });
    expect(verifyProof(record.contentsRoot, packs[1]!.key, tree.proof(packs[1]!.key))).to.equal(true);
    expect(verifyProof(record.contentsRoot, packs[4]!.key, tree.proof(packs[1]!.key))).to.equal(false);
  });

  it("refuses a pack as container, an empty case, a case inside itself, a pack listed twice", async () => {
    const codeOf = (promise: Promise<unknown>) =>
      promise.then(
        () => "accepted",
        (error) => error.code,
      );
    expect(await codeOf(aggregate(packs[0]!, packs.slice(1, 2)))).to.equal("CODE_NOT_A_CONTAINER");
    expect(await codeOf(aggregate(caseA, []))).to.equal("CODE_EMPTY_CONTAINER");
    expect(await codeOf(aggregate(caseA, [caseA]))).to.equal("CODE_AGGREGATION_CYCLE");
    expect(await codeOf(aggregate(caseA, [packs[0]!, packs[0]!]))).to.equal("CODE_DUPLICATE");
  });
});

describe("createHierarchy", () => {
  async function palletOfTwoCases() {
    const a = (await aggregate(caseA, packs.slice(0, 3))).aggregate;
    const b = (await aggregate(caseB, packs.slice(3))).aggregate;
    const p = (await aggregate(pallet, [caseA, caseB])).aggregate;
    return createHierarchy([a, b, p]);
  }

  it("ships a pallet as all its packs, provable against the batch root in one multiproof", async () => {
    const hierarchy = await palletOfTwoCases();
    const shipped = hierarchy.expandShipment([pallet.key]);
    expect(shipped).to.deep.equal(packs.map((p) => p.key));
    expect(hierarchy.parentOf(packs[4]!.key)).to.equal(caseB.key);
    const batch = await buildCodeTree([...packs.map((p) => p.key), "81234569999999999999"]);
    expect(verifyMultiProof(batch.root, batch.multiProof(hierarchy.expandShipment([caseB.key])))).to.equal(true);
  });

  it("refuses a unit in two containers, a container filled twice, a cycle, a pack shipped twice, an unknown case", async () => {
    const hierarchy = await palletOfTwoCases();
    const codeOf = (f: () => unknown) => {
      try {
        f();
        return "accepted";
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    const other = parseCode("(00)006141411234567913").key;
    expect(codeOf(() => hierarchy.add({ container: other, contents: [packs[0]!.key], contentsRoot: "0x" }))).to.equal("CODE_ALREADY_AGGREGATED");
    expect(codeOf(() => hierarchy.add({ container: caseA.key, contents: ["81234569999999999999"], contentsRoot: "0x" }))).to.equal(
      "CODE_ALREADY_AGGREGATED",
    );
    hierarchy.add({ container: other, contents: [pallet.key], contentsRoot: "0x" });
    expect(codeOf(() => hierarchy.add({ container: caseA.key.replace("(00)0", "(00)1"), contents: [other], contentsRoot: "0x" }))).to.equal(
      "accepted",
    );
    const loop = createHierarchy([{ container: caseA.key, contents: [caseB.key], contentsRoot: "0x" }]);
    expect(codeOf(() => loop.add({ container: caseB.key, contents: [caseA.key], contentsRoot: "0x" }))).to.equal("CODE_AGGREGATION_CYCLE");
    expect(codeOf(() => hierarchy.expandShipment([caseA.key, packs[0]!.key]))).to.equal("CODE_DUPLICATE");
    expect(codeOf(() => hierarchy.packsOf("(00)006141419999999997"))).to.equal("CODE_EMPTY_CONTAINER");
  });
});
