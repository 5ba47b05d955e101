import hre from "hardhat";
import { AbiCoder, keccak256, Wallet, id as hashText, ZeroHash } from "ethers";
import type { BaseContract, BaseWallet, ContractTransactionResponse, Signer } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import {
  AgreementKind,
  BatchImpact,
  createNonceSequence,
  DEFAULT_UNDO_WINDOW,
  DeviationCategory,
  DeviationKind,
  DeviationSeverity,
  PersonRole,
  provinceOf,
  ReleaseTester,
  RootCause,
  Role,
  signAttestation,
} from "../../src/ledger";
import type { AttestationType, LedgerContract } from "../../src/ledger";
import { endOfChinaDay } from "../../src/ledger/expiry";
import { chinaDate } from "../../src/ledger/china-time";
import {
  AggregationLedger__factory,
  AlertCases__factory,
  BatchLedger__factory,
  ConsortiumRegistry__factory,
  CorrectiveActions__factory,
  ProductRegistry__factory,
  QualityDuties__factory,
  RelayBundle__factory,
  SupervisionRecords__factory,
} from "../../typechain-types";

export const DAY = 24 * 60 * 60;
export const JIANGSU = 320000;
export const ZHEJIANG = 330000;
export const SHANGHAI = 310000;

/** An organization of the test consortium: its id and one signing key. */
export type Party = { id: number; key: BaseWallet; role: number; region: number };

export type Ledger = Awaited<ReturnType<typeof deployLedger>>;

/**
 * Deploys the four contracts with a bootstrapped Jiangsu regulator; a relayer pays for everything: by default
 * account 0 of the in-process Hardhat network, or a signer of another node (test/nodes.ts). `undoWindow` is
 * BatchLedger's: the seconds a dispensing, sample or export may be undone.
 */
export async function deployLedger(runner?: Signer, undoWindow = DEFAULT_UNDO_WINDOW) {
  const relayer = runner ?? (await hre.ethers.getSigners())[0]!;
  const regulatorKey = Wallet.createRandom();
  const registry = await new ConsortiumRegistry__factory(relayer).deploy({
    regulatorId: 0,
    nonce: 0,
    role: Role.Regulator,
    region: JIANGSU,
    licenceHash: hashText("NMPA Jiangsu"),
    signingKey: regulatorKey.address,
    name: "Jiangsu Medical Products Administration",
  });
  const products = await new ProductRegistry__factory(relayer).deploy(await registry.getAddress());
  const qualityDuties = await new QualityDuties__factory(relayer).deploy(await registry.getAddress(), await products.getAddress());
  const batches = await new BatchLedger__factory(relayer).deploy(
    await registry.getAddress(),
    await products.getAddress(),
    await qualityDuties.getAddress(),
    undoWindow,
  );
  const aggregations = await new AggregationLedger__factory(relayer).deploy(await registry.getAddress(), await batches.getAddress());
  await aggregations.waitForDeployment();
  const alertCases = await new AlertCases__factory(relayer).deploy(await registry.getAddress(), await batches.getAddress());
  await alertCases.waitForDeployment();
  await (await batches.bindAlertCases(await alertCases.getAddress())).wait();
  const capas = await new CorrectiveActions__factory(relayer).deploy(await registry.getAddress(), await batches.getAddress());
  await capas.waitForDeployment();
  await (await qualityDuties.bindBatchLedger(await batches.getAddress())).wait();
  const supervision = await new SupervisionRecords__factory(relayer).deploy(await registry.getAddress(), await batches.getAddress());
  await supervision.waitForDeployment();
  const relayBundle = await new RelayBundle__factory(relayer).deploy();
  await relayBundle.waitForDeployment();
  const { chainId } = await relayer.provider!.getNetwork();
  const nextNonce = createNonceSequence(0n);
  const contracts = {
    ConsortiumRegistry: registry,
    ProductRegistry: products,
    BatchLedger: batches,
    AggregationLedger: aggregations,
    AlertCases: alertCases,
    CorrectiveActions: capas,
    QualityDuties: qualityDuties,
    SupervisionRecords: supervision,
  };

  /** Signs `message` (its nonce filled in when absent) as `key` for one contract's domain. */
  async function sign<C extends LedgerContract, M extends Record<string, unknown>>(
    contract: C,
    type: AttestationType<C>,
    key: BaseWallet,
    message: M,
  ) {
    const full: M & { nonce: bigint } = { nonce: nextNonce(), ...message };
    const verifyingContract = await (contracts[contract] as BaseContract).getAddress();
    const signature = await signAttestation(key, {
      domain: { contract, chainId, verifyingContract },
      type,
      message: full,
    });
    return { message: full, signature };
  }

  const regulator: Party = { id: 1, key: regulatorKey, role: Role.Regulator, region: JIANGSU };
  /** The first regulator onboarded in each province: it reviews cross-province agreements in the helpers below. */
  const regulators = new Map<number, Party>([[provinceOf(JIANGSU), regulator]]);
  return {
    relayer,
    registry,
    products,
    batches,
    aggregations,
    alertCases,
    capas,
    qualityDuties,
    supervision,
    relayBundle,
    chainId,
    sign,
    regulator,
    regulators,
    nextNonce,
  };
}

