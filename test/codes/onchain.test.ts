import { beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import hre from "hardhat";
import type { MerkleProofHarness } from "../../typechain-types";
import { buildCodeTree, generatePacks, openTree, packId, packLeaf, writeTree } from "../../src/codes";

/** Proofs from our trees must pass OpenZeppelin's MerkleProof on the EVM, the check the ledger's contracts make. */
describe("proofs checked on-chain by OpenZeppelin MerkleProof", () => {
  let harness: MerkleProofHarness;
  const keys = [...generatePacks({ scheme: "gs1", productCode: "09506000134352", key: Buffer.alloc(16, 3), firstIndex: 0, count: 257 })].map(
    (p) => p.key,
  );

  beforeAll(async () => {
    harness = (await hre.ethers.deployContract("MerkleProofHarness")) as unknown as MerkleProofHarness;
  });

  it("derives the same leaf from a canonical key as packLeaf", async () => {
    for (const key of [keys[0] as string, "81234560000012345678", "(00)106141412345678908"])
      expect(await harness.leafOf(key)).to.equal(packLeaf(key));
  });

  it("accepts the proof of every code of a stored batch and rejects it for another code", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "codes-onchain-"));
    try {
      const summary = await writeTree(path.join(dir, "batch.tree"), keys, { spillThreshold: 64, nodeChunk: 16 });
      const tree = openTree(summary.path);
      for (const key of keys.filter((_, i) => i % 16 === 0 || i === keys.length - 1)) {
        expect(await harness.verify(tree.proof(key), summary.root, packLeaf(key)), key).to.equal(true);
      }
      expect(await harness.verify(tree.proof(keys[1] as string), summary.root, packLeaf(keys[2] as string))).to.equal(false);
      tree.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("accepts multiproofs for the packs of a shipment, and rejects one with a pack swapped", async () => {
    const tree = await buildCodeTree(keys);
    for (const shipment of [keys.slice(0, 1), keys.slice(10, 22), keys.filter((_, i) => i % 7 === 3), keys]) {
      const { leaves, proof, proofFlags } = tree.multiProof(shipment);
      expect(await harness.multiProofVerify(proof, proofFlags, tree.root, leaves)).to.equal(true);
    }
    const { leaves, proof, proofFlags } = tree.multiProof(keys.slice(0, 4));
    const swapped = [packLeaf("(01)09506000134352(21)FORGED"), ...leaves.slice(1)];
    expect(await harness.multiProofVerify(proof, proofFlags, tree.root, swapped)).to.equal(false);
  });
});

/** The ledger itself: a batch committed with our root answers proofs and dispenses packs named by packId. */
describe("codes on the batch ledger", () => {
  it("proves a pack by its packId and dispenses packs with our multiproof", async () => {
    const { loadFixture } = await import("@nomicfoundation/hardhat-network-helpers");
    const fixtures = await import("../contracts/fixtures");
    const c = await loadFixture(fixtures.deployConsortium);
    const packs = [...generatePacks({ scheme: "gs1", productCode: fixtures.GTIN, key: Buffer.alloc(16, 9), firstIndex: 0, count: 40 })];
    const keys = packs.map((p) => p.key);
    const tree = await buildCodeTree(keys);
    const batchId = await fixtures.recordBatch(c, "L-CODES", { quantity: 40n, codesRoot: tree.root });
    expect(await c.batches.isPackOfBatch(batchId, packId(keys[7]!), tree.proof(keys[7]!))).to.equal(true);
    expect(await c.batches.isPackOfBatch(batchId, packLeaf(keys[7]!), tree.proof(keys[7]!))).to.equal(false);
    await fixtures.releaseFromFactory(c, batchId);
    await fixtures.releaseToMarket(c, batchId);
    await fixtures.handOver(c, c.cmo, c.dispenser, batchId, 40n);
    const dispensed = [keys[3]!, keys[11]!, keys[30]!];
    const multi = tree.multiProof(dispensed);
    const leafToKey = new Map(dispensed.map((key) => [packLeaf(key), key]));
    const ids = multi.leaves.map((leaf) => packId(leafToKey.get(leaf)!));
    const { message, signature } = await c.sign("BatchLedger", "Dispensing", c.dispenser.key, { dispenserId: c.dispenser.id, batchId, packs: ids });
    await c.batches.dispensePacks(message as never, multi.proof, multi.proofFlags, signature);
    for (const key of dispensed) expect(await c.batches.isPackDispensed(packId(key))).to.equal(true);
  });
});
