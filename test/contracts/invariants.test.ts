/**
 * Property-based test of the batch ledger: random sequences of valid and invalid attestations (ship, receive with
 * shortfalls or by the wrong addressee, dispense, destroy, pack states and their undoing within or after the undo
 * window, deviations, factory and market release in any order, holds placed and released, recalls and
 * acknowledgements that account for a holding (or do not), over-shipping, replays, forged keys, suspended
 * organizations) are applied both to the chain and to a
 * small TypeScript model of the rules. After every step the chain must agree with the model, quantity must be
 * conserved, and an attestation the model refuses must revert with the error the model names and change nothing.
 *
 * FC_RUNS raises the number of sequences for a deeper run (`npm run test:long`: ten times the default); FC_SEED
 * replays one.
 */
import { describe, it } from "vitest";
import { expect } from "chai";
import fc from "fast-check";
import { AbiCoder, Interface, Wallet, ZeroHash, id as hashText, keccak256 } from "ethers";
import type { BaseContract, ContractTransaction, Log } from "ethers";
import hre from "hardhat";
import type { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { BatchState, DEFAULT_UNDO_WINDOW, DeviationKind, PackState, PersonRole, RecallStatus, Role } from "../../src/ledger";
import {
  DAY,
  deployConsortium,
  dispensingProof,
  handOver,
  packId,
  packTree,
  receive,
  recordBatch,
  releaseFromFactory,
  releaseToMarket,
  ship,
} from "./fixtures";
import type { Consortium, Party } from "./fixtures";

/** Sequences per property; FC_RUNS scales both (the recall property gets a third as many). */
const RUNS = Number(process.env.FC_RUNS ?? 240);
const RECALL_RUNS = Math.max(1, Math.round(RUNS / 3));
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const MAX_STEPS = 24;
const RECALL_STEPS = 40;
const BATCH_SIZE = 30;
/** Every step's transaction carries this gas limit, far above what any step costs, so the node runs it once. */
const GAS_LIMIT = "0x989680";
const BATCH_NUMBERS = ["INV-A", "INV-B", "INV-C"] as const;
const REPORTS = ["deviation report 1", "OOS report 2", "OOT report 3"].map((r) => hashText(r));
/** A key no organization ever registered. */
const STRANGER = Wallet.createRandom();

// ----- fixture -----

/**
 * Batch A is on the market and already moving: the CMO handed 12 to the first distributor, which shipped 6 to
 * the pharmacy (received 5, one missing); 4 more are on their way to the second distributor (a new holder) and 2
 * to the pharmacy (an existing one). Batch B is manufactured with a deviation open. Batch C is not recorded yet.
 * `initialModel` mirrors this.
 */
async function invariantConsortium() {
  const c = await deployConsortium();
  const trees = BATCH_NUMBERS.map((n) => packTree(n, BATCH_SIZE).tree);
  const codes = trees.map((tree) => [...tree.entries()].map(([, [code]]) => code));
  const packs = codes.map((batchCodes) => batchCodes.map(packId));
  const batchA = await recordBatch(c, BATCH_NUMBERS[0], { quantity: BigInt(BATCH_SIZE), codesRoot: trees[0].root });
  await releaseFromFactory(c, batchA);
  await releaseToMarket(c, batchA);
  const toDistributor = await handOver(c, c.cmo, c.distributor, batchA, 12n);
  const toPharmacy = await ship(c, c.distributor, c.dispenser, batchA, 6n);
  await receive(c, c.dispenser, c.distributor, batchA, toPharmacy.shipmentId, 6n, 5n);
  const toDistributor2 = await ship(c, c.cmo, c.distributor2, batchA, 4n);
  const toPharmacyAgain = await ship(c, c.distributor, c.dispenser, batchA, 2n);
  const batchB = await recordBatch(c, BATCH_NUMBERS[1], { quantity: BigInt(BATCH_SIZE), codesRoot: trees[1].root });
  const { message, signature } = await c.sign("BatchLedger", "DeviationReport", c.cmo.key, {
    organizationId: c.cmo.id,
    batchId: batchB,
    kind: DeviationKind.OutOfSpecification,
    severity: 1,
    category: 5,
    reportHash: REPORTS[0],
  });
  await c.batches.openDeviation(message as never, signature);
  const batchC = await c.batches.batchId(c.productId, BATCH_NUMBERS[2]);
  const now = await time.latest();
  // Parties by index: the model and the generated operations name organizations by their place in this list.
  const parties: Party[] = [c.mah, c.cmo, c.distributor, c.distributor2, c.dispenser, c.regulator, c.regulator2];
  const prelude = {
    toDistributor,
    toPharmacy: toPharmacy.shipmentId,
    toDistributor2: toDistributor2.shipmentId,
    toPharmacyAgain: toPharmacyAgain.shipmentId,
  };
  return { c, trees, codes, packs, batchIds: [batchA, batchB, batchC], parties, recordedAt: now, prelude };
}
type World = Awaited<ReturnType<typeof invariantConsortium>>;

const MAH = 0;
const CMO = 1;
const DISPENSER = 4;
const REGULATOR = 5;
const REGULATOR2 = 6;
const PARTY_COUNT = 7;

// ----- the model -----

type BatchModel = {
  id: string;
  made: bigint;
  state: number;
  recall: number;
  recallLevel: number;
  /** Held short of a recall: a deviation opened after market release holds the batch until a recall. */
  onHold: boolean;
  deviations: Map<string, number>;
  holdings: bigint[];
  /** Whether each party acknowledged the open recall for what it holds now. */
  acknowledged: boolean[];
};
type ShipmentModel = { id: string; batch: number; shipper: number; recipient: number; quantity: bigint; inTransit: boolean };
/** A pack's state as the model keeps it: who set it, when (block time) and in which undo window (`epoch`). */
type PackModel = { state: number; by: number; at: number; epoch: number };
type Model = {
  batches: BatchModel[];
  shipments: ShipmentModel[];
  /** Packs not ACTIVE, by pack id. */
  packStates: Map<string, PackModel>;
  /** Counts "wait" steps: a state set in an earlier epoch is past its undo window. */
  epoch: number;
  suspended: boolean[];
};

/** States that take a pack out of its holder's stock, and those its setter may undo within the window. */
const LEAVES_STOCK: readonly number[] = [PackState.Dispensed, PackState.Destroyed, PackState.Stolen, PackState.Sample, PackState.Exported];
const UNDOABLE: readonly number[] = [PackState.Dispensed, PackState.Sample, PackState.Exported];
const SETTABLE = [PackState.Dispensed, PackState.Destroyed, PackState.Stolen, PackState.Sample, PackState.Exported, PackState.Locked];

const DeviationStatus = { None: 0, Open: 1, Closed: 2 } as const;
const OrganizationStatus = { Active: 1, Suspended: 2 } as const;

function initialModel(w: World): Model {
  const batch = (i: number, state: number, holdings: bigint[]): BatchModel => ({
    id: w.batchIds[i],
    made: state === BatchState.None ? 0n : BigInt(BATCH_SIZE),
    state,
    recall: RecallStatus.None,
    recallLevel: 0,
    onHold: false,
    deviations: new Map(REPORTS.map((r) => [r, DeviationStatus.None])),
    holdings,
    acknowledged: w.parties.map(() => false),
  });
  //                          MAH  CMO  dist dist2 pharmacy reg reg2
  const a = batch(0, BatchState.MarketReleased, [0n, 14n, 4n, 0n, 5n, 0n, 0n]);
  const b = batch(1, BatchState.Manufactured, [0n, 30n, 0n, 0n, 0n, 0n, 0n]);
  b.deviations.set(REPORTS[0], DeviationStatus.Open);
  const c = batch(
    2,
    BatchState.None,
    w.parties.map(() => 0n),
  );
  const shipment = (id: string, shipper: number, recipient: number, quantity: bigint, inTransit: boolean) => ({
    id,
    batch: 0,
    shipper,
    recipient,
    quantity,
    inTransit,
  });
  return {
    batches: [a, b, c],
    shipments: [
      shipment(w.prelude.toDistributor, CMO, 2, 12n, false),
      shipment(w.prelude.toPharmacy, 2, DISPENSER, 6n, false),
      shipment(w.prelude.toDistributor2, CMO, 3, 4n, true),
      shipment(w.prelude.toPharmacyAgain, 2, DISPENSER, 2n, true),
    ],
    packStates: new Map(),
    epoch: 0,
    suspended: w.parties.map(() => false),
  };
}

const holdersOf = (b: BatchModel) => b.holdings.filter((q) => q > 0n).length;
const unacknowledgedOf = (b: BatchModel) => (b.recall === RecallStatus.Open ? b.holdings.filter((q, p) => q > 0n && !b.acknowledged[p]).length : 0);
const openDeviationsOf = (b: BatchModel) => [...b.deviations.values()].filter((s) => s === DeviationStatus.Open).length;
const inTransitOf = (m: Model, batch: number) => m.shipments.filter((s) => s.batch === batch && s.inTransit);

function credit(b: BatchModel, party: number, quantity: bigint) {
  // A holder that receives stock during a recall owes an acknowledgement for its new holding.
  if (b.recall === RecallStatus.Open) b.acknowledged[party] = false;
  b.holdings[party] += quantity;
}

function debit(b: BatchModel, party: number, quantity: bigint) {
  b.holdings[party] -= quantity;
  if (b.holdings[party] === 0n) b.acknowledged[party] = false;
}

// ----- operations -----

const KINDS = [
  "ship",
  "receive",
  "dispense",
  "destroy",
  "packState",
  "undo",
  "wait",
  "openDeviation",
  "closeDeviation",
  "releaseFromFactory",
  "releaseToMarket",
  "placeHold",
  "releaseHold",
  "startRecall",
  "acknowledgeRecall",
  "closeRecall",
  "recordBatch",
  "suspend",
  "reinstate",
  "replay",
] as const;
type Kind = (typeof KINDS)[number];

/** How often each step is drawn: custody moves most, everything else now and then. */
const CUSTODY_MIX: Record<Kind, number> = {
  ship: 8,
  receive: 6,
  dispense: 3,
  destroy: 2,
  packState: 3,
  undo: 3,
  wait: 1,
  openDeviation: 2,
  closeDeviation: 2,
  releaseFromFactory: 2,
  releaseToMarket: 2,
  placeHold: 2,
  releaseHold: 2,
  startRecall: 2,
  acknowledgeRecall: 2,
  closeRecall: 2,
  recordBatch: 1,
  suspend: 1,
  reinstate: 1,
  replay: 1,
};

/** During a recall: acknowledgements race receipts, destructions and attempts to close; the rest now and then. */
const RECALL_MIX: Record<Kind, number> = {
  ...(Object.fromEntries(KINDS.map((kind) => [kind, 1])) as Record<Kind, number>),
  receive: 8,
  acknowledgeRecall: 10,
  closeRecall: 4,
  destroy: 2,
};

/** Pack states: set, undone, and time passing beyond the undo window, among dispensings and hand-overs. */
const PACK_MIX: Record<Kind, number> = {
  ...(Object.fromEntries(KINDS.map((kind) => [kind, 1])) as Record<Kind, number>),
  packState: 8,
  undo: 8,
  wait: 2,
  dispense: 4,
  ship: 3,
  receive: 3,
};

type Amount = "part" | "all" | "zero" | "over";
type Auth = "own" | "otherKey" | "stranger";

/**
 * One generated step. Its fields are interpreted against the model when the step runs: `actor` -1 means the
 * organization that would normally take this step (a holder ships, the addressee receives, the MAH releases),
 * and `pick`/`variant` choose among what exists at that moment. So most steps are plausible, many are not, and
 * a failing sequence still shrinks to small numbers.
 */
type Op = { kind: Kind; batch: number; actor: number; auth: Auth; amount: Amount; pick: number; variant: number };

/** Batch A (on the market) is drawn most, B (manufactured) often, C (not recorded) now and then. */
const opArbitrary = (mix: Record<Kind, number>, batchWeights = [5, 3, 1]): fc.Arbitrary<Op> =>
  fc.record({
    kind: fc.oneof(...KINDS.map((kind) => ({ weight: mix[kind], arbitrary: fc.constant(kind) }))),
    batch: fc.oneof(...batchWeights.map((weight, batch) => ({ weight, arbitrary: fc.constant(batch) }))),
    actor: fc.oneof({ weight: 6, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: PARTY_COUNT - 1 }) }),
    auth: fc.oneof(
      { weight: 20, arbitrary: fc.constant<Auth>("own") },
      { weight: 1, arbitrary: fc.constant<Auth>("otherKey") },
      { weight: 1, arbitrary: fc.constant<Auth>("stranger") },
    ),
    amount: fc.oneof(
      { weight: 6, arbitrary: fc.constant<Amount>("part") },
      { weight: 3, arbitrary: fc.constant<Amount>("all") },
      { weight: 1, arbitrary: fc.constant<Amount>("zero") },
      { weight: 1, arbitrary: fc.constant<Amount>("over") },
    ),
    pick: fc.nat(1023),
    variant: fc.nat(1023),
  });