/** The timestamp of the latest block of the node the ledger is deployed on. */
async function latestBlockTime(ledger: Ledger): Promise<number> {
  return (await ledger.relayer.provider!.getBlock("latest"))!.timestamp;
}

export async function onboard(ledger: Ledger, role: number, region: number, name = `org-${role}-${region}`) {
  const key = Wallet.createRandom();
  const { message, signature } = await ledger.sign("ConsortiumRegistry", "Onboarding", ledger.regulator.key, {
    regulatorId: ledger.regulator.id,
    role,
    region,
    licenceHash: hashText(`licence ${name}`),
    signingKey: key.address,
    name,
  });
  await ledger.registry.onboardOrganization(message as never, signature);
  const id = Number(await ledger.registry.organizationCount());
  const party = { id, key, role, region } satisfies Party;
  if (role === Role.Regulator && !ledger.regulators.has(provinceOf(region))) ledger.regulators.set(provinceOf(region), party);
  return party;
}

/** Pack codes and their Merkle tree, leaves encoded as the codes module does (OpenZeppelin standard, string). */
export function packTree(batchNumber: string, count: number) {
  const codes = Array.from({ length: count }, (_, i) => `0106901234567892${"21"}${batchNumber}-${i}`);
  const tree = StandardMerkleTree.of(
    codes.map((c) => [c]),
    ["string"],
  );
  return { codes, tree };
}

export const GTIN = "06901234567892";

/**
 * The usual consortium: an MAH in Jiangsu that owns no factory, a CMO in Zhejiang, two distributors, a hospital
 * pharmacy and the Zhejiang regulator; one product and a quality agreement in force.
 */
export async function deployConsortium(relayer?: Signer, undoWindow = DEFAULT_UNDO_WINDOW) {
  const ledger = await deployLedger(relayer, undoWindow);
  const mah = await onboard(ledger, Role.Mah, JIANGSU, "Suzhou B-Pharma");
  const cmo = await onboard(ledger, Role.Cmo, ZHEJIANG, "Hangzhou Contract Manufacturing");
  const distributor = await onboard(ledger, Role.Distributor, JIANGSU, "Nanjing Wholesale");
  const distributor2 = await onboard(ledger, Role.Distributor, SHANGHAI, "Shanghai Cold Chain Logistics");
  const dispenser = await onboard(ledger, Role.Dispenser, JIANGSU, "Suzhou Municipal Hospital Pharmacy");
  const regulator2 = await onboard(ledger, Role.Regulator, ZHEJIANG, "Zhejiang Medical Products Administration");
  const productId = await registerProduct(ledger, mah, GTIN);
  const agreementId = await signQualityAgreement(ledger, mah, cmo, productId);
  return { ...ledger, mah, cmo, distributor, distributor2, dispenser, regulator2, productId, agreementId };
}

