import { afterAll, describe, it } from "vitest";
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { buildCodeTree, createTreeHasher, openTree, packId, packLeaf, verifyMultiProof, verifyProof, writeTree } from "../../src/codes";
import { NODE_BYTES } from "../../src/codes/leaf";

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "codes-merkle-"));
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

function keys(count: number, prefix = "8123456"): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i * 7919 + 13).padStart(13, "0")}`);
}

function reference(values: string[]) {
  return StandardMerkleTree.of(
    values.map((v) => [v]),
    ["string"],
  );
}

/** A deterministic spread of subsets: every k-th key from several starting points. */
function subsets(values: string[]): string[][] {
  const result: string[][] = [[values[0] as string], values.slice(0, 2), values];
  for (const step of [2, 3, 5]) result.push(values.filter((_, i) => i % step === 1));
  return result.filter((s) => s.length > 0);
}

describe("packLeaf", () => {
  it('equals StandardMerkleTree\'s leaf hash for ["string"] over the canonical key', () => {
    for (const key of ["81234560000012345678", "(01)09506000134352(21)ABC\\(1", "(00)106141412345678908", "x".repeat(200), "药品"]) {
      expect(packLeaf(key)).to.equal(reference([key]).leafHash([key]));
    }
  });

  it("is what a tree hasher writes for the key, and for the key's pack id; a pack id that is not 32 bytes of hex is refused", async () => {
    const hasher = await createTreeHasher();
    const leaf = Buffer.alloc(NODE_BYTES);
    for (const key of ["81234560000012345678", "(01)09506000134352(21)ABC\\(1", "x".repeat(200)]) {
      hasher.leafInto(key, leaf, 0);
      expect(`0x${leaf.toString("hex")}`).to.equal(packLeaf(key));
      leaf.fill(0);
      hasher.leafOfPackInto(packId(key), leaf, 0);
      expect(`0x${leaf.toString("hex")}`).to.equal(packLeaf(key));
    }
    for (const bad of ["0x1234", `0x${"zz".repeat(32)}`]) expect(() => hasher.leafOfPackInto(bad, leaf, 0)).to.throw(TypeError);
  });
});

describe("buildCodeTree", () => {
  it("has the reference root and proofs for every size from 1 to 40 leaves", async () => {
    for (let n = 1; n <= 40; n++) {
      const values = keys(n);
      const ours = await buildCodeTree(values);
      const theirs = reference(values);
      expect(ours.root, `n=${n}`).to.equal(theirs.root);
      for (const value of values) expect(ours.proof(value)).to.deep.equal(theirs.getProof([value]));
    }
  });

  it("has the reference multiproofs, and they verify off-chain", async () => {
    for (const n of [1, 2, 3, 7, 16, 33]) {
      const values = keys(n);
      const ours = await buildCodeTree(values);
      const theirs = reference(values);
      for (const subset of subsets(values)) {
        const multi = ours.multiProof(subset);
        const expected = theirs.getMultiProof(subset.map((v) => [v]));
        expect(multi.proof).to.deep.equal(expected.proof);
        expect(multi.proofFlags).to.deep.equal(expected.proofFlags);
        expect(multi.leaves).to.deep.equal(expected.leaves.map((leaf) => packLeaf(leaf[0] as string)));
        expect(verifyMultiProof(ours.root, multi)).to.equal(true);
      }
    }
  });

  it("rejects a set that holds the same pack twice", async () => {
    const values = keys(10);
    await buildCodeTree([...values, values[3] as string]).then(
      () => expect.fail("accepted a duplicate"),
      (error) => expect(error.code).to.equal("CODE_DUPLICATE"),
    );
  });

  it("refuses a proof for a key outside the set", async () => {
    const tree = await buildCodeTree(keys(5));
    expect(tree.has("81234569999999999999")).to.equal(false);
    expect(() => tree.proof("81234569999999999999"))
      .to.throw()
      .with.property("code", "CODE_NOT_IN_BATCH");
  });
});

describe("verifyProof", () => {
  it("accepts the genuine proof and rejects another key, a wrong root, a tampered proof", async () => {
    const values = keys(9);
    const tree = await buildCodeTree(values);
    const proof = tree.proof(values[4] as string);
    expect(verifyProof(tree.root, values[4] as string, proof)).to.equal(true);
    expect(verifyProof(tree.root, values[5] as string, proof)).to.equal(false);
    expect(verifyProof(packLeaf("other"), values[4] as string, proof)).to.equal(false);
    expect(verifyProof(tree.root, values[4] as string, proof.slice(1))).to.equal(false);
  });
});

describe("stored tree file", () => {
  it("matches the in-memory tree when everything fits in memory", async () => {
    const values = keys(1000);
    const summary = await writeTree(path.join(workDir, "small.tree"), values);
    const theirs = reference(values);
    expect(summary.root).to.equal(theirs.root);
    const stored = openTree(summary.path);
    try {
      expect(stored.root).to.equal(theirs.root);
      for (const value of values.slice(0, 50)) expect(stored.proof(value)).to.deep.equal(theirs.getProof([value]));
    } finally {
      stored.close();
    }
  });

  it("matches the reference when leaves spill to bucket files and internal nodes span several chunks", async () => {
    const values = keys(3000, "9123456");
    const summary = await writeTree(path.join(workDir, "spilled.tree"), values, { spillThreshold: 500, nodeChunk: 64 });
    const theirs = reference(values);
    expect(summary).to.deep.include({ root: theirs.root, leafCount: 3000 });
    expect(fs.readdirSync(workDir).filter((f) => f.includes("spilled"))).to.deep.equal(["spilled.tree"]);
    const stored = openTree(summary.path);
    try {
      for (const value of values.filter((_, i) => i % 97 === 0)) expect(stored.proof(value)).to.deep.equal(theirs.getProof([value]));
      const subset = values.filter((_, i) => i % 250 === 0);
      const expected = theirs.getMultiProof(subset.map((v) => [v]));
      const multi = stored.multiProof(subset);
      expect(multi.proof).to.deep.equal(expected.proof);
      expect(multi.proofFlags).to.deep.equal(expected.proofFlags);
    } finally {
      stored.close();
    }
  });

  // 40,000 codes: 79,999 nodes (2.4 MiB), a tree mapped into memory where native/ is built; read through its index,
  // beyond the 16,383 held of its top, and leaves read from the file in blocks of 3.
  it.each([
    ["mapped into memory", true],
    ["read through its index", false],
  ])("answers from a large tree's file %s exactly as the tree built in memory does", async (_, map) => {
    const values = keys(40_000, "7123456");
    const summary = await writeTree(path.join(workDir, `large-${map}.tree`), values);
    const ours = await buildCodeTree(values);
    const stored = openTree(summary.path, { map });
    try {
      // native/ is built here (test/indexer/fast-verify.test.ts checks it loads).
      expect(stored).to.include({ bytes: 0, mapped: map });
      expect(stored.root).to.equal(ours.root);
      const sorted = values
        .map((value) => ({ value, leaf: packLeaf(value) }))
        .sort((a, b) => (a.leaf < b.leaf ? -1 : 1))
        .map(({ value }) => value);
      // The first and last leaves, the ends of a block, and a spread between.
      for (const value of [...sorted.slice(0, 4), ...sorted.slice(-4), ...values.filter((_, i) => i % 331 === 0)]) {
        expect(stored.proof(value)).to.deep.equal(ours.proof(value));
      }
      for (const absent of keys(50, "6123456")) expect(stored.has(absent)).to.equal(false);
      const subset = values.filter((_, i) => i % 4999 === 0);
      expect(stored.multiProof(subset)).to.deep.equal(ours.multiProof(subset));
    } finally {
      stored.close();
    }
  });

  it("leaves no file behind when the set holds a duplicate, spilled or not", async () => {
    for (const spillThreshold of [10_000, 100]) {
      const values = keys(400);
      const target = path.join(workDir, `dup-${spillThreshold}.tree`);
      await writeTree(target, [...values, values[17] as string], { spillThreshold }).then(
        () => expect.fail("accepted a duplicate"),
        (error) => {
          expect(error.code).to.equal("CODE_DUPLICATE");
          expect(error.leaves).to.deep.equal([packLeaf(values[17] as string)]);
        },
      );
      expect(fs.readdirSync(workDir).filter((f) => f.startsWith(`dup-${spillThreshold}`))).to.deep.equal([]);
    }
  });

  it("rejects a file that is not a stored tree or is truncated", async () => {
    const bogus = path.join(workDir, "bogus.tree");
    fs.writeFileSync(bogus, "not a tree at all, clearly not a tree");
    expect(() => openTree(bogus))
      .to.throw()
      .with.property("code", "CODE_TREE_CORRUPT");
    const summary = await writeTree(path.join(workDir, "cut.tree"), keys(10));
    fs.truncateSync(summary.path, 100);
    expect(() => openTree(summary.path))
      .to.throw()
      .with.property("code", "CODE_TREE_CORRUPT");
  });
});