/** A step's nonce, read after the step with the invariants: whether it must be spent now. */
type NonceCheck = { contract: Step["contract"]; organizationId: number; nonce: bigint; spent: boolean };

/** What the model expects of a step: success with its effect on the model, or a revert with this error. */
type Expectation = { ok: true; apply: () => void } | { ok: false; error: string; args: unknown[] };
const refuse = (error: string, ...args: unknown[]): Expectation => ({ ok: false, error, args });

/** A step ready to send: the expectation, the contract and nonce it spends, and the signed transaction's call. */
type Step = {
  label: string;
  expect: Expectation;
  contract: "batches" | "registry";
  organizationId: number;
  nonce: bigint;
  transaction: () => Promise<ContractTransaction>;
  /** The packs a dispensing or pack state change names. */
  packs?: readonly string[];
  /** Replays re-send a used nonce: it stays used whatever happens. */
  replay?: boolean;
  /** A receipt consumes its shipment instead of a nonce: the shipment it names and who received it. */
  consumes?: { shipmentId: string; actor: number };
};

/**
 * A recall acknowledgement's account of a holding: all quarantined, nothing quarantined (all gone), part
 * quarantined and the rest split between dispensed, destroyed and missing, or one unit more than held (refused).
 */
function accountFor(op: Op, held: bigint) {
  const quarantined = op.amount === "part" ? BigInt(op.pick) % (held + 1n) : op.amount === "zero" ? 0n : op.amount === "all" ? held : held + 1n;
  const rest = held > quarantined ? held - quarantined : 0n;
  const dispensed = rest > 0n ? BigInt(op.variant) % (rest + 1n) : 0n;
  const destroyed = rest - dispensed > 0n ? BigInt(op.variant >> 4) % (rest - dispensed + 1n) : 0n;
  return {
    quarantinedQuantity: quarantined,
    dispensedQuantity: dispensed,
    destroyedQuantity: destroyed,
    missingQuantity: rest - dispensed - destroyed,
  };
}

function quantityFor(amount: Amount, held: bigint, pick: number): bigint {
  switch (amount) {
    case "part":
      return held > 0n ? 1n + (BigInt(pick) % held) : 1n;
    case "all":
      return held;
    case "zero":
      return 0n;
    case "over":
      return held + 1n + BigInt(pick % 3);
  }
}

class Runner {
  readonly model: Model;
  /** Successful attestations, for replays. */
  readonly sent: Step[] = [];
  /** What the chain's events say, per batch: the independent side of the conservation check. */
  readonly events = BATCH_NUMBERS.map(() => ({ made: 0n, destroyed: 0n, shortfall: 0n, packsOut: 0n, reported: 0n }));
  /** Each pack's state by the events alone (PacksDispensed, PackStatesChanged), to check storage against. */
  readonly eventPackStates = new Map<string, number>();
  /** The block time of the last step sent: when a pack state it set was set. */
  blockTime = 0;
  readonly shippedQuantity = new Map<string, bigint>();
  /** Shipment ids never sent, used to receive what does not exist. */
  readonly phantom = hashText("a shipment nobody sent");