export type Consortium = Awaited<ReturnType<typeof deployConsortium>>;

export async function registerProduct(ledger: Ledger, mah: Party, productCode: string) {
  const { message, signature } = await ledger.sign("ProductRegistry", "ProductRegistration", mah.key, {
    mahId: mah.id,
    productCode,
    approvalNumber: `国药准字H${productCode.slice(-8)}`,
    name: `Product ${productCode}`,
  });
  await ledger.products.registerProduct(message as never, signature);
  return hashText(productCode);
}

export async function agreementMessage(ledger: Ledger, mah: Party, counterparty: Party, productId: string, overrides: Record<string, unknown> = {}) {
  const now = await latestBlockTime(ledger);
  return {
    mahId: mah.id,
    nonce: ledger.nextNonce(),
    kind: AgreementKind.Quality,
    counterpartyId: counterparty.id,
    productId,
    documentHash: hashText("quality agreement v1"),
    validFrom: now - DAY,
    validUntil: now + 3 * 365 * DAY,
    releaseTester: ReleaseTester.Cmo,
    ...overrides,
  };
}

/** Both parties sign the same agreement message. */
export async function signAgreementBy(ledger: Ledger, mah: Party, counterparty: Party, message: Record<string, unknown>) {
  const bySigner = await ledger.sign("ProductRegistry", "Agreement", mah.key, message);
  const byCounterparty = await ledger.sign("ProductRegistry", "Agreement", counterparty.key, message);
  return { message: bySigner.message, mahSignature: bySigner.signature, counterpartySignature: byCounterparty.signature };
}

/**
 * A quality agreement in force: signed by both parties and, when the MAH and the CMO are in different provinces,
 * reviewed by both provinces' regulators (when the consortium has them; `{ review: false }` leaves it awaiting).
 */
export async function signQualityAgreement(
  ledger: Ledger,
  mah: Party,
  cmo: Party,
  productId: string,
  overrides: Record<string, unknown> = {},
  { review = true } = {},
) {
  const message = await agreementMessage(ledger, mah, cmo, productId, overrides);
  const signed = await signAgreementBy(ledger, mah, cmo, message);
  await ledger.products.signAgreement(signed.message as never, signed.mahSignature, signed.counterpartySignature);
  const agreementId = await ledger.products.agreementId(mah.id, message.nonce as bigint);
  const [cmoRegulator, mahRegulator] = [ledger.regulators.get(provinceOf(cmo.region)), ledger.regulators.get(provinceOf(mah.region))];
  if (review && provinceOf(mah.region) !== provinceOf(cmo.region) && cmoRegulator && mahRegulator) {
    await reviewAgreement(ledger, "AgreementOpinion", cmoRegulator, agreementId);
    await reviewAgreement(ledger, "AgreementApproval", mahRegulator, agreementId);
  }
  return agreementId;
}

/** A regulator's opinion on (CMO's province) or approval of (MAH's province) a cross-province quality agreement. */
export async function reviewAgreement(ledger: Ledger, type: "AgreementOpinion" | "AgreementApproval", by: Party, agreementId: string) {
  const { message, signature } = await ledger.sign("ProductRegistry", type, by.key, {
    regulatorId: by.id,
    agreementId,
    documentHash: hashText(`${type} of ${agreementId}`),
  });
  const review = type === "AgreementOpinion" ? ledger.products.giveAgreementOpinion : ledger.products.approveAgreement;
  return review(message as never, signature);
}

export async function batchRecordMessage(c: Consortium, batchNumber: string, overrides: Record<string, unknown> = {}) {
  const now = await latestBlockTime(c);
  return {
    cmoId: c.cmo.id,
    agreementId: c.agreementId,
    batchNumber,
    quantity: 1000n,
    manufacturedAt: now - DAY,
    // A date-only expiry, as packs print it: the end of that day in China.
    expiresAt: endOfChinaDay(chinaDate(now + 2 * 365 * DAY)),
    batchRecordHash: hashText(`batch record ${batchNumber}`),
    codesRoot: packTree(batchNumber, 8).tree.root,
    ...overrides,
  };
}

