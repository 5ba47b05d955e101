import { describe, it } from "vitest";
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, id as hashText, keccak256, ZeroHash } from "ethers";
import {
  AgreementKind,
  BatchImpact,
  BatchState,
  DeviationCategory,
  DeviationKind,
  DeviationSeverity,
  PersonRole,
  RecallLevel,
  RecallStatus,
  ReleaseTester,
  Role,
  RootCause,
} from "../../src/ledger";
import {
  agreementMessage,
  batchRecordMessage,
  batchSnapshot,
  closeDeviation,
  DAY,
  deployConsortium,
  onboard,
  openDeviation,
  packTree,
  recordBatch,
  releaseFromFactory,
  releaseToMarket,
  revokeAgreement,
  signAgreementBy,
  signClosure,
  signDeviation,
  signQualityAgreement,
  startRecall,
  packId,
  suspendOrganization,
  ZHEJIANG,
} from "./fixtures";
import type { Consortium, Party } from "./fixtures";
import { chinaTime } from "../../src/ledger/china-time";

const BATCH = "B-REL-001";

async function recordedBatch() {
  const c = await deployConsortium();
  const batchId = await recordBatch(c, BATCH);
  return { ...c, batchId };
}

async function factoryReleasedBatch() {
  const c = await recordedBatch();
  await releaseFromFactory(c, c.batchId);
  return c;
}

function expectedBatchId(productId: string, batchNumber: string) {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "string"], [productId, batchNumber]));
}

type Overrides = Record<string, unknown>;

async function signRecord(c: Consortium, batchNumber: string, overrides: Overrides = {}, by: Party = c.cmo) {
  return c.sign("BatchLedger", "BatchRecord", by.key, await batchRecordMessage(c, batchNumber, overrides));
}

async function submitRecord(c: Consortium, batchNumber: string, overrides: Overrides = {}, by: Party = c.cmo) {
  const { message, signature } = await signRecord(c, batchNumber, overrides, by);
  return c.batches.recordBatch(message as never, signature);
}

async function factoryRelease(c: Consortium, batchId: string, by: Party = c.cmo) {
  const { message, signature } = await c.sign("BatchLedger", "FactoryRelease", by.key, {
    cmoId: by.id,
    batchId,
    certificateHash: hashText("QA certificate"),
  });
  return c.batches.releaseFromFactory(message as never, signature);
}

async function marketRelease(c: Consortium, batchId: string, by: Party = c.mah) {
  const { message, signature } = await c.sign("BatchLedger", "MarketRelease", by.key, {
    mahId: by.id,
    batchId,
    decisionHash: hashText("market release decision"),
    signerRole: PersonRole.Organization,
    signerName: "",
  });
  return c.batches.releaseToMarket(message as never, signature);
}

/** An outsourced-storage agreement between the MAH and a distributor: an agreement, but not a quality one. */
async function storageAgreement(c: Consortium) {
  const message = await agreementMessage(c, c.mah, c.distributor, c.productId, {
    kind: AgreementKind.Storage,
    releaseTester: ReleaseTester.None,
  });
  const signed = await signAgreementBy(c, c.mah, c.distributor, message);
  await c.products.signAgreement(signed.message as never, signed.mahSignature, signed.counterpartySignature);
  return c.products.agreementId(c.mah.id, message.nonce);
}