  constructor(readonly w: World) {
    this.model = initialModel(w);
    this.events[0].made = BigInt(BATCH_SIZE);
    this.events[0].shortfall = 1n;
    this.events[1].made = BigInt(BATCH_SIZE);
    this.shippedQuantity.set(w.prelude.toDistributor2, 4n);
    this.shippedQuantity.set(w.prelude.toPharmacyAgain, 2n);
  }

  get c(): Consortium {
    return this.w.c;
  }

  party(index: number) {
    return this.w.parties[index];
  }

  /** The attestation checks every contract runs first: signature, then the organization's standing. */
  private attestation(actor: number, auth: Auth): Expectation | undefined {
    const id = this.party(actor).id;
    if (auth === "stranger") return refuse("UnknownSigningKey", STRANGER.address);
    if (auth === "otherKey") return refuse("SignerNotOfOrganization", this.keyFor(actor, auth).address, id);
    if (this.model.suspended[actor]) return refuse("SuspendedOrganization", id);
    return undefined;
  }

  private roleCheck(actor: number, required: number): Expectation | undefined {
    const { id, role } = this.party(actor);
    return role === required ? undefined : refuse("OrganizationRoleMismatch", id, role, required);
  }

  private keyFor(actor: number, auth: Auth) {
    if (auth === "stranger") return STRANGER;
    if (auth === "otherKey") return this.party((actor + 1) % PARTY_COUNT).key;
    return this.party(actor).key;
  }

  private unknownBatch(b: BatchModel): Expectation | undefined {
    return b.state === BatchState.None ? refuse("UnknownBatch", b.id) : undefined;
  }

  private inCommerce(b: BatchModel): Expectation | undefined {
    if (b.recall !== RecallStatus.None) return refuse("BatchRecalled", b.id);
    if (b.onHold) return refuse("BatchOnHold", b.id);
    if (b.state !== BatchState.MarketReleased) return refuse("BatchStateMismatch", b.id, b.state, BatchState.MarketReleased);
    return undefined;
  }

  private releasable(b: BatchModel, required: number): Expectation | undefined {
    if (b.recall !== RecallStatus.None) return refuse("BatchRecalled", b.id);
    if (b.state !== required) return refuse("BatchStateMismatch", b.id, b.state, required);
    const open = openDeviationsOf(b);
    if (open !== 0) return refuse("BatchHasOpenDeviations", b.id, open);
    return undefined;
  }

  private insufficient(b: BatchModel, actor: number, quantity: bigint): Expectation | undefined {
    const held = b.holdings[actor];
    return held < quantity ? refuse("InsufficientHolding", b.id, this.party(actor).id, held, quantity) : undefined;
  }

  /** Signs a BatchLedger attestation as `actor` (or with a wrong key) and builds the step. */
  private async batchStep(
    op: Op,
    actor: number,
    type: string,
    fields: Record<string, unknown>,
    expectation: (nonce: bigint) => Expectation,
    submit: (message: never, signature: string) => Promise<ContractTransaction>,
    consumes?: { shipmentId: string; actor: number },
  ): Promise<Step> {
    const nonce = this.c.nextNonce();
    const { message, signature } = await this.c.sign("BatchLedger", type as never, this.keyFor(actor, op.auth), {
      ...fields,
      nonce,
    });
    return {
      label: `${op.kind} by ${actor}`,
      expect: expectation(nonce),
      contract: "batches",
      organizationId: this.party(actor).id,
      nonce,
      transaction: () => submit(message as never, signature),
      ...(consumes === undefined ? {} : { consumes }),
    };
  }