export async function recordBatch(c: Consortium, batchNumber: string, overrides: Record<string, unknown> = {}) {
  const record = await batchRecordMessage(c, batchNumber, overrides);
  const { message, signature } = await c.sign("BatchLedger", "BatchRecord", c.cmo.key, record);
  await c.batches.recordBatch(message as never, signature);
  return c.batches.batchId(c.productId, batchNumber);
}

export async function releaseFromFactory(c: Consortium, batchId: string) {
  const { message, signature } = await c.sign("BatchLedger", "FactoryRelease", c.cmo.key, {
    cmoId: c.cmo.id,
    batchId,
    certificateHash: hashText("QA certificate"),
  });
  return c.batches.releaseFromFactory(message as never, signature);
}

/** The market release signed by the MAH's own key: no person named. */
export async function releaseToMarket(c: Consortium, batchId: string, overrides: Record<string, unknown> = {}) {
  const { message, signature } = await c.sign("BatchLedger", "MarketRelease", c.mah.key, {
    mahId: c.mah.id,
    batchId,
    decisionHash: hashText("market release decision"),
    signerRole: PersonRole.Organization,
    signerName: "",
    ...overrides,
  });
  return c.batches.releaseToMarket(message as never, signature);
}

/** The batch's MAH (or `by`, to test who may) refuses it market release: rejected, to be destroyed. */
export async function refuseRelease(c: Consortium, batchId: string, by: Party = c.mah, reason = "assay OOS confirmed: reject") {
  const { message, signature } = await c.sign("BatchLedger", "ReleaseRefusal", by.key, {
    mahId: by.id,
    batchId,
    reasonHash: hashText(reason),
  });
  return { tx: await c.batches.refuseRelease(message as never, signature), message, signature };
}

/** Records a batch of `quantity` with `packCount` codes and takes it through factory and market release. */
export async function releasedBatch(c: Consortium, batchNumber: string, quantity = 1000n, packCount = 8) {
  const { tree, codes } = packTree(batchNumber, packCount);
  const batchId = await recordBatch(c, batchNumber, { quantity, codesRoot: tree.root });
  await releaseFromFactory(c, batchId);
  await releaseToMarket(c, batchId);
  return { batchId, tree, codes };
}

export async function ship(c: Consortium, from: Party, to: Party, batchId: string, quantity: bigint) {
  const { message, signature } = await c.sign("BatchLedger", "Shipment", from.key, {
    shipperId: from.id,
    batchId,
    recipientId: to.id,
    quantity,
    codesRoot: ZeroHash,
  });
  const tx: ContractTransactionResponse = await c.batches.shipBatch(message as never, signature);
  const shipmentId = await c.batches.shipmentId(from.id, message.nonce as bigint);
  return { tx, shipmentId, message };
}

export async function receive(
  c: Consortium,
  to: Party,
  from: Party,
  batchId: string,
  shipmentId: string,
  shippedQuantity: bigint,
  receivedQuantity = shippedQuantity,
) {
  const { message, signature } = await c.sign("BatchLedger", "Receipt", to.key, {
    recipientId: to.id,
    shipmentId,
    batchId,
    shipperId: from.id,
    shippedQuantity,
    receivedQuantity,
  });
  return c.batches.receiveShipment(message as never, signature);
}

/** Ships and receives in full. */
export async function handOver(c: Consortium, from: Party, to: Party, batchId: string, quantity: bigint) {
  const { shipmentId } = await ship(c, from, to, batchId, quantity);
  await receive(c, to, from, batchId, shipmentId, quantity);
  return shipmentId;
}

/** A pack's id on the ledger: keccak256(abi.encode(code)); its Merkle leaf is the hash of this id. */
export function packId(code: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["string"], [code]));
}