describe("BatchLedger: manufacture and release", () => {
  describe("recordBatch", () => {
    it("recordBatch stores the batch with the CMO holding the whole quantity", async () => {
      const c = await loadFixture(deployConsortium);
      const record = await batchRecordMessage(c, BATCH, { quantity: 5000n });
      const { message, signature } = await c.sign("BatchLedger", "BatchRecord", c.cmo.key, record);
      await c.batches.recordBatch(message as never, signature);

      const batchId = expectedBatchId(c.productId, BATCH);
      expect(await c.batches.batchId(c.productId, BATCH)).to.equal(batchId);
      const snapshot = await batchSnapshot(c, batchId);
      expect(snapshot.batch).to.deep.equal({
        state: BigInt(BatchState.Manufactured),
        recall: BigInt(RecallStatus.None),
        recallLevel: BigInt(RecallLevel.None),
        openDeviations: 0n,
        mahId: BigInt(c.mah.id),
        cmoId: BigInt(c.cmo.id),
        holders: 1n,
        unacknowledgedHolders: 0n,
        shipmentsInTransit: 0n,
        expiresAt: BigInt(record.expiresAt),
        onHold: false,
      });
      const cmoHolding = await c.batches.holding(batchId, c.cmo.id);
      expect(cmoHolding.quantity).to.equal(5000n);
      expect(cmoHolding.recallAcknowledged).to.equal(false);
      expect(await c.batches.codesRoot(batchId)).to.equal(record.codesRoot);
      expect(await c.batches.isNonceUsed(c.cmo.id, message.nonce)).to.equal(true);
    });

    it("recordBatch returns the batch id derived from the product and batch number", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await signRecord(c, BATCH);
      expect(await c.batches.recordBatch.staticCall(message as never, signature)).to.equal(expectedBatchId(c.productId, BATCH));
    });

    it("recordBatch emits BatchRecorded with every field of the record", async () => {
      const c = await loadFixture(deployConsortium);
      const record = await batchRecordMessage(c, BATCH);
      const { message, signature } = await c.sign("BatchLedger", "BatchRecord", c.cmo.key, record);
      await expect(c.batches.recordBatch(message as never, signature))
        .to.emit(c.batches, "BatchRecorded")
        .withArgs(
          expectedBatchId(c.productId, BATCH),
          c.productId,
          c.cmo.id,
          c.mah.id,
          [
            c.cmo.id,
            message.nonce,
            c.agreementId,
            BATCH,
            record.quantity,
            record.manufacturedAt,
            record.expiresAt,
            record.batchRecordHash,
            record.codesRoot,
          ],
          c.cmo.key.address,
          signature,
        );
    });

    it("recordBatch accepts a batch number of 20 characters, the GS1 maximum", async () => {
      const c = await loadFixture(deployConsortium);
      const batchNumber = "L".repeat(20);
      await submitRecord(c, batchNumber);
      const batchId = expectedBatchId(c.productId, batchNumber);
      expect((await c.batches.batch(batchId)).state).to.equal(BatchState.Manufactured);
    });

    it("recordBatch commits a tree of thousands of codes by its root alone", async () => {
      const c = await loadFixture(deployConsortium);
      const { tree, codes } = packTree("B-BIG", 2048);
      await submitRecord(c, "B-BIG", { codesRoot: tree.root, quantity: 2048n });
      const batchId = expectedBatchId(c.productId, "B-BIG");
      expect(await c.batches.codesRoot(batchId)).to.equal(tree.root);
      const code = codes[1500]!;
      expect(await c.batches.isPackOfBatch(batchId, packId(code), tree.getProof([code]))).to.equal(true);
    });

    it("recordBatch reverts when the signer's organization is not a CMO", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(submitRecord(c, BATCH, { cmoId: c.mah.id }, c.mah))
        .to.be.revertedWithCustomError(c.registry, "OrganizationRoleMismatch")
        .withArgs(c.mah.id, Role.Mah, Role.Cmo);
    });

    it("recordBatch reverts when the CMO is suspended", async () => {
      const c = await loadFixture(deployConsortium);
      await suspendOrganization(c, c.cmo.id);
      await expect(submitRecord(c, BATCH)).to.be.revertedWithCustomError(c.registry, "SuspendedOrganization").withArgs(c.cmo.id);
    });

    it("recordBatch reverts when a record is replayed", async () => {
      const c = await loadFixture(deployConsortium);
      const { message, signature } = await signRecord(c, BATCH);
      await c.batches.recordBatch(message as never, signature);
      await expect(c.batches.recordBatch(message as never, signature))
        .to.be.revertedWithCustomError(c.batches, "AttestationNonceUsed")
        .withArgs(c.cmo.id, message.nonce);
    });

    it("recordBatch reverts when the agreement does not exist", async () => {
      const c = await loadFixture(deployConsortium);
      const unknown = hashText("no such agreement");
      await expect(submitRecord(c, BATCH, { agreementId: unknown }))
        .to.be.revertedWithCustomError(c.batches, "UnknownAgreement")
        .withArgs(unknown);
    });

    it("recordBatch reverts when the agreement is not a quality agreement", async () => {
      const c = await loadFixture(deployConsortium);
      const agreementId = await storageAgreement(c);
      await expect(submitRecord(c, BATCH, { agreementId }))
        .to.be.revertedWithCustomError(c.batches, "NotQualityAgreement")
        .withArgs(agreementId);
    });

    it("recordBatch reverts when the CMO is not the agreement's counterparty", async () => {
      const c = await loadFixture(deployConsortium);
      const otherCmo = await onboard(c, Role.Cmo, ZHEJIANG, "Ningbo Contract Manufacturing");
      await expect(submitRecord(c, BATCH, { cmoId: otherCmo.id }, otherCmo))
        .to.be.revertedWithCustomError(c.batches, "NotAgreementCounterparty")
        .withArgs(c.agreementId, otherCmo.id);
    });

    it("recordBatch reverts when the agreement was revoked", async () => {
      const c = await loadFixture(deployConsortium);
      await revokeAgreement(c, c.mah, c.agreementId);
      await expect(submitRecord(c, BATCH)).to.be.revertedWithCustomError(c.batches, "RevokedAgreement").withArgs(c.agreementId);
    });

    it("recordBatch reverts before the agreement's validity window opens", async () => {
      const c = await loadFixture(deployConsortium);
      const now = await time.latest();
      const validFrom = now + 30 * DAY;
      const validUntil = now + 365 * DAY;
      const agreementId = await signQualityAgreement(c, c.mah, c.cmo, c.productId, { validFrom, validUntil });
      await expect(submitRecord(c, BATCH, { agreementId }))
        .to.be.revertedWithCustomError(c.batches, "AgreementNotInForce")
        .withArgs(agreementId, validFrom, validUntil);
    });

    it("recordBatch reverts once the agreement has expired", async () => {
      const c = await loadFixture(deployConsortium);
      const terms = await c.products.agreementTerms(c.agreementId);
      await time.increaseTo(terms.validUntil);
      await expect(submitRecord(c, BATCH))
        .to.be.revertedWithCustomError(c.batches, "AgreementNotInForce")
        .withArgs(c.agreementId, terms.validFrom, terms.validUntil);
    });

    it("recordBatch reverts when the batch number is empty", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(submitRecord(c, "")).to.be.revertedWithCustomError(c.batches, "InvalidBatchNumber").withArgs("");
    });

    it("recordBatch reverts when the batch number is longer than 20 characters", async () => {
      const c = await loadFixture(deployConsortium);
      const batchNumber = "L".repeat(21);
      await expect(submitRecord(c, batchNumber)).to.be.revertedWithCustomError(c.batches, "InvalidBatchNumber").withArgs(batchNumber);
    });

    it("recordBatch reverts when the quantity is zero", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(submitRecord(c, BATCH, { quantity: 0n }))
        .to.be.revertedWithCustomError(c.batches, "ZeroQuantity")
        .withArgs();
    });

    it("recordBatch reverts when the manufacturing date is in the future", async () => {
      const c = await loadFixture(deployConsortium);
      const now = await time.latest();
      const manufacturedAt = now + DAY;
      const expiresAt = now + 365 * DAY;
      await expect(submitRecord(c, BATCH, { manufacturedAt, expiresAt }))
        .to.be.revertedWithCustomError(c.batches, "InvalidBatchDates")
        .withArgs(manufacturedAt, expiresAt);
    });

    it("recordBatch reverts when the batch has already expired", async () => {
      const c = await loadFixture(deployConsortium);
      const now = await time.latest();
      const manufacturedAt = now - 400 * DAY;
      const expiresAt = now - DAY;
      await expect(submitRecord(c, BATCH, { manufacturedAt, expiresAt }))
        .to.be.revertedWithCustomError(c.batches, "InvalidBatchDates")
        .withArgs(manufacturedAt, expiresAt);
    });

    it("recordBatch accepts a batch whose expiry is the current block's second (still valid until it ends)", async () => {
      const c = await loadFixture(deployConsortium);
      const expiresAt = (await time.latest()) + 10;
      await time.setNextBlockTimestamp(expiresAt);
      await submitRecord(c, BATCH, { manufacturedAt: expiresAt - DAY, expiresAt });
      expect((await c.batches.batch(expectedBatchId(c.productId, BATCH))).expiresAt).to.equal(BigInt(expiresAt));
    });

    it("recordBatch reverts when the batch expires before it is made", async () => {
      const c = await loadFixture(deployConsortium);
      const manufacturedAt = (await time.latest()) - DAY;
      await expect(submitRecord(c, BATCH, { manufacturedAt, expiresAt: manufacturedAt - 1 }))
        .to.be.revertedWithCustomError(c.batches, "InvalidBatchDates")
        .withArgs(manufacturedAt, manufacturedAt - 1);
    });

    it("recordBatch reverts when the batch expires when it is made", async () => {
      const c = await loadFixture(deployConsortium);
      const manufacturedAt = (await time.latest()) - DAY;
      await expect(submitRecord(c, BATCH, { manufacturedAt, expiresAt: manufacturedAt }))
        .to.be.revertedWithCustomError(c.batches, "InvalidBatchDates")
        .withArgs(manufacturedAt, manufacturedAt);
    });

    it("recordBatch reverts when the codes root is empty", async () => {
      const c = await loadFixture(deployConsortium);
      await expect(submitRecord(c, BATCH, { codesRoot: ZeroHash }))
        .to.be.revertedWithCustomError(c.batches, "EmptyCodesRoot")
        .withArgs();
    });

    it("recordBatch reverts when the batch number was already recorded for the product, keeping the first record", async () => {
      const c = await loadFixture(recordedBatch);
      const before = await batchSnapshot(c, c.batchId);
      const firstRoot = await c.batches.codesRoot(c.batchId);
      await expect(submitRecord(c, BATCH, { quantity: 7n, codesRoot: packTree("other", 4).tree.root }))
        .to.be.revertedWithCustomError(c.batches, "BatchAlreadyRecorded")
        .withArgs(c.batchId);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
      expect(await c.batches.codesRoot(c.batchId)).to.equal(firstRoot);
    });
  });

  describe("openDeviation", () => {
    it("openDeviation by the CMO opens the report and counts it against the batch", async () => {
      const c = await loadFixture(recordedBatch);
      const reportHash = hashText("OOS assay 97.1%");
      await openDeviation(c, c.cmo, c.batchId, { kind: DeviationKind.OutOfSpecification, reportHash });
      expect(await c.batches.deviationStatus(c.batchId, reportHash)).to.equal(1n);
      expect((await c.batches.batch(c.batchId)).openDeviations).to.equal(1n);
    });

    it("openDeviation by the MAH is accepted too, and each report counts", async () => {
      const c = await loadFixture(recordedBatch);
      await openDeviation(c, c.cmo, c.batchId, { reportHash: hashText("DR-1") });
      await openDeviation(c, c.mah, c.batchId, { kind: DeviationKind.OutOfTrend, reportHash: hashText("OOT-1") });
      expect(await c.batches.deviationStatus(c.batchId, hashText("OOT-1"))).to.equal(1n);
      expect((await c.batches.batch(c.batchId)).openDeviations).to.equal(2n);
    });

    it("openDeviation emits DeviationOpened with every field of the report", async () => {
      const c = await loadFixture(recordedBatch);
      const reportHash = hashText("OOT stability 6M");
      const { message, signature } = await signDeviation(c, c.mah, c.batchId, {
        kind: DeviationKind.OutOfTrend,
        reportHash,
      });
      await expect(c.batches.openDeviation(message as never, signature))
        .to.emit(c.batches, "DeviationOpened")
        .withArgs(
          c.batchId,
          c.mah.id,
          [c.mah.id, message.nonce, c.batchId, DeviationKind.OutOfTrend, DeviationSeverity.Minor, DeviationCategory.Process, reportHash],
          false,
          c.mah.key.address,
          signature,
        );
    });

    it("openDeviation reverts for an unknown batch", async () => {
      const c = await loadFixture(recordedBatch);
      const unknown = expectedBatchId(c.productId, "NO-SUCH-BATCH");
      await expect(openDeviation(c, c.cmo, unknown))
        .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
        .withArgs(unknown);
    });

    it("openDeviation reverts when the organization is neither the batch's MAH nor its CMO", async () => {
      const c = await loadFixture(recordedBatch);
      await expect(openDeviation(c, c.distributor, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "NotBatchParty")
        .withArgs(c.batchId, c.distributor.id);
      expect((await c.batches.batch(c.batchId)).openDeviations).to.equal(0n);
    });

    it("openDeviation reverts when the kind is None", async () => {
      const c = await loadFixture(recordedBatch);
      await expect(openDeviation(c, c.cmo, c.batchId, { kind: DeviationKind.None }))
        .to.be.revertedWithCustomError(c.batches, "InvalidDeviationKind")
        .withArgs();
    });

    it("openDeviation reverts when the report is already open, without counting it twice", async () => {
      const c = await loadFixture(recordedBatch);
      const reportHash = hashText("DR-7");
      await openDeviation(c, c.cmo, c.batchId, { reportHash });
      await expect(openDeviation(c, c.mah, c.batchId, { reportHash }))
        .to.be.revertedWithCustomError(c.batches, "DeviationAlreadyReported")
        .withArgs(c.batchId, reportHash);
      expect((await c.batches.batch(c.batchId)).openDeviations).to.equal(1n);
    });

    it("openDeviation reverts when a closed report is opened again", async () => {
      const c = await loadFixture(recordedBatch);
      const reportHash = hashText("DR-8");
      await openDeviation(c, c.cmo, c.batchId, { reportHash });
      await closeDeviation(c, c.cmo, c.batchId, { reportHash });
      await expect(openDeviation(c, c.cmo, c.batchId, { reportHash }))
        .to.be.revertedWithCustomError(c.batches, "DeviationAlreadyReported")
        .withArgs(c.batchId, reportHash);
      expect(await c.batches.deviationStatus(c.batchId, reportHash)).to.equal(2n);
    });
  });

  describe("closeDeviation", () => {
    it("closeDeviation closes the report and uncounts it", async () => {
      const c = await loadFixture(recordedBatch);
      await openDeviation(c, c.cmo, c.batchId);
      await closeDeviation(c, c.cmo, c.batchId);
      expect(await c.batches.deviationStatus(c.batchId, hashText("deviation report DR-001"))).to.equal(2n);
      expect((await c.batches.batch(c.batchId)).openDeviations).to.equal(0n);
    });

    it("closeDeviation by the MAH closes a deviation the CMO opened", async () => {
      const c = await loadFixture(recordedBatch);
      await openDeviation(c, c.cmo, c.batchId);
      await closeDeviation(c, c.mah, c.batchId);
      expect((await c.batches.batch(c.batchId)).openDeviations).to.equal(0n);
    });

    it("closeDeviation emits DeviationClosed with every field of the closure", async () => {
      const c = await loadFixture(recordedBatch);
      await openDeviation(c, c.cmo, c.batchId);
      const reportHash = hashText("deviation report DR-001");
      const closureHash = hashText("CAPA-2024-17");
      const { message, signature } = await signClosure(c, c.cmo, c.batchId, { closureHash });
      await expect(c.batches.closeDeviation(message as never, signature))
        .to.emit(c.batches, "DeviationClosed")
        .withArgs(
          c.batchId,
          c.cmo.id,
          [c.cmo.id, message.nonce, c.batchId, reportHash, RootCause.Method, BatchImpact.NoImpact, closureHash],
          c.cmo.key.address,
          signature,
        );
    });

    it("closeDeviation reverts for an unknown batch", async () => {
      const c = await loadFixture(recordedBatch);
      const unknown = expectedBatchId(c.productId, "NO-SUCH-BATCH");
      await expect(closeDeviation(c, c.cmo, unknown))
        .to.be.revertedWithCustomError(c.batches, "UnknownBatch")
        .withArgs(unknown);
    });

    it("closeDeviation reverts when the organization is neither the batch's MAH nor its CMO", async () => {
      const c = await loadFixture(recordedBatch);
      await openDeviation(c, c.cmo, c.batchId);
      await expect(closeDeviation(c, c.dispenser, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "NotBatchParty")
        .withArgs(c.batchId, c.dispenser.id);
      expect((await c.batches.batch(c.batchId)).openDeviations).to.equal(1n);
    });

    it("closeDeviation reverts when the report was never opened", async () => {
      const c = await loadFixture(recordedBatch);
      const reportHash = hashText("never reported");
      await expect(closeDeviation(c, c.cmo, c.batchId, { reportHash }))
        .to.be.revertedWithCustomError(c.batches, "DeviationNotOpen")
        .withArgs(c.batchId, reportHash);
    });

    it("closeDeviation reverts when the report is already closed, without uncounting it twice", async () => {
      const c = await loadFixture(recordedBatch);
      await openDeviation(c, c.cmo, c.batchId);
      await openDeviation(c, c.cmo, c.batchId, { reportHash: hashText("DR-2") });
      await closeDeviation(c, c.cmo, c.batchId);
      await expect(closeDeviation(c, c.mah, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "DeviationNotOpen")
        .withArgs(c.batchId, hashText("deviation report DR-001"));
      expect((await c.batches.batch(c.batchId)).openDeviations).to.equal(1n);
    });
  });

  describe("releaseFromFactory", () => {
    it("releaseFromFactory moves a manufactured batch to factory released", async () => {
      const c = await loadFixture(recordedBatch);
      await factoryRelease(c, c.batchId);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.FactoryReleased);
    });

    it("releaseFromFactory emits BatchFactoryReleased with every field of the release", async () => {
      const c = await loadFixture(recordedBatch);
      const certificateHash = hashText("QA certificate CoA-0042");
      const { message, signature } = await c.sign("BatchLedger", "FactoryRelease", c.cmo.key, {
        cmoId: c.cmo.id,
        batchId: c.batchId,
        certificateHash,
      });
      await expect(c.batches.releaseFromFactory(message as never, signature))
        .to.emit(c.batches, "BatchFactoryReleased")
        .withArgs(c.batchId, c.cmo.id, [c.cmo.id, message.nonce, c.batchId, certificateHash], c.cmo.key.address, signature);
    });

    it("releaseFromFactory succeeds once every deviation is closed", async () => {
      const c = await loadFixture(recordedBatch);
      await openDeviation(c, c.cmo, c.batchId);
      await closeDeviation(c, c.cmo, c.batchId);
      await factoryRelease(c, c.batchId);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.FactoryReleased);
    });

    it("releaseFromFactory reverts for an unknown batch", async () => {
      const c = await loadFixture(recordedBatch);
      const unknown = expectedBatchId(c.productId, "NO-SUCH-BATCH");
      await expect(factoryRelease(c, unknown)).to.be.revertedWithCustomError(c.batches, "UnknownBatch").withArgs(unknown);
    });

    it("releaseFromFactory reverts when signed by the MAH instead of the batch's CMO", async () => {
      const c = await loadFixture(recordedBatch);
      await expect(factoryRelease(c, c.batchId, c.mah))
        .to.be.revertedWithCustomError(c.batches, "NotBatchCmo")
        .withArgs(c.batchId, c.mah.id);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.Manufactured);
    });

    it("releaseFromFactory reverts when signed by another CMO", async () => {
      const c = await loadFixture(recordedBatch);
      const otherCmo = await onboard(c, Role.Cmo, ZHEJIANG, "Ningbo Contract Manufacturing");
      await expect(factoryRelease(c, c.batchId, otherCmo))
        .to.be.revertedWithCustomError(c.batches, "NotBatchCmo")
        .withArgs(c.batchId, otherCmo.id);
    });

    it("releaseFromFactory reverts while a deviation is open", async () => {
      const c = await loadFixture(recordedBatch);
      await openDeviation(c, c.mah, c.batchId);
      await expect(factoryRelease(c, c.batchId)).to.be.revertedWithCustomError(c.batches, "BatchHasOpenDeviations").withArgs(c.batchId, 1);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.Manufactured);
    });

    it("releaseFromFactory reverts when the batch was already released from the factory", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      await expect(factoryRelease(c, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "BatchStateMismatch")
        .withArgs(c.batchId, BatchState.FactoryReleased, BatchState.Manufactured);
    });

    it("releaseFromFactory reverts once the batch is recalled", async () => {
      const c = await loadFixture(recordedBatch);
      await startRecall(c, c.mah, c.batchId, RecallLevel.I);
      await expect(factoryRelease(c, c.batchId)).to.be.revertedWithCustomError(c.batches, "BatchRecalled").withArgs(c.batchId);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.Manufactured);
    });
  });

  describe("releaseToMarket", () => {
    it("releaseToMarket moves a factory-released batch to market released", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      await marketRelease(c, c.batchId);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.MarketReleased);
    });

    it("releaseToMarket emits BatchMarketReleased with every field of the release", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      const decisionHash = hashText("QP decision MR-2024-0042");
      const { message, signature } = await c.sign("BatchLedger", "MarketRelease", c.mah.key, {
        mahId: c.mah.id,
        batchId: c.batchId,
        decisionHash,
        signerRole: PersonRole.Organization,
        signerName: "",
      });
      await expect(c.batches.releaseToMarket(message as never, signature))
        .to.emit(c.batches, "BatchMarketReleased")
        .withArgs(c.batchId, c.mah.id, [c.mah.id, message.nonce, c.batchId, decisionHash, PersonRole.Organization, ""], c.mah.key.address, signature);
    });

    it("releaseToMarket succeeds at 23:59:59 China time on the batch's expiry date, its last valid second", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      const { expiresAt } = await c.batches.batch(c.batchId);
      expect(chinaTime(Number(expiresAt))).to.match(/T23:59:59\.000\+08:00$/);
      await time.setNextBlockTimestamp(expiresAt);
      await marketRelease(c, c.batchId);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.MarketReleased);
    });

    it("releaseToMarket reverts for an unknown batch", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      const unknown = expectedBatchId(c.productId, "NO-SUCH-BATCH");
      await expect(marketRelease(c, unknown)).to.be.revertedWithCustomError(c.batches, "UnknownBatch").withArgs(unknown);
    });

    it("releaseToMarket reverts when signed by the CMO instead of the batch's MAH", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      await expect(marketRelease(c, c.batchId, c.cmo))
        .to.be.revertedWithCustomError(c.batches, "NotBatchMah")
        .withArgs(c.batchId, c.cmo.id);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.FactoryReleased);
    });

    it("releaseToMarket reverts when signed by another MAH", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      const otherMah = await onboard(c, Role.Mah, ZHEJIANG, "Hangzhou B-Pharma");
      await expect(marketRelease(c, c.batchId, otherMah))
        .to.be.revertedWithCustomError(c.batches, "NotBatchMah")
        .withArgs(c.batchId, otherMah.id);
    });

    it("releaseToMarket reverts when the MAH is suspended", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      await suspendOrganization(c, c.mah.id);
      await expect(marketRelease(c, c.batchId)).to.be.revertedWithCustomError(c.registry, "SuspendedOrganization").withArgs(c.mah.id);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.FactoryReleased);
    });

    it("releaseToMarket reverts before factory release", async () => {
      const c = await loadFixture(recordedBatch);
      await expect(marketRelease(c, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "BatchStateMismatch")
        .withArgs(c.batchId, BatchState.Manufactured, BatchState.FactoryReleased);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.Manufactured);
    });

    it("releaseToMarket reverts when the batch is already on the market", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      await releaseToMarket(c, c.batchId);
      await expect(marketRelease(c, c.batchId))
        .to.be.revertedWithCustomError(c.batches, "BatchStateMismatch")
        .withArgs(c.batchId, BatchState.MarketReleased, BatchState.FactoryReleased);
    });

    it("releaseToMarket reverts while a deviation is open", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      await openDeviation(c, c.mah, c.batchId, { kind: DeviationKind.OutOfSpecification });
      await openDeviation(c, c.cmo, c.batchId, { reportHash: hashText("DR-2") });
      const before = await batchSnapshot(c, c.batchId);
      await expect(marketRelease(c, c.batchId)).to.be.revertedWithCustomError(c.batches, "BatchHasOpenDeviations").withArgs(c.batchId, 2);
      expect(await batchSnapshot(c, c.batchId)).to.deep.equal(before);
    });

    it("releaseToMarket succeeds once the deviations opened after factory release are closed", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      await openDeviation(c, c.mah, c.batchId);
      await closeDeviation(c, c.cmo, c.batchId);
      await marketRelease(c, c.batchId);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.MarketReleased);
    });

    it("releaseToMarket reverts from midnight after the batch's expiry date", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      const { expiresAt } = await c.batches.batch(c.batchId);
      await time.setNextBlockTimestamp(expiresAt + 1n);
      await expect(marketRelease(c, c.batchId)).to.be.revertedWithCustomError(c.batches, "BatchExpired").withArgs(c.batchId, expiresAt);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.FactoryReleased);
    });

    it("releaseToMarket reverts once the batch is recalled", async () => {
      const c = await loadFixture(factoryReleasedBatch);
      await startRecall(c, c.regulator2, c.batchId, RecallLevel.II);
      await expect(marketRelease(c, c.batchId)).to.be.revertedWithCustomError(c.batches, "BatchRecalled").withArgs(c.batchId);
      expect((await c.batches.batch(c.batchId)).state).to.equal(BatchState.FactoryReleased);
    });
  });
});