  async step(op: Op): Promise<Step | undefined> {
    const m = this.model;
    const b = m.batches[op.batch];
    const c = this.c;
    const natural = (fallback: number) => (op.actor >= 0 ? op.actor : fallback);

    switch (op.kind) {
      case "ship": {
        const holders = b.holdings.flatMap((q, p) => (q > 0n ? [p] : []));
        const from = natural(holders.length > 0 ? holders[op.pick % holders.length] : CMO);
        const recipients = [0, 1, 2, 3, 4].filter((p) => p !== from);
        const to = op.variant % 16 === 0 ? [from, REGULATOR, REGULATOR2][op.pick % 3] : recipients[op.variant % recipients.length];
        const quantity = quantityFor(op.amount, b.holdings[from], op.pick);
        return this.batchStep(
          op,
          from,
          "Shipment",
          { shipperId: this.party(from).id, batchId: b.id, recipientId: this.party(to).id, quantity, codesRoot: ZeroHash },
          (nonce) => {
            const refused =
              this.attestation(from, op.auth) ??
              this.unknownBatch(b) ??
              this.inCommerce(b) ??
              (to === from ? refuse("ShipmentToSelf", this.party(from).id) : undefined) ??
              (m.suspended[to] ? refuse("SuspendedOrganization", this.party(to).id) : undefined) ??
              (this.party(to).role === Role.Regulator ? refuse("RecipientCannotHold", this.party(to).id, Role.Regulator) : undefined) ??
              (quantity === 0n ? refuse("ZeroQuantity") : undefined) ??
              this.insufficient(b, from, quantity);
            if (refused) return refused;
            return {
              ok: true,
              apply: () => {
                debit(b, from, quantity);
                const id = shipmentIdOf(this.party(from).id, nonce);
                m.shipments.push({ id, batch: op.batch, shipper: from, recipient: to, quantity, inTransit: true });
              },
            };
          },
          (message, signature) => c.batches.shipBatch.populateTransaction(message, signature),
        );
      }

      case "receive": {
        const inTransit = m.shipments.filter((s) => s.inTransit);
        let shipment: ShipmentModel | undefined;
        if (op.variant % 10 !== 0) {
          if (op.variant % 10 < 8 && inTransit.length > 0) shipment = inTransit[op.pick % inTransit.length];
          else if (m.shipments.length > 0) shipment = m.shipments[op.pick % m.shipments.length];
        }
        const shipmentId = shipment?.id ?? this.phantom;
        const batchIndex = shipment?.batch ?? op.batch;
        const shipper = shipment?.shipper ?? CMO;
        const shipped = shipment?.quantity ?? 1n;
        const to = natural(shipment?.recipient ?? 2);
        // Claims that differ from what was shipped: another batch, another shipper, another quantity.
        const tamper = Math.floor(op.variant / 10) % 16;
        const claimedBatch = tamper === 0 ? (batchIndex + 1) % 3 : batchIndex;
        const claimedShipper = tamper === 1 ? (shipper + 1) % 5 : shipper;
        const claimedShipped = tamper === 2 ? shipped + 1n : shipped;
        const received =
          op.amount === "part"
            ? BigInt(op.pick) % claimedShipped
            : op.amount === "zero"
              ? 0n
              : op.amount === "all"
                ? claimedShipped
                : claimedShipped + 1n;
        const target = m.batches[batchIndex];
        return this.batchStep(
          op,
          to,
          "Receipt",
          {
            recipientId: this.party(to).id,
            shipmentId,
            batchId: m.batches[claimedBatch].id,
            shipperId: this.party(claimedShipper).id,
            shippedQuantity: claimedShipped,
            receivedQuantity: received,
          },
          () => {
            const refused = this.attestation(to, op.auth);
            if (refused) return refused;
            if (!shipment?.inTransit) return refuse("ShipmentNotInTransit", shipmentId);
            if (shipment.recipient !== to) {
              return refuse("NotShipmentAddressee", shipmentId, this.party(shipment.recipient).id, this.party(to).id);
            }
            if (claimedBatch !== batchIndex || claimedShipper !== shipper || claimedShipped !== shipped) {
              return refuse("ShipmentDetailsMismatch", shipmentId);
            }
            if (received > shipped) return refuse("ReceivedQuantityExceedsShipped", shipmentId, shipped, received);
            return {
              ok: true,
              apply: () => {
                shipment.inTransit = false;
                if (received > 0n) credit(target, to, received);
              },
            };
          },
          (message, signature) => c.batches.receiveShipment.populateTransaction(message, signature),
          { shipmentId, actor: to },
        );
      }

      case "dispense": {
        const by = natural(DISPENSER);
        const { packs, proof, proofFlags, foreign } = this.choosePacks(op, (pack) => !m.packStates.has(pack));
        const quantity = BigInt(packs.length);
        const step = await this.batchStep(
          op,
          by,
          "Dispensing",
          { dispenserId: this.party(by).id, batchId: b.id, packs },
          () => {
            const refused =
              this.attestation(by, op.auth) ??
              this.roleCheck(by, Role.Dispenser) ??
              this.unknownBatch(b) ??
              this.inCommerce(b) ??
              this.provable(b, packs, foreign) ??
              this.notActive(packs) ??
              this.insufficient(b, by, quantity);
            if (refused) return refused;
            return { ok: true, apply: () => this.setPacks(b, packs, PackState.Dispensed, by) };
          },
          (message, signature) => c.batches.dispensePacks.populateTransaction(message, proof, proofFlags, signature),
        );
        step.packs = packs;
        return step;
      }

      case "destroy": {
        const holders = b.holdings.flatMap((q, p) => (q > 0n ? [p] : []));
        const by = natural(holders.length > 0 ? holders[op.pick % holders.length] : CMO);
        const quantity = quantityFor(op.amount, b.holdings[by], op.pick);
        return this.batchStep(
          op,
          by,
          "Destruction",
          { holderId: this.party(by).id, batchId: b.id, quantity, reasonHash: hashText("damaged in transit") },
          () =>
            this.attestation(by, op.auth) ??
            this.unknownBatch(b) ??
            (quantity === 0n ? refuse("ZeroQuantity") : undefined) ??
            this.insufficient(b, by, quantity) ?? { ok: true, apply: () => debit(b, by, quantity) },
          (message, signature) => c.batches.destroyStock.populateTransaction(message, signature),
        );
      }

      case "packState": {
        const state = SETTABLE[Math.floor(op.variant / 12) % SETTABLE.length];
        const holders = b.holdings.flatMap((q, p) => (q > 0n ? [p] : []));
        const usual = state === PackState.Dispensed ? [DISPENSER] : state === PackState.Locked ? [...holders, MAH, REGULATOR] : holders;
        const by = natural(usual.length > 0 ? usual[op.pick % usual.length] : CMO);
        const { packs, proof, proofFlags, foreign } = this.choosePacks(op, (pack) => !m.packStates.has(pack));
        const quantity = BigInt(packs.length);
        const step = await this.batchStep(
          op,
          by,
          "PackStateChange",
          { organizationId: this.party(by).id, batchId: b.id, state, packs, reasonHash: hashText("pack state") },
          () => {
            const refused =
              this.attestation(by, op.auth) ??
              this.unknownBatch(b) ??
              this.provable(b, packs, foreign) ??
              (state === PackState.Dispensed ? this.roleCheck(by, Role.Dispenser) : undefined) ??
              (state === PackState.Dispensed || state === PackState.Exported ? this.inCommerce(b) : undefined) ??
              (state === PackState.Locked && this.party(by).role !== Role.Regulator && by !== MAH && b.holdings[by] === 0n
                ? refuse("NotPackCustodian", b.id, this.party(by).id)
                : undefined) ??
              this.notActive(packs) ??
              (LEAVES_STOCK.includes(state) ? this.insufficient(b, by, quantity) : undefined);
            if (refused) return refused;
            return { ok: true, apply: () => this.setPacks(b, packs, state, by) };
          },
          (message, signature) => c.batches.changePackStates.populateTransaction(message, proof, proofFlags, signature),
        );
        step.packs = packs;
        return step;
      }

      case "undo": {
        // Mostly undoable states of this batch by their setter; now and then anyone's, a final or active pack, or a
        // pack of another batch.
        const reversible = (record: PackModel | undefined) =>
          record !== undefined && (UNDOABLE.includes(record.state) || record.state === PackState.Locked);
        const setters = [
          ...new Set(
            this.w.packs[op.batch]
              .map((pack) => m.packStates.get(pack))
              .filter(reversible)
              .map((r) => r!.by),
          ),
        ];
        const by = natural(setters.length > 0 ? setters[op.pick % setters.length] : DISPENSER);
        const own = op.variant % 3 !== 0;
        const { packs, proof, proofFlags, foreign } = this.choosePacks(op, (pack) => {
          const record = m.packStates.get(pack);
          return own ? reversible(record) && record!.by === by : record !== undefined;
        });
        const step = await this.batchStep(
          op,
          by,
          "PackStateChange",
          { organizationId: this.party(by).id, batchId: b.id, state: PackState.Active, packs, reasonHash: hashText("undo") },
          () => {
            const refused = this.attestation(by, op.auth) ?? this.unknownBatch(b) ?? this.provable(b, packs, foreign) ?? this.notUndoable(packs, by);
            if (refused) return refused;
            const returned = BigInt(packs.filter((pack) => m.packStates.get(pack)!.state !== PackState.Locked).length);
            if (returned > 0n && b.recall !== RecallStatus.None) return refuse("BatchRecalled", b.id);
            return {
              ok: true,
              apply: () => {
                for (const pack of packs) m.packStates.delete(pack);
                if (returned > 0n) credit(b, by, returned);
              },
            };
          },
          (message, signature) => c.batches.changePackStates.populateTransaction(message, proof, proofFlags, signature),
        );
        step.packs = packs;
        return step;
      }

      case "wait": {
        // Past every undo window so far: what was set before can no longer be undone.
        await time.increase(DEFAULT_UNDO_WINDOW + 1);
        m.epoch += 1;
        return undefined;
      }

      case "openDeviation": {
        const by = natural(op.pick % 2 === 0 ? MAH : CMO);
        const reportHash = REPORTS[op.variant % REPORTS.length];
        const kind = op.variant % 7 === 0 ? 0 : 1 + (op.variant % 3);
        return this.batchStep(
          op,
          by,
          "DeviationReport",
          { organizationId: this.party(by).id, batchId: b.id, kind, severity: 1, category: 1, reportHash },
          () =>
            this.attestation(by, op.auth) ??
            this.unknownBatch(b) ??
            this.batchParty(b, by) ??
            (kind === 0 ? refuse("InvalidDeviationKind") : undefined) ??
            (b.deviations.get(reportHash) !== DeviationStatus.None ? refuse("DeviationAlreadyReported", b.id, reportHash) : undefined) ?? {
              ok: true,
              apply: () => {
                b.deviations.set(reportHash, DeviationStatus.Open);
                if (b.state === BatchState.MarketReleased && b.recall === RecallStatus.None) b.onHold = true;
              },
            },
          (message, signature) => c.batches.openDeviation.populateTransaction(message, signature),
        );
      }

      case "closeDeviation": {
        const by = natural(op.pick % 2 === 0 ? MAH : CMO);
        const open = REPORTS.filter((r) => b.deviations.get(r) === DeviationStatus.Open);
        const reportHash = op.variant % 4 !== 0 && open.length > 0 ? open[op.variant % open.length] : REPORTS[op.variant % REPORTS.length];
        return this.batchStep(
          op,
          by,
          "DeviationClosure",
          { organizationId: this.party(by).id, batchId: b.id, reportHash, rootCause: 4, batchImpact: 1, closureHash: hashText("CAPA done") },
          () =>
            this.attestation(by, op.auth) ??
            this.unknownBatch(b) ??
            this.batchParty(b, by) ??
            (b.deviations.get(reportHash) !== DeviationStatus.Open ? refuse("DeviationNotOpen", b.id, reportHash) : undefined) ?? {
              ok: true,
              apply: () => b.deviations.set(reportHash, DeviationStatus.Closed),
            },
          (message, signature) => c.batches.closeDeviation.populateTransaction(message, signature),
        );
      }

      case "releaseFromFactory": {
        const by = natural(CMO);
        return this.batchStep(
          op,
          by,
          "FactoryRelease",
          { cmoId: this.party(by).id, batchId: b.id, certificateHash: hashText("QA certificate") },
          () =>
            this.attestation(by, op.auth) ??
            this.unknownBatch(b) ??
            (by !== CMO ? refuse("NotBatchCmo", b.id, this.party(by).id) : undefined) ??
            this.releasable(b, BatchState.Manufactured) ?? {
              ok: true,
              apply: () => {
                b.state = BatchState.FactoryReleased;
              },
            },
          (message, signature) => c.batches.releaseFromFactory.populateTransaction(message, signature),
        );
      }

      case "releaseToMarket": {
        const by = natural(MAH);
        return this.batchStep(
          op,
          by,
          "MarketRelease",
          {
            mahId: this.party(by).id,
            batchId: b.id,
            decisionHash: hashText("release decision"),
            signerRole: PersonRole.Organization,
            signerName: "",
          },
          () =>
            this.attestation(by, op.auth) ??
            this.unknownBatch(b) ??
            (by !== MAH ? refuse("NotBatchMah", b.id, this.party(by).id) : undefined) ??
            this.releasable(b, BatchState.FactoryReleased) ??
            (b.onHold ? refuse("BatchOnHold", b.id) : undefined) ?? {
              ok: true,
              apply: () => {
                b.state = BatchState.MarketReleased;
              },
            },
          (message, signature) => c.batches.releaseToMarket.populateTransaction(message, signature),
        );
      }

      case "placeHold": {
        const by = natural([MAH, REGULATOR, REGULATOR2][op.pick % 3]);
        return this.batchStep(
          op,
          by,
          "HoldPlacement",
          { organizationId: this.party(by).id, batchId: b.id, reasonHash: hashText("complaints") },
          () =>
            this.attestation(by, op.auth) ??
            this.unknownBatch(b) ??
            (this.party(by).role !== Role.Regulator && by !== MAH ? refuse("NotHoldAuthority", b.id, this.party(by).id) : undefined) ??
            (b.recall !== RecallStatus.None ? refuse("BatchRecalled", b.id) : undefined) ??
            (b.onHold ? refuse("BatchAlreadyOnHold", b.id) : undefined) ?? {
              ok: true,
              apply: () => {
                b.onHold = true;
              },
            },
          (message, signature) => c.batches.placeHold.populateTransaction(message, signature),
        );
      }

      case "releaseHold": {
        const by = natural(MAH);
        return this.batchStep(
          op,
          by,
          "HoldRelease",
          { mahId: this.party(by).id, batchId: b.id, reasonHash: hashText("investigation closed") },
          () => {
            const open = openDeviationsOf(b);
            return (
              this.attestation(by, op.auth) ??
              this.unknownBatch(b) ??
              (by !== MAH ? refuse("NotBatchMah", b.id, this.party(by).id) : undefined) ??
              (!b.onHold ? refuse("BatchNotOnHold", b.id) : undefined) ??
              (open !== 0 ? refuse("BatchHasOpenDeviations", b.id, open) : undefined) ?? {
                ok: true,
                apply: () => {
                  b.onHold = false;
                },
              }
            );
          },
          (message, signature) => c.batches.releaseHold.populateTransaction(message, signature),
        );
      }

      case "startRecall": {
        const by = natural([MAH, REGULATOR, REGULATOR2][op.pick % 3]);
        const level = op.variant % 9 === 0 ? 0 : 1 + (op.variant % 3);
        return this.batchStep(
          op,
          by,
          "RecallStart",
          { organizationId: this.party(by).id, batchId: b.id, level, reasonHash: hashText("contamination") },
          () =>
            this.attestation(by, op.auth) ??
            this.unknownBatch(b) ??
            (this.party(by).role !== Role.Regulator && by !== MAH ? refuse("NotRecallAuthority", b.id, this.party(by).id) : undefined) ??
            (level === 0 ? refuse("InvalidRecallLevel") : undefined) ??
            (b.recall !== RecallStatus.None ? refuse("RecallAlreadyStarted", b.id) : undefined) ?? {
              ok: true,
              apply: () => {
                b.recall = RecallStatus.Open;
                b.recallLevel = level;
                // A recall takes over from a hold.
                b.onHold = false;
              },
            },
          (message, signature) => c.batches.startRecall.populateTransaction(message, signature),
        );
      }

      case "acknowledgeRecall": {
        const owing = b.holdings.flatMap((q, p) => (q > 0n && !b.acknowledged[p] ? [p] : []));
        const holders = b.holdings.flatMap((q, p) => (q > 0n ? [p] : []));
        const candidates = owing.length > 0 && op.variant % 5 !== 0 ? owing : holders.length > 0 ? holders : [CMO];
        const by = natural(candidates[op.pick % candidates.length]);
        const held = b.holdings[by];
        const account = accountFor(op, held);
        const { quarantinedQuantity, dispensedQuantity, destroyedQuantity, missingQuantity } = account;
        const gone = dispensedQuantity + destroyedQuantity + missingQuantity;
        return this.batchStep(
          op,
          by,
          "RecallAcknowledgement",
          { holderId: this.party(by).id, batchId: b.id, ...account },
          () =>
            this.attestation(by, op.auth) ??
            this.unknownBatch(b) ??
            (b.recall !== RecallStatus.Open ? refuse("RecallNotOpen", b.id) : undefined) ??
            (held === 0n ? refuse("NotBatchHolder", b.id, this.party(by).id) : undefined) ??
            (b.acknowledged[by] ? refuse("RecallAlreadyAcknowledged", b.id, this.party(by).id) : undefined) ??
            (quarantinedQuantity + gone !== held
              ? refuse("AcknowledgementDoesNotAddUp", b.id, this.party(by).id, held, quarantinedQuantity + gone)
              : undefined) ?? {
              ok: true,
              apply: () => {
                b.acknowledged[by] = true;
                // What the holder says is gone leaves its holding, as the contract does.
                if (gone > 0n) debit(b, by, gone);
                b.acknowledged[by] = true;
              },
            },
          (message, signature) => c.batches.acknowledgeRecall.populateTransaction(message, signature),
        );
      }

      case "closeRecall": {
        const by = natural(MAH);
        return this.batchStep(
          op,
          by,
          "RecallClosure",
          { mahId: this.party(by).id, batchId: b.id, reportHash: hashText("recall report") },
          () => {
            const unacknowledged = unacknowledgedOf(b);
            const inTransit = inTransitOf(m, op.batch).length;
            return (
              this.attestation(by, op.auth) ??
              this.unknownBatch(b) ??
              (by !== MAH ? refuse("NotBatchMah", b.id, this.party(by).id) : undefined) ??
              (b.recall !== RecallStatus.Open ? refuse("RecallNotOpen", b.id) : undefined) ??
              (unacknowledged !== 0 || inTransit !== 0 ? refuse("RecallNotReconciled", b.id, unacknowledged, inTransit) : undefined) ?? {
                ok: true,
                apply: () => {
                  b.recall = RecallStatus.Closed;
                },
              }
            );
          },
          (message, signature) => c.batches.closeRecall.populateTransaction(message, signature),
        );
      }

      case "recordBatch": {
        const by = natural(CMO);
        const quantity = BigInt(BATCH_SIZE);
        return this.batchStep(
          op,
          by,
          "BatchRecord",
          {
            cmoId: this.party(by).id,
            agreementId: c.agreementId,
            batchNumber: BATCH_NUMBERS[op.batch],
            quantity,
            manufacturedAt: this.w.recordedAt - DAY,
            expiresAt: this.w.recordedAt + 2 * 365 * DAY,
            batchRecordHash: hashText(`batch record ${BATCH_NUMBERS[op.batch]}`),
            codesRoot: this.w.trees[op.batch].root,
          },
          () =>
            this.attestation(by, op.auth) ??
            this.roleCheck(by, Role.Cmo) ??
            (b.state !== BatchState.None ? refuse("BatchAlreadyRecorded", b.id) : undefined) ?? {
              ok: true,
              apply: () => {
                b.state = BatchState.Manufactured;
                b.made = quantity;
                b.holdings[CMO] = quantity;
              },
            },
          (message, signature) => c.batches.recordBatch.populateTransaction(message, signature),
        );
      }

      case "suspend":
      case "reinstate": {
        const by = natural(REGULATOR);
        // Anyone but the bootstrapped regulator, so that someone can always reinstate.
        const target = [0, 1, 2, 3, 4, REGULATOR2][op.pick % 6];
        const suspend = op.kind === "suspend";
        const nonce = c.nextNonce();
        const { message, signature } = await c.sign("ConsortiumRegistry", suspend ? "Suspension" : "Reinstatement", this.keyFor(by, op.auth), {
          regulatorId: this.party(by).id,
          nonce,
          organizationId: this.party(target).id,
          reasonHash: hashText("GMP"),
        });
        const targetId = this.party(target).id;
        const expectation = this.attestation(by, op.auth) ??
          this.roleCheck(by, Role.Regulator) ??
          (suspend && m.suspended[target] ? refuse("SuspendedOrganization", targetId) : undefined) ??
          (!suspend && !m.suspended[target] ? refuse("OrganizationNotSuspended", targetId) : undefined) ?? {
            ok: true,
            apply: () => {
              m.suspended[target] = suspend;
            },
          };
        return {
          label: `${op.kind} ${target} by ${by}`,
          expect: expectation,
          contract: "registry",
          organizationId: this.party(by).id,
          nonce,
          transaction: () =>
            suspend
              ? c.registry.suspendOrganization.populateTransaction(message as never, signature)
              : c.registry.reinstateOrganization.populateTransaction(message as never, signature),
        };
      }

      case "replay": {
        if (this.sent.length === 0) return undefined;
        const original = this.sent[op.pick % this.sent.length];
        return {
          ...original,
          label: `replay of ${original.label}`,
          expect:
            original.consumes === undefined
              ? refuse("AttestationNonceUsed", original.organizationId, original.nonce)
              : (this.attestation(original.consumes.actor, "own") ?? refuse("ShipmentNotInTransit", original.consumes.shipmentId)),
          replay: true,
        };
      }
    }
  }