/** The pack ids, in multiproof order, and the multiproof that dispense `codes` from `tree`. */
export function dispensingProof(tree: StandardMerkleTree<string[]>, codes: string[]) {
  const proof = tree.getMultiProof(codes.map((code) => [code]));
  return {
    packs: proof.leaves.map(([code]) => packId(code!)),
    proof: proof.proof,
    proofFlags: proof.proofFlags,
  };
}

export async function dispense(c: Consortium, dispenser: Party, batchId: string, tree: StandardMerkleTree<string[]>, codes: string[]) {
  const { packs, proof, proofFlags } = dispensingProof(tree, codes);
  const { message, signature } = await c.sign("BatchLedger", "Dispensing", dispenser.key, {
    dispenserId: dispenser.id,
    batchId,
    packs,
  });
  return c.batches.dispensePacks(message as never, proof, proofFlags, signature);
}

export async function signDeviation(c: Consortium, by: Party, batchId: string, overrides: Record<string, unknown> = {}) {
  return c.sign("BatchLedger", "DeviationReport", by.key, {
    organizationId: by.id,
    batchId,
    kind: DeviationKind.Deviation,
    severity: DeviationSeverity.Minor,
    category: DeviationCategory.Process,
    reportHash: hashText("deviation report DR-001"),
    ...overrides,
  });
}

export async function openDeviation(c: Consortium, by: Party, batchId: string, overrides: Record<string, unknown> = {}) {
  const { message, signature } = await signDeviation(c, by, batchId, overrides);
  return c.batches.openDeviation(message as never, signature);
}

export async function signClosure(c: Consortium, by: Party, batchId: string, overrides: Record<string, unknown> = {}) {
  return c.sign("BatchLedger", "DeviationClosure", by.key, {
    organizationId: by.id,
    batchId,
    reportHash: hashText("deviation report DR-001"),
    rootCause: RootCause.Method,
    batchImpact: BatchImpact.NoImpact,
    closureHash: hashText("CAPA closure DR-001"),
    ...overrides,
  });
}

export async function closeDeviation(c: Consortium, by: Party, batchId: string, overrides: Record<string, unknown> = {}) {
  const { message, signature } = await signClosure(c, by, batchId, overrides);
  return c.batches.closeDeviation(message as never, signature);
}

/** The batch's MAH or a regulator places the batch on hold. */
export async function placeHold(c: Consortium, by: Party, batchId: string, reason = "OOS under investigation") {
  const { message, signature } = await c.sign("BatchLedger", "HoldPlacement", by.key, {
    organizationId: by.id,
    batchId,
    reasonHash: hashText(reason),
  });
  return c.batches.placeHold(message as never, signature);
}

/** The batch's MAH (or `by`, to test who may) releases the hold. */
export async function releaseHold(c: Consortium, by: Party, batchId: string, reason = "OOS invalidated: lab error") {
  const { message, signature } = await c.sign("BatchLedger", "HoldRelease", by.key, {
    mahId: by.id,
    batchId,
    reasonHash: hashText(reason),
  });
  return c.batches.releaseHold(message as never, signature);
}

/** Sets the state of the packs with `codes` (PackState; Active undoes), proved against `tree`. */
export async function changePackStates(
  c: Consortium,
  by: Party,
  batchId: string,
  tree: StandardMerkleTree<string[]>,
  codes: string[],
  state: number,
) {
  const { packs, proof, proofFlags } = dispensingProof(tree, codes);
  const { message, signature } = await c.sign("BatchLedger", "PackStateChange", by.key, {
    organizationId: by.id,
    batchId,
    state,
    packs,
    reasonHash: hashText("pack state reason"),
  });
  return c.batches.changePackStates(message as never, proof, proofFlags, signature);
}

