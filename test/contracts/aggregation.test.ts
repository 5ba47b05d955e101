import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { aggregationTree, packId } from "../../src/codes";
import type { Aggregate } from "../../src/codes";
import { Role } from "../../src/ledger";
import { deployConsortium, handOver, onboard, releasedBatch, ZHEJIANG } from "./fixtures";
import type { Consortium, Party } from "./fixtures";

const PALLET = "(00)106141412345678908";
const CASE_A = "(00)006141411234567890";
const CASE_B = "(00)006141411234567906";

/** A released batch of 8 packs in two cases of four on one pallet, the aggregation not yet committed. */
async function packedBatch() {
  const c = await deployConsortium();
  const { batchId, codes } = await releasedBatch(c, "B-CASE-001", 100n, 8);
  const aggregates: Aggregate[] = [
    { container: CASE_A, contents: codes.slice(0, 4), contentsRoot: "" },
    { container: CASE_B, contents: codes.slice(4), contentsRoot: "" },
    { container: PALLET, contents: [CASE_A, CASE_B], contentsRoot: "" },
  ];
  const tree = aggregationTree(aggregates);
  const otherCmo = await onboard(c, Role.Cmo, ZHEJIANG, "Ningbo Contract Manufacturing");
  return { ...c, batchId, codes, tree, otherCmo };
}
type Packed = Awaited<ReturnType<typeof packedBatch>>;

async function commit(c: Packed, overrides: Record<string, unknown> = {}, by: Party = c.cmo) {
  const { message, signature } = await c.sign("AggregationLedger", "AggregationCommitment", by.key, {
    cmoId: by.id,
    batchId: c.batchId,
    aggregationRoot: c.tree.root,
    containers: c.tree.containers,
    packs: c.tree.packs,
    ...overrides,
  });
  return c.aggregations.commitAggregation(message as never, signature);
}

async function unpack(c: Packed, by: Party, container: string, units: string[]) {
  const { units: ids, proof, proofFlags } = c.tree.multiProof(container, units);
  const { message, signature } = await c.sign("AggregationLedger", "Unpacking", by.key, {
    organizationId: by.id,
    batchId: c.batchId,
    containerId: packId(container),
    units: ids,
  });
  return c.aggregations.unpackUnits(message as never, proof, proofFlags, signature);
}

const inCase = (c: Consortium & { tree: Packed["tree"]; batchId: string }, container: string, unit: string) =>
  c.aggregations.isUnitInContainer(c.batchId, packId(container), packId(unit), c.tree.proof(container, unit));