  /**
   * Packs of the step's batch for a dispensing or a pack state change, chosen by `op.variant`: none, one of another
   * batch (proved against that batch's tree), or one to three that `wanted` accepts, now and then with one it does not.
   */
  private choosePacks(op: Op, wanted: (pack: string) => boolean) {
    const codes = this.w.codes[op.batch];
    const leaves = this.w.packs[op.batch];
    const fitting = codes.filter((_, i) => wanted(leaves[i]));
    const others = codes.filter((_, i) => !wanted(leaves[i]));
    const mode = op.variant % 12;
    let chosen: string[];
    let proofTree: StandardMerkleTree<string[]> = this.w.trees[op.batch];
    if (mode === 0) chosen = [];
    else if (mode === 1) {
      const other = (op.batch + 1) % 3;
      proofTree = this.w.trees[other];
      chosen = [this.w.codes[other][op.pick % BATCH_SIZE]];
    } else {
      const count = 1 + (op.pick % 3);
      const start = op.pick % Math.max(fitting.length, 1);
      chosen = fitting.slice(start, start + count);
      if (chosen.length < count) chosen.push(...fitting.slice(0, Math.min(start, count - chosen.length)));
      if ((mode === 2 || chosen.length === 0) && others.length > 0) chosen.push(others[op.pick % others.length]);
      if (chosen.length === 0) chosen = [codes[op.pick % BATCH_SIZE]];
    }
    const proved = chosen.length > 0 ? dispensingProof(proofTree, chosen) : { packs: [], proof: [], proofFlags: [] };
    return { ...proved, foreign: proofTree !== this.w.trees[op.batch] };
  }