export async function startRecall(c: Consortium, by: Party, batchId: string, level: number) {
  const { message, signature } = await c.sign("BatchLedger", "RecallStart", by.key, {
    organizationId: by.id,
    batchId,
    level,
    reasonHash: hashText("recall reason"),
  });
  return c.batches.startRecall(message as never, signature);
}

/** A holder's account of its holding in a recall acknowledgement; what is left out is zero. */
export type RecallAccount = { quarantined?: bigint; dispensed?: bigint; destroyed?: bigint; missing?: bigint };

/** The acknowledgement's quantities: a bare number is a holding quarantined whole. */
export function acknowledgementOf(account: bigint | RecallAccount) {
  const { quarantined = 0n, dispensed = 0n, destroyed = 0n, missing = 0n } = typeof account === "bigint" ? { quarantined: account } : account;
  return { quarantinedQuantity: quarantined, dispensedQuantity: dispensed, destroyedQuantity: destroyed, missingQuantity: missing };
}

export async function acknowledgeRecall(c: Consortium, holder: Party, batchId: string, account: bigint | RecallAccount) {
  const { message, signature } = await c.sign("BatchLedger", "RecallAcknowledgement", holder.key, {
    holderId: holder.id,
    batchId,
    ...acknowledgementOf(account),
  });
  return c.batches.acknowledgeRecall(message as never, signature);
}

export async function closeRecall(c: Consortium, by: Party, batchId: string) {
  const { message, signature } = await c.sign("BatchLedger", "RecallClosure", by.key, {
    mahId: by.id,
    batchId,
    reportHash: hashText("recall report"),
  });
  return c.batches.closeRecall(message as never, signature);
}

export async function destroy(c: Consortium, holder: Party, batchId: string, quantity: bigint) {
  const { message, signature } = await c.sign("BatchLedger", "Destruction", holder.key, {
    holderId: holder.id,
    batchId,
    quantity,
    reasonHash: hashText("destroyed"),
  });
  return c.batches.destroyStock(message as never, signature);
}

// ----- batch ledger behaviour tests -----

/** A regulator suspends an organization: its attestations, and shipments addressed to it, are refused. */
export async function suspendOrganization(ledger: Ledger, organizationId: number, by: Party = ledger.regulator) {
  const { message, signature } = await ledger.sign("ConsortiumRegistry", "Suspension", by.key, {
    regulatorId: by.id,
    organizationId,
    reasonHash: hashText("GMP inspection failed"),
  });
  return ledger.registry.suspendOrganization(message as never, signature);
}

/** Either party revokes an agreement. */
export async function revokeAgreement(ledger: Ledger, by: Party, agreementId: string) {
  const { message, signature } = await ledger.sign("ProductRegistry", "AgreementRevocation", by.key, {
    organizationId: by.id,
    agreementId,
    reasonHash: hashText("agreement terminated"),
  });
  return ledger.products.revokeAgreement(message as never, signature);
}

/** Every consortium member that can hold stock. */
export function holdersOf(c: Consortium): Party[] {
  return [c.mah, c.cmo, c.distributor, c.distributor2, c.dispenser];
}

/**
 * What the ledger says about a batch: its record and each member's holding, as plain values. Compare it before
 * and after a refused attestation to show the refusal changed nothing.
 */
export async function batchSnapshot(c: Consortium, batchId: string) {
  const b = await c.batches.batch(batchId);
  const holdings = await Promise.all(
    holdersOf(c).map(async (party) => {
      const h = await c.batches.holding(batchId, party.id);
      return { organizationId: party.id, quantity: h.quantity, recallAcknowledged: h.recallAcknowledged };
    }),
  );
  return {
    batch: {
      state: b.state,
      recall: b.recall,
      recallLevel: b.recallLevel,
      openDeviations: b.openDeviations,
      mahId: b.mahId,
      cmoId: b.cmoId,
      holders: b.holders,
      unacknowledgedHolders: b.unacknowledgedHolders,
      shipmentsInTransit: b.shipmentsInTransit,
      expiresAt: b.expiresAt,
      onHold: b.onHold,
    },
    holdings,
  };
}