describe("AggregationLedger", () => {
  describe("commitAggregation", () => {
    it("stores the batch's aggregation root and emits it with the CMO's signature", async () => {
      const c = await loadFixture(packedBatch);
      await expect(commit(c)).to.emit(c.aggregations, "AggregationCommitted");
      expect(await c.aggregations.aggregationRoot(c.batchId)).to.equal(c.tree.root);
      expect(await inCase(c, CASE_A, c.codes[2]!)).to.equal(true);
      expect(await inCase(c, PALLET, CASE_B)).to.equal(true);
    });

    it("commitAggregation_revertsWhenNotCmoRole", async () => {
      const c = await loadFixture(packedBatch);
      await expect(commit(c, { cmoId: c.mah.id }, c.mah)).to.be.revertedWithCustomError(c.aggregations, "OrganizationRoleMismatch");
    });

    it("commitAggregation_revertsWhenBatchUnknown", async () => {
      const c = await loadFixture(packedBatch);
      await expect(commit(c, { batchId: `0x${"ab".repeat(32)}` })).to.be.revertedWithCustomError(c.aggregations, "UnknownBatch");
    });

    it("commitAggregation_revertsWhenNotTheBatchCmo", async () => {
      const c = await loadFixture(packedBatch);
      await expect(commit(c, {}, c.otherCmo))
        .to.be.revertedWithCustomError(c.aggregations, "NotBatchCmo")
        .withArgs(c.batchId, c.otherCmo.id);
    });

    it("commitAggregation_revertsWhenAlreadyCommitted", async () => {
      const c = await loadFixture(packedBatch);
      await commit(c);
      await expect(commit(c)).to.be.revertedWithCustomError(c.aggregations, "AggregationAlreadyCommitted").withArgs(c.batchId);
    });

    it("commitAggregation_revertsWhenEmpty", async () => {
      const c = await loadFixture(packedBatch);
      for (const empty of [{ aggregationRoot: `0x${"00".repeat(32)}` }, { containers: 0 }, { packs: 0 }]) {
        await expect(commit(c, empty)).to.be.revertedWithCustomError(c.aggregations, "EmptyAggregation").withArgs(c.batchId);
      }
    });

    it("commitAggregation_revertsWhenMorePacksThanTheCmoHolds", async () => {
      const c = await loadFixture(packedBatch);
      await handOver(c, c.cmo, c.distributor, c.batchId, 95n);
      await expect(commit(c, { packs: 8 }))
        .to.be.revertedWithCustomError(c.aggregations, "AggregationExceedsHolding")
        .withArgs(c.batchId, 5n, 8n);
    });

    it("commitAggregation_revertsOnReplay", async () => {
      const c = await loadFixture(packedBatch);
      const { message, signature } = await c.sign("AggregationLedger", "AggregationCommitment", c.cmo.key, {
        cmoId: c.cmo.id,
        batchId: c.batchId,
        aggregationRoot: c.tree.root,
        containers: 3,
        packs: 8,
      });
      await c.aggregations.commitAggregation(message as never, signature);
      await expect(c.aggregations.commitAggregation(message as never, signature)).to.be.revertedWithCustomError(
        c.aggregations,
        "AttestationNonceUsed",
      );
    });
  });

  describe("unpackUnits", () => {
    async function committed() {
      const c = await packedBatch();
      await commit(c);
      await handOver(c, c.cmo, c.distributor, c.batchId, 40n);
      return c;
    }

    it("takes packs out of a case: they are no longer inside it, the others still are", async () => {
      const c = await loadFixture(committed);
      await expect(unpack(c, c.distributor, CASE_A, [c.codes[0]!, c.codes[3]!])).to.emit(c.aggregations, "UnitsUnpacked");
      expect(await inCase(c, CASE_A, c.codes[0]!)).to.equal(false);
      expect(await inCase(c, CASE_A, c.codes[1]!)).to.equal(true);
      expect(await c.aggregations.isUnpacked(packId(CASE_A), packId(c.codes[3]!))).to.equal(true);
    });

    it("takes a case off a pallet", async () => {
      const c = await loadFixture(committed);
      await unpack(c, c.cmo, PALLET, [CASE_B]);
      expect(await inCase(c, PALLET, CASE_B)).to.equal(false);
      expect(await inCase(c, PALLET, CASE_A)).to.equal(true);
    });

    it("unpackUnits_revertsWhenNotCommitted", async () => {
      const c = await loadFixture(packedBatch);
      await expect(unpack(c, c.cmo, CASE_A, [c.codes[0]!]))
        .to.be.revertedWithCustomError(c.aggregations, "AggregationNotCommitted")
        .withArgs(c.batchId);
    });

    it("unpackUnits_revertsWhenTheOrganizationHoldsNone", async () => {
      const c = await loadFixture(committed);
      await expect(unpack(c, c.dispenser, CASE_A, [c.codes[0]!]))
        .to.be.revertedWithCustomError(c.aggregations, "NotUnitHolder")
        .withArgs(c.batchId, c.dispenser.id);
    });

    it("unpackUnits_revertsWhenNoUnits", async () => {
      const c = await loadFixture(committed);
      const { message, signature } = await c.sign("AggregationLedger", "Unpacking", c.distributor.key, {
        organizationId: c.distributor.id,
        batchId: c.batchId,
        containerId: packId(CASE_A),
        units: [],
      });
      await expect(c.aggregations.unpackUnits(message as never, [], [], signature)).to.be.revertedWithCustomError(c.aggregations, "NoUnits");
    });

    it("unpackUnits_revertsWhenAUnitIsNotInThatContainer", async () => {
      const c = await loadFixture(committed);
      // A proof for CASE_B's pack presented as CASE_A's.
      const { units, proof, proofFlags } = c.tree.multiProof(CASE_B, [c.codes[5]!]);
      const { message, signature } = await c.sign("AggregationLedger", "Unpacking", c.distributor.key, {
        organizationId: c.distributor.id,
        batchId: c.batchId,
        containerId: packId(CASE_A),
        units,
      });
      await expect(c.aggregations.unpackUnits(message as never, proof, proofFlags, signature))
        .to.be.revertedWithCustomError(c.aggregations, "UnitsNotInContainer")
        .withArgs(c.batchId, packId(CASE_A));
    });

    it("unpackUnits_revertsWhenAlreadyUnpacked", async () => {
      const c = await loadFixture(committed);
      await unpack(c, c.distributor, CASE_A, [c.codes[1]!]);
      await expect(unpack(c, c.distributor, CASE_A, [c.codes[1]!]))
        .to.be.revertedWithCustomError(c.aggregations, "UnitAlreadyUnpacked")
        .withArgs(packId(CASE_A), packId(c.codes[1]!));
    });

    it("unpackUnits_revertsWhenSignedByAStranger", async () => {
      const c = await loadFixture(committed);
      const { units, proof, proofFlags } = c.tree.multiProof(CASE_A, [c.codes[0]!]);
      const { message, signature } = await c.sign("AggregationLedger", "Unpacking", c.dispenser.key, {
        organizationId: c.distributor.id,
        batchId: c.batchId,
        containerId: packId(CASE_A),
        units,
      });
      await expect(c.aggregations.unpackUnits(message as never, proof, proofFlags, signature)).to.be.revertedWithCustomError(
        c.registry,
        "SignerNotOfOrganization",
      );
    });
  });
});