  /** The proof checks: at least one pack, each of the batch's committed codes. */
  private provable(b: BatchModel, packs: readonly string[], foreign: boolean): Expectation | undefined {
    if (packs.length === 0) return refuse("NoPacks");
    return foreign ? refuse("PacksNotInBatch", b.id) : undefined;
  }

  /** The first pack that already has a state: one state at a time. */
  private notActive(packs: readonly string[]): Expectation | undefined {
    const taken = packs.find((pack) => this.model.packStates.has(pack));
    if (taken === undefined) return undefined;
    const { state } = this.model.packStates.get(taken)!;
    return state === PackState.Dispensed ? refuse("PackAlreadyDispensed", taken) : refuse("PackNotActive", taken, state);
  }

  /** The first pack `by` may not undo: active, final, another's, or past its window. */
  private notUndoable(packs: readonly string[], by: number): Expectation | undefined {
    for (const pack of packs) {
      const record = this.model.packStates.get(pack);
      const state = record?.state ?? PackState.Active;
      if (!record || state === PackState.Destroyed || state === PackState.Stolen) return refuse("PackStateIrreversible", pack, state);
      if (record.by !== by) return refuse("NotPackStateSetter", pack, this.party(record.by).id, this.party(by).id);
      if (UNDOABLE.includes(state) && record.epoch !== this.model.epoch) return refuse("UndoWindowClosed", pack, record.at, DEFAULT_UNDO_WINDOW);
    }
    return undefined;
  }

  /** Gives the packs `state`, set by `by` now; a state that leaves stock takes them out of its holding. */
  private setPacks(b: BatchModel, packs: readonly string[], state: number, by: number) {
    for (const pack of packs) this.model.packStates.set(pack, { state, by, at: this.blockTime, epoch: this.model.epoch });
    if (LEAVES_STOCK.includes(state)) debit(b, by, BigInt(packs.length));
  }

  private batchParty(b: BatchModel, by: number): Expectation | undefined {
    return by !== MAH && by !== CMO ? refuse("NotBatchParty", b.id, this.party(by).id) : undefined;
  }

  /**
   * Sends a step and checks that the chain did what the model expected; returns whether its nonce must now be spent
   * (checkInvariants reads it with everything else).
   */
  async run(step: Step): Promise<NonceCheck> {
    const outcome = await step
      .transaction()
      .then((tx) => this.transact(tx))
      .then(
        (receipt) => ({ receipt }),
        (error: unknown) => ({ error }),
      );
    if ("error" in outcome) {
      const decoded = decodeRevert(outcome.error);
      if (step.expect.ok) {
        throw new Error(`${step.label}: the model expected success, the chain reverted with ${decoded.name}(${decoded.args})`);
      }
      expect(decoded.name, `${step.label}: revert error`).to.equal(step.expect.error);
      expect(normalise(decoded.args), `${step.label}: ${decoded.name} arguments`).to.deep.equal(normalise(step.expect.args));
    } else {
      if (!step.expect.ok) {
        throw new Error(`${step.label}: the model expected ${step.expect.error}(${step.expect.args}), the chain accepted it`);
      }
      if (step.packs) this.blockTime = await blockTimeOf(outcome.receipt);
      step.expect.apply();
      this.sent.push(step);
      this.recordEvents(outcome.receipt.logs);
    }
    const spent = step.consumes === undefined && (step.expect.ok || step.replay === true);
    return { contract: step.contract, organizationId: step.organizationId, nonce: step.nonce, spent };
  }

  /**
   * Sends the transaction straight to the node with a gas limit, so the node runs it once instead of estimating its
   * gas first, and answers its receipt; a revert throws the node's error, which carries the revert data.
   */
  private async transact(tx: ContractTransaction): Promise<{ logs: Log[]; blockNumber: string }> {
    const provider = hre.network.provider;
    const hash = await provider.send("eth_sendTransaction", [{ from: await this.c.relayer.getAddress(), to: tx.to, data: tx.data, gas: GAS_LIMIT }]);
    return provider.send("eth_getTransactionReceipt", [hash]);
  }

  private recordEvents(logs: readonly { topics: readonly string[]; data: string }[]) {
    const index = (batchId: string) => this.w.batchIds.indexOf(batchId);
    for (const log of logs) {
      const parsed = this.c.batches.interface.parseLog({ topics: [...log.topics], data: log.data });
      if (!parsed) continue;
      const a = parsed.args;
      switch (parsed.name) {
        case "BatchRecorded":
          this.events[index(a.batchId)].made += a.record.quantity as bigint;
          break;
        case "BatchShipped":
          this.shippedQuantity.set(a.shipmentId, a.shipment.quantity as bigint);
          break;
        case "ShipmentReceived":
          this.events[index(a.batchId)].shortfall += (a.receipt.shippedQuantity as bigint) - (a.receipt.receivedQuantity as bigint);
          break;
        case "PacksDispensed":
          this.packsChanged(index(a.batchId), a.dispensing.packs as string[], PackState.Dispensed);
          break;
        case "PackStatesChanged":
          this.packsChanged(index(a.batchId), a.change.packs as string[], Number(a.change.state));
          break;
        case "StockDestroyed":
          this.events[index(a.batchId)].destroyed += a.destruction.quantity as bigint;
          break;
        case "RecallAcknowledged": {
          const { dispensedQuantity, destroyedQuantity, missingQuantity } = a.acknowledgement;
          this.events[index(a.batchId)].reported += (dispensedQuantity as bigint) + (destroyedQuantity as bigint) + (missingQuantity as bigint);
          break;
        }
      }
    }
  }

  /** Packs leaving stock by their new state, or returning to it (ACTIVE) by the state they had, by the events alone. */
  private packsChanged(batch: number, packs: readonly string[], state: number) {
    for (const pack of packs) {
      const leaving = state === PackState.Active ? (this.eventPackStates.get(pack) ?? PackState.Active) : state;
      if (LEAVES_STOCK.includes(leaving)) this.events[batch].packsOut += state === PackState.Active ? -1n : 1n;
      this.eventPackStates.set(pack, state);
    }
  }

  private readonly calldata = new Map<string, string>();

  /** Encodes a view call once: the same few hundred reads follow every step. */
  private encode(fn: string, args: unknown[]): string {
    const key = `${fn}(${args.join()})`;
    let data = this.calldata.get(key);
    if (data === undefined) {
      data = (this.c.batches.interface as Interface).encodeFunctionData(fn, args);
      this.calldata.set(key, data);
    }
    return data;
  }

  /**
   * Reads everything the rules keep about the three batches in one call, compares it with the model, and checks
   * that quantity is conserved. `packs` are the packs whose record (state, setter, time) is read (all of them at the
   * end of a sequence; a step's own packs after a dispensing or pack state change). `nonce` is the step's nonce and whether it must be spent.
   */
  async checkInvariants(context: string, packs: readonly string[], registry: boolean, nonce?: NonceCheck) {
    const m = this.model;
    const reads: string[] = [];
    const parties = this.w.parties;
    m.batches.forEach((b) => {
      reads.push(this.encode("batch", [b.id]));
      for (const p of parties) reads.push(this.encode("holding", [b.id, p.id]));
      for (const r of REPORTS) reads.push(this.encode("deviationStatus", [b.id, r]));
    });
    for (const s of m.shipments) reads.push(this.encode("isInTransit", [s.id]));
    reads.push(this.encode("isInTransit", [this.phantom]));
    for (const pack of packs) reads.push(this.encode("packRecord", [pack]));
    const ledgerNonce = nonce?.contract === "batches" ? nonce : undefined;
    if (ledgerNonce) reads.push(this.c.batches.interface.encodeFunctionData("isNonceUsed", [ledgerNonce.organizationId, ledgerNonce.nonce]));
    const results = await multicallRead(this.c.batches, reads);
    let next = 0;
    const words = () => {
      const hex = results[next++];
      return Array.from({ length: (hex.length - 2) / 64 }, (_, k) => BigInt(`0x${hex.slice(2 + 64 * k, 66 + 64 * k)}`));
    };

    const actualBatches = m.batches.map((b) => {
      const [state, recall, recallLevel, openDeviations, mahId, cmoId, holders, unacknowledged, inTransit, , onHold] = words();
      const holdings = parties.map(() => words());
      const deviations = REPORTS.map(() => Number(words()[0]));
      return {
        state: Number(state),
        recall: Number(recall),
        recallLevel: Number(recallLevel),
        openDeviations: Number(openDeviations),
        mahId: Number(mahId),
        cmoId: Number(cmoId),
        holders: Number(holders),
        unacknowledgedHolders: Number(unacknowledged),
        shipmentsInTransit: Number(inTransit),
        onHold: onHold === 1n,
        holdings: holdings.map(([quantity]) => quantity),
        // The acknowledgement matters for what a holder holds during an open recall.
        acknowledged: holdings.map(([quantity, acknowledged]) => (b.recall === RecallStatus.Open && quantity > 0n ? acknowledged === 1n : null)),
        deviations,
      };
    });
    const actualInTransit = [...m.shipments, { id: this.phantom }].map(() => words()[0] === 1n);
    const actualPacks = packs.map(() => {
      const [state, organizationId, changedAt] = words();
      return { state: Number(state), organizationId: Number(organizationId), changedAt: Number(changedAt) };
    });
    if (ledgerNonce) expect(words()[0] === 1n, `${context}: nonce spent`).to.equal(ledgerNonce.spent);

    const expectedBatches = m.batches.map((b, i) => ({
      state: b.state,
      recall: b.recall,
      recallLevel: b.recallLevel,
      openDeviations: openDeviationsOf(b),
      mahId: b.state === BatchState.None ? 0 : this.party(MAH).id,
      cmoId: b.state === BatchState.None ? 0 : this.party(CMO).id,
      holders: holdersOf(b),
      unacknowledgedHolders: unacknowledgedOf(b),
      shipmentsInTransit: inTransitOf(m, i).length,
      onHold: b.onHold,
      holdings: b.holdings,
      acknowledged: b.holdings.map((quantity, p) => (b.recall === RecallStatus.Open && quantity > 0n ? b.acknowledged[p] : null)),
      deviations: REPORTS.map((r) => b.deviations.get(r)),
    }));
    const actual = { batches: actualBatches, inTransit: actualInTransit, packs: actualPacks };
    const expected = {
      batches: expectedBatches,
      inTransit: [...m.shipments.map((s) => s.inTransit), false],
      packs: packs.map((pack) => {
        const record = m.packStates.get(pack);
        return record
          ? { state: record.state, organizationId: this.party(record.by).id, changedAt: record.at }
          : { state: 0, organizationId: 0, changedAt: 0 };
      }),
    };
    // A string comparison is fast; chai only runs to explain a difference.
    if (JSON.stringify(actual, bigints) !== JSON.stringify(expected, bigints)) {
      expect(actual, `${context}: chain and model differ`).to.deep.equal(expected);
    }

    // Conservation, from the chain alone: what was made is held, in transit, destroyed by quantity, missing, or out
    // of stock by a pack state (dispensed, destroyed, stolen, sample, exported).
    const inTransitQuantity = m.batches.map(() => 0n);
    m.shipments.forEach((s, k) => {
      if (actualInTransit[k]) inTransitQuantity[s.batch] += this.shippedQuantity.get(s.id) ?? 0n;
    });
    actualBatches.forEach((b, i) => {
      const e = this.events[i];
      const held = b.holdings.reduce((sum, q) => sum + q, 0n);
      // `reported`: dispensed, destroyed and missing as recall acknowledgements state them.
      const accounted = held + inTransitQuantity[i] + e.packsOut + e.destroyed + e.shortfall + e.reported;
      if (accounted !== e.made || e.made !== m.batches[i].made) {
        expect(
          { held, inTransit: inTransitQuantity[i], ...e, accounted },
          `${context}: quantity of ${BATCH_NUMBERS[i]} is not conserved`,
        ).to.deep.equal({ held, inTransit: inTransitQuantity[i], ...e, accounted: m.batches[i].made });
      }
    });
    if (packs.length === this.w.packs.flat().length) {
      expect(
        actualPacks.map((record) => record.state),
        `${context}: pack states, by storage and by events`,
      ).to.deep.equal(packs.map((pack) => this.eventPackStates.get(pack) ?? PackState.Active));
    }

    const registryNonce = nonce?.contract === "registry" ? nonce : undefined;
    if (registry || registryNonce) {
      const registryContract = this.c.registry;
      const reads = parties.map((p) => registryContract.interface.encodeFunctionData("organization", [p.id]));
      if (registryNonce)
        reads.push(registryContract.interface.encodeFunctionData("isNonceUsed", [registryNonce.organizationId, registryNonce.nonce]));
      const statuses = await multicallRead(registryContract, reads);
      if (registryNonce) expect(BigInt(statuses.pop()!) === 1n, `${context}: nonce spent`).to.equal(registryNonce.spent);
      expect(
        statuses.map((data) => Number(registryContract.interface.decodeFunctionResult("organization", data)[0].status)),
        `${context}: organization status`,
      ).to.deep.equal(m.suspended.map((s) => (s ? OrganizationStatus.Suspended : OrganizationStatus.Active)));
    }
  }
}

/** `multicall(bytes[])`, the same function on every contract. */
const MULTICALL = new Interface(["function multicall(bytes[] data) returns (bytes[] results)"]).getFunction("multicall")!.selector;
const word = (n: number) => n.toString(16).padStart(64, "0");

/**
 * Calls `multicall(calls)` on `contract` straight through the node and answers each call's result. The invariants
 * read about fifty values after every step; ethers' byte-by-byte encoding and copying of them cost more than the
 * step itself, so the ABI of bytes[] is written and read here as hex.
 */
async function multicallRead(contract: BaseContract, calls: readonly string[]): Promise<string[]> {
  let offset = 32 * calls.length;
  const heads: string[] = [];
  const tails: string[] = [];
  for (const call of calls) {
    const hex = call.slice(2);
    const padded = hex.padEnd(Math.ceil(hex.length / 64) * 64, "0");
    heads.push(word(offset));
    tails.push(word(hex.length / 2) + padded);
    offset += 32 + padded.length / 2;
  }
  const data = `${MULTICALL}${word(32)}${word(calls.length)}${heads.join("")}${tails.join("")}`;
  const answer: string = await hre.network.provider.send("eth_call", [{ to: await contract.getAddress(), data }, "latest"]);
  const body = answer.slice(2);
  const at = (byte: number) => parseInt(body.slice(2 * byte, 2 * byte + 64), 16);
  const start = at(0);
  return Array.from({ length: at(start) }, (_, i) => {
    const element = start + 32 + at(start + 32 + 32 * i);
    return `0x${body.slice(2 * (element + 32), 2 * (element + 32 + at(element)))}`;
  });
}

const bigints = (_: string, v: unknown) => (typeof v === "bigint" ? `${v}n` : v);

/** The time of the block a receipt is in. */
async function blockTimeOf(receipt: { blockNumber: string }): Promise<number> {
  const block = await hre.network.provider.send("eth_getBlockByNumber", [receipt.blockNumber, false]);
  return Number(block.timestamp);
}

function shipmentIdOf(shipperId: number, nonce: bigint) {
  return keccakAbi(["uint32", "uint256"], [shipperId, nonce]);
}

function keccakAbi(types: string[], values: unknown[]) {
  return keccak256(AbiCoder.defaultAbiCoder().encode(types, values));
}

/** Errors of all three contracts: a registry error bubbles up through the ledger's call to the registry. */
let errorInterfaces: Interface[] = [];

function decodeRevert(error: unknown): { name: string; args: unknown[] } {
  const data = (error as { data?: unknown }).data;
  if (typeof data !== "string" || data.length < 10) throw error;
  for (const iface of errorInterfaces) {
    const parsed = iface.parseError(data);
    if (parsed) return { name: parsed.name, args: [...parsed.args] };
  }
  throw new Error(`undecodable revert data ${data}`);
}

function normalise(values: unknown[]): string[] {
  return values.map((v) => (typeof v === "string" ? v.toLowerCase() : String(v)));
}

/** Runs random sequences from a fresh copy of the fixture; every step is checked against the model. */
async function checkSequences(ops: fc.Arbitrary<Op[]>, runs: number) {
  const outcomes = { accepted: 0, refused: 0, sequences: 0, byOutcome: {} as Record<string, number> };
  await fc.assert(
    fc.asyncProperty(ops, async (sequence) => {
      const w = await loadFixture(invariantConsortium);
      errorInterfaces = [w.c.batches.interface, w.c.registry.interface, w.c.products.interface];
      const runner = new Runner(w);
      outcomes.sequences += 1;
      for (const [i, op] of sequence.entries()) {
        const step = await runner.step(op);
        if (!step) continue;
        const nonce = await runner.run(step);
        if (step.expect.ok) outcomes.accepted += 1;
        else outcomes.refused += 1;
        const key = `${op.kind}: ${step.expect.ok ? "accepted" : step.expect.error}`;
        outcomes.byOutcome[key] = (outcomes.byOutcome[key] ?? 0) + 1;
        await runner.checkInvariants(`step ${i} (${step.label})`, step.packs ?? [], step.contract === "registry", nonce);
      }
      await runner.checkInvariants("end of sequence", w.packs.flat(), true);
    }),
    { numRuns: runs, seed: SEED },
  );
  if (process.env.FC_DEBUG) console.log(outcomes);
  // Guards the generator: a run that only ever refuses (or only accepts) would prove little.
  expect(outcomes.accepted).to.be.greaterThan(outcomes.sequences);
  expect(outcomes.refused).to.be.greaterThan(outcomes.sequences);
  return outcomes;
}

describe("batch ledger invariants under random attestations", () => {
  it("agrees with the model, conserves quantity and refuses exactly what the rules refuse", async () => {
    const { byOutcome } = await checkSequences(fc.array(opArbitrary(CUSTODY_MIX), { minLength: 1, maxLength: MAX_STEPS, size: "max" }), RUNS);
    // With the default number of runs, holds are placed, stop stock and are released.
    if (RUNS >= 240) {
      for (const outcome of ["placeHold: accepted", "releaseHold: accepted", "ship: BatchOnHold"])
        expect(byOutcome[outcome], outcome).to.be.greaterThan(0);
    }
  }, 900_000);

  it("keeps the recall's bookkeeping while holders acknowledge, receive, destroy and the MAH tries to close", async () => {
    const recallBatchA: Op = { kind: "startRecall", batch: 0, actor: MAH, auth: "own", amount: "all", pick: 0, variant: 1 };
    const { byOutcome } = await checkSequences(
      fc.array(opArbitrary(RECALL_MIX, [8, 1, 1]), { minLength: 16, maxLength: RECALL_STEPS, size: "max" }).map((ops) => [recallBatchA, ...ops]),
      RECALL_RUNS,
    );
    // With the default number of runs, some sequences reconcile the recall completely and close it.
    if (RECALL_RUNS >= 40) {
      expect(byOutcome["acknowledgeRecall: accepted"]).to.be.greaterThan(0);
      expect(byOutcome["acknowledgeRecall: AcknowledgementDoesNotAddUp"]).to.be.greaterThan(0);
      expect(byOutcome["closeRecall: accepted"]).to.be.greaterThan(0);
    }
  }, 900_000);

  it("keeps one state per pack and conserves quantity while packs are set, undone in and after their window", async () => {
    const { byOutcome } = await checkSequences(
      fc.array(opArbitrary(PACK_MIX, [8, 1, 1]), { minLength: 8, maxLength: MAX_STEPS, size: "max" }),
      RECALL_RUNS,
    );
    // With the default number of runs, undos are accepted within the window and refused after it.
    if (RECALL_RUNS >= 40) {
      expect(byOutcome["undo: accepted"]).to.be.greaterThan(0);
      expect(byOutcome["undo: UndoWindowClosed"]).to.be.greaterThan(0);
      expect(byOutcome["packState: accepted"]).to.be.greaterThan(0);
    }
  }, 900_000);
});
