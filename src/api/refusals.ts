import { AbiCoder, dataSlice, Interface } from "ethers";
import type { ErrorFragment } from "ethers";
import { BatchLedger__factory, ConsortiumRegistry__factory, ProductRegistry__factory } from "../../typechain-types";
import type { Store } from "../store";
import type { SignedAttestation } from "./attestation-body";
import { chinaTime } from "./china-time";
import { ApiError } from "./errors";

/**
 * What the relay answers when a contract would refuse an attestation: every custom error of the three contracts
 * (and of the OpenZeppelin code they inherit) has a stable code, a status and a message in words, filled in from
 * the read model where it knows more than the error's arguments (a batch's number, an organization's name).
 *
 * Status classes: 400 the attestation itself is malformed whatever the ledger holds; 403 a signer may not make
 * this attestation (unknown, revoked or foreign key, suspended organization, wrong role, not a party); 409 a
 * replayed nonce; 422 the ledger's state refuses it now (the state machine).
 */

/** One decoded error: its name and arguments by name. */
export type DecodedError = { name: string; args: Record<string, unknown> };

/** The attestation a refusal concerns, as the relay checked it. */
export type RefusalContext = {
  index: number;
  attestation: SignedAttestation;
  /** Addresses that signed it (the counterparty's too for an agreement), lowercase. */
  signers: string[];
  /** Organizations that signed it. */
  signerOrganizations: number[];
  names: Namer;
};

type Rule = {
  status: number;
  code: string;
  /** The field at fault within the attestation (message.quantity, signature), for 400s. */
  field?: string;
  explain(args: Args, context: RefusalContext): string | Promise<string>;
  /** When one error means different things by whom it names (the signer, or another party). */
  refine?(args: Args, context: RefusalContext): { status: number; code: string } | undefined;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Args = Record<string, any>;

const ROLES = ["no role", "MAH", "CMO", "distributor", "dispenser", "regulator"];
const STATES = ["not recorded", "manufactured (not yet released)", "released from the factory", "released to the market"];
const VERBS: Record<string, string> = { Shipment: "ship", Destruction: "destroy", Dispensing: "dispense" };

const plural = (count: number | bigint, word: string) => `${count} ${word}${Number(count) === 1 ? "" : "s"}`;
const isSigner = (address: string, context: RefusalContext) => context.signers.includes(String(address).toLowerCase());

export const CONTRACT_REFUSALS: Record<string, Rule> = {
  // ----- every contract: signatures, nonces, roles (Attestations.sol, OpenZeppelin) -----
  AttestationNonceUsed: {
    status: 409,
    code: "REPLAYED_ATTESTATION",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} already used nonce ${a.nonce} on ${c.attestation.contract}: ` +
      `this attestation is a replay or a duplicate; sign a new one with a fresh nonce`,
  },
  ECDSAInvalidSignature: { status: 400, code: "INVALID_SIGNATURE", field: "signature", explain: () => "the signature is not a valid ECDSA signature" },
  ECDSAInvalidSignatureLength: {
    status: 400,
    code: "INVALID_SIGNATURE",
    field: "signature",
    explain: (a) => `the signature has ${a.length} bytes; it must have 65`,
  },
  ECDSAInvalidSignatureS: {
    status: 400,
    code: "INVALID_SIGNATURE",
    field: "signature",
    explain: () => "the signature's s value is in the upper half of the curve order (a malleable signature); normalize it",
  },
  OrganizationRoleMismatch: {
    status: 403,
    code: "ORGANIZATION_ROLE_MISMATCH",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} is a ${ROLES[Number(a.role)]}; ` +
      `a ${c.attestation.type} attestation must come from a ${ROLES[Number(a.required)]}`,
  },
  MerkleProofInvalidMultiproof: {
    status: 400,
    code: "INVALID_MULTIPROOF",
    field: "proof",
    explain: () => "the multiproof is malformed: its proof and flags do not fit the number of packs",
  },
  FailedCall: {
    status: 422,
    code: "CONTRACT_CALL_FAILED",
    explain: () => "the contract refused one of the calls without giving a reason",
  },
  AddressEmptyCode: {
    status: 500,
    code: "RELAY_MISCONFIGURED",
    explain: (a) => `the relay's deployment names ${a.target}, which holds no contract`,
  },
  InvalidShortString: { status: 500, code: "RELAY_MISCONFIGURED", explain: () => "the contract's EIP-712 name is malformed" },
  StringTooLong: { status: 500, code: "RELAY_MISCONFIGURED", explain: () => "the contract's EIP-712 name is too long" },

  // ----- ConsortiumRegistry -----
  UnknownSigningKey: {
    status: 403,
    code: "UNKNOWN_SIGNING_KEY",
    explain: (a) =>
      `the signature recovers to ${a.signer}, which is not a registered signing key: the signature is forged, ` +
      `the message was changed after signing, or it was signed for another contract or chain`,
  },
  RevokedSigningKey: {
    status: 403,
    code: "REVOKED_SIGNING_KEY",
    refine: (a, c) => (isSigner(a.signer, c) ? undefined : { status: 422, code: "SIGNING_KEY_ALREADY_REVOKED" }),
    explain: (a, c) =>
      isSigner(a.signer, c)
        ? `signing key ${a.signer} was revoked by its organization; sign with a current key`
        : `signing key ${a.signer} is already revoked`,
  },
  SignerNotOfOrganization: {
    status: 403,
    code: "SIGNER_NOT_OF_ORGANIZATION",
    refine: (a, c) => (isSigner(a.signer, c) ? undefined : { status: 422, code: "KEY_NOT_OF_ORGANIZATION" }),
    explain: async (a, c) =>
      isSigner(a.signer, c)
        ? `the attestation names ${await c.names.organization(a.organizationId)}, but key ${a.signer} that signed it ` +
          `belongs to ${await c.names.keyOwner(a.signer)}`
        : `key ${a.signer} is not a key of ${await c.names.organization(a.organizationId)}`,
  },
  UnknownOrganization: {
    status: 422,
    code: "UNKNOWN_ORGANIZATION",
    explain: (a) => `no organization ${a.organizationId} is in the consortium`,
  },
  SuspendedOrganization: {
    status: 403,
    code: "ORGANIZATION_SUSPENDED",
    // Contracts check the signer's organization before any organization the attestation names.
    refine: (a, c) => (c.signerOrganizations.includes(Number(a.organizationId)) ? undefined : { status: 422, code: "PARTY_SUSPENDED" }),
    explain: async (a, c) =>
      c.signerOrganizations.includes(Number(a.organizationId))
        ? `${await c.names.organization(a.organizationId)} is suspended: its attestations are refused until a regulator reinstates it`
        : `${await c.names.organization(a.organizationId)}, which the attestation names, is suspended`,
  },
  OrganizationNotSuspended: {
    status: 422,
    code: "ORGANIZATION_NOT_SUSPENDED",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not suspended, so it cannot be reinstated`,
  },
  SigningKeyAlreadyRegistered: {
    status: 422,
    code: "SIGNING_KEY_ALREADY_REGISTERED",
    explain: async (a, c) => `key ${a.signingKey} is already registered to ${await c.names.keyOwner(a.signingKey)}; a key serves one organization, once`,
  },
  InvalidSigningKey: { status: 400, code: "INVALID_SIGNING_KEY", field: "message.signingKey", explain: () => "the signing key must not be the zero address" },
  InvalidRole: { status: 400, code: "INVALID_ROLE", field: "message.role", explain: () => "an organization must be onboarded with a role (not None)" },
  LastSigningKey: {
    status: 422,
    code: "LAST_SIGNING_KEY",
    explain: async (a, c) =>
      `key ${a.signingKey} is the last active key of ${await c.names.organization(a.organizationId)}; add another before revoking it`,
  },

  // ----- ProductRegistry -----
  InvalidProductCode: {
    status: 400,
    code: "INVALID_PRODUCT_CODE",
    field: "message.productCode",
    explain: (a) => `product code ${JSON.stringify(a.productCode)} is neither a 7-digit NMPA drug code nor a GTIN-14 with a valid check digit`,
  },
  ProductAlreadyRegistered: {
    status: 422,
    code: "PRODUCT_ALREADY_REGISTERED",
    explain: async (a, c) => `${await c.names.product(a.productId)} is already registered`,
  },
  UnknownProduct: { status: 422, code: "UNKNOWN_PRODUCT", explain: (a) => `no product ${a.productId} is registered` },
  NotProductMah: {
    status: 403,
    code: "NOT_PRODUCT_MAH",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not the MAH of ${await c.names.product(a.productId)}`,
  },
  InvalidAgreementKind: { status: 400, code: "INVALID_AGREEMENT_KIND", field: "message.kind", explain: () => "an agreement must have a kind (Quality, Storage, Transport or Sales)" },
  InvalidReleaseTester: {
    status: 400,
    code: "INVALID_RELEASE_TESTER",
    field: "message.releaseTester",
    explain: () => "a quality agreement must say who performs release testing (Cmo, Mah or ContractLaboratory)",
  },
  InvalidValidityWindow: {
    status: 400,
    code: "INVALID_VALIDITY_WINDOW",
    field: "message.validUntil",
    explain: (a) => `the agreement's validity ends (${chinaTime(Number(a.validUntil))}) before it starts (${chinaTime(Number(a.validFrom))}) or has already ended`,
  },
  UnknownAgreement: { status: 422, code: "UNKNOWN_AGREEMENT", explain: (a) => `no agreement ${a.agreementId} is on the ledger` },
  AgreementAlreadyRevoked: { status: 422, code: "AGREEMENT_ALREADY_REVOKED", explain: (a) => `agreement ${a.agreementId} is already revoked` },
  NotAgreementParty: {
    status: 403,
    code: "NOT_AGREEMENT_PARTY",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not a party to agreement ${a.agreementId}`,
  },

  // ----- BatchLedger: recording -----
  NotQualityAgreement: {
    status: 422,
    code: "NOT_QUALITY_AGREEMENT",
    explain: (a) => `agreement ${a.agreementId} is not a quality agreement; a batch is recorded under the product's quality agreement`,
  },
  NotAgreementCounterparty: {
    status: 403,
    code: "NOT_AGREEMENT_COUNTERPARTY",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not the CMO of quality agreement ${a.agreementId}`,
  },
  RevokedAgreement: { status: 422, code: "AGREEMENT_REVOKED", explain: (a) => `quality agreement ${a.agreementId} was revoked; no batch can be recorded under it` },
  AgreementNotInForce: {
    status: 422,
    code: "AGREEMENT_NOT_IN_FORCE",
    explain: (a) =>
      `quality agreement ${a.agreementId} is in force from ${chinaTime(Number(a.validFrom))} until ${chinaTime(Number(a.validUntil))}, not now`,
  },
  InvalidBatchNumber: {
    status: 400,
    code: "INVALID_BATCH_NUMBER",
    field: "message.batchNumber",
    explain: (a) => `batch number ${JSON.stringify(a.batchNumber)} must have 1 to 20 characters (the GS1 batch/lot field)`,
  },
  InvalidBatchDates: {
    status: 400,
    code: "INVALID_BATCH_DATES",
    field: "message.expiresAt",
    explain: (a) =>
      `a batch manufactured at ${chinaTime(Number(a.manufacturedAt))} and expiring at ${chinaTime(Number(a.expiresAt))} ` +
      `cannot be recorded: it is manufactured in the future or already expired`,
  },
  EmptyCodesRoot: { status: 400, code: "EMPTY_CODES_ROOT", field: "message.codesRoot", explain: () => "a batch must commit the Merkle root of its codes" },
  ZeroQuantity: { status: 400, code: "ZERO_QUANTITY", field: "message.quantity", explain: () => "the quantity must be at least 1" },
  BatchAlreadyRecorded: { status: 422, code: "BATCH_ALREADY_RECORDED", explain: async (a, c) => `${await c.names.batch(a.batchId)} is already recorded` },
  UnknownBatch: { status: 422, code: "UNKNOWN_BATCH", explain: (a) => `no batch ${a.batchId} is on the ledger` },
  NotBatchParty: {
    status: 403,
    code: "NOT_BATCH_PARTY",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is neither the MAH nor the CMO of ${await c.names.batch(a.batchId)}`,
  },
  NotBatchCmo: {
    status: 403,
    code: "NOT_BATCH_CMO",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not the CMO of ${await c.names.batch(a.batchId)}`,
  },
  NotBatchMah: {
    status: 403,
    code: "NOT_BATCH_MAH",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not the MAH of ${await c.names.batch(a.batchId)}`,
  },

  // ----- BatchLedger: deviations and release -----
  InvalidDeviationKind: { status: 400, code: "INVALID_DEVIATION_KIND", field: "message.kind", explain: () => "a deviation must have a kind (Deviation, OutOfSpecification or OutOfTrend)" },
  DeviationAlreadyReported: {
    status: 422,
    code: "DEVIATION_ALREADY_REPORTED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} already has a deviation with report ${a.reportHash}`,
  },
  DeviationNotOpen: {
    status: 422,
    code: "DEVIATION_NOT_OPEN",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} has no open deviation with report ${a.reportHash}`,
  },
  BatchStateMismatch: {
    status: 422,
    code: "BATCH_STATE_MISMATCH",
    explain: async (a, c) =>
      `${await c.names.batch(a.batchId)} is ${STATES[Number(a.state)]}; this step needs it ${STATES[Number(a.required)]}`,
  },
  BatchHasOpenDeviations: {
    status: 422,
    code: "BATCH_HAS_OPEN_DEVIATIONS",
    explain: async (a, c) =>
      `${await c.names.batch(a.batchId)} has ${plural(a.openDeviations, "open deviation")}; ` +
      `every deviation, OOS and OOT must be closed before release`,
  },
  BatchExpired: {
    status: 422,
    code: "BATCH_EXPIRED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} expired at ${chinaTime(Number(a.expiresAt))}`,
  },
  BatchRecalled: {
    status: 422,
    code: "BATCH_RECALLED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} is ${await c.names.recall(a.batchId)}: it can no longer be released, shipped or dispensed`,
  },

  // ----- BatchLedger: custody -----
  InsufficientHolding: {
    status: 422,
    code: "INSUFFICIENT_HOLDING",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} holds ${a.held} of ${await c.names.batch(a.batchId)}, ` +
      `so it cannot ${VERBS[c.attestation.type] ?? "move"} ${a.requested}`,
  },
  ShipmentToSelf: { status: 400, code: "SHIPMENT_TO_SELF", field: "message.recipientId", explain: (a) => `organization ${a.organizationId} cannot ship to itself` },
  RecipientCannotHold: {
    status: 422,
    code: "RECIPIENT_CANNOT_HOLD",
    explain: async (a, c) => `${await c.names.organization(a.recipientId)} is a ${ROLES[Number(a.role)]}, and ${ROLES[Number(a.role)]}s do not hold stock`,
  },
  ShipmentNotInTransit: {
    status: 422,
    code: "SHIPMENT_NOT_IN_TRANSIT",
    explain: async (a, c) => `shipment ${a.shipmentId} is not in transit: ${await c.names.shipmentState(a.shipmentId)}`,
  },
  NotShipmentAddressee: {
    status: 403,
    code: "NOT_SHIPMENT_ADDRESSEE",
    explain: async (a, c) =>
      `shipment ${a.shipmentId} is addressed to ${await c.names.organization(a.addresseeId)}, not to ${await c.names.organization(a.organizationId)}`,
  },
  ShipmentDetailsMismatch: {
    status: 422,
    code: "SHIPMENT_DETAILS_MISMATCH",
    explain: async (a, c) => `the receipt's batch, shipper or shipped quantity differ from shipment ${a.shipmentId}: ${await c.names.shipment(a.shipmentId)}`,
  },
  ReceivedQuantityExceedsShipped: {
    status: 400,
    code: "RECEIVED_EXCEEDS_SHIPPED",
    field: "message.receivedQuantity",
    explain: (a) => `the receipt says ${a.received} received of ${a.shipped} shipped; a receipt records at most what was shipped`,
  },
  NoPacks: { status: 400, code: "NO_PACKS", field: "message.packs", explain: () => "a dispensing names at least one pack" },
  PacksNotInBatch: {
    status: 422,
    code: "PACKS_NOT_IN_BATCH",
    explain: async (a, c) => `the multiproof does not show that every pack belongs to the codes committed for ${await c.names.batch(a.batchId)}`,
  },
  PackAlreadyDispensed: {
    status: 422,
    code: "PACK_ALREADY_DISPENSED",
    explain: async (a, c) => `pack ${a.pack} ${await c.names.dispensing(a.pack)}; a pack is dispensed once`,
  },

  // ----- BatchLedger: recalls -----
  InvalidRecallLevel: { status: 400, code: "INVALID_RECALL_LEVEL", field: "message.level", explain: () => "a recall has level I, II or III" },
  NotRecallAuthority: {
    status: 403,
    code: "NOT_RECALL_AUTHORITY",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} may not recall ${await c.names.batch(a.batchId)}: only its MAH or a regulator can`,
  },
  RecallAlreadyStarted: {
    status: 422,
    code: "RECALL_ALREADY_STARTED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} is already ${await c.names.recall(a.batchId)}`,
  },
  RecallNotOpen: { status: 422, code: "RECALL_NOT_OPEN", explain: async (a, c) => `${await c.names.batch(a.batchId)} has no open recall` },
  NotBatchHolder: {
    status: 422,
    code: "NOT_BATCH_HOLDER",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} holds none of ${await c.names.batch(a.batchId)}, so it has nothing to acknowledge`,
  },
  RecallAlreadyAcknowledged: {
    status: 422,
    code: "RECALL_ALREADY_ACKNOWLEDGED",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} already acknowledged the recall of ${await c.names.batch(a.batchId)} for what it holds`,
  },
  QuarantineExceedsHolding: {
    status: 422,
    code: "QUARANTINE_EXCEEDS_HOLDING",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} holds ${a.held} of ${await c.names.batch(a.batchId)}, so it cannot have quarantined ${a.quarantined}`,
  },
  RecallNotReconciled: {
    status: 422,
    code: "RECALL_NOT_RECONCILED",
    explain: async (a, c) => {
      const waiting = await c.names.unacknowledgedHolders(a.batchId);
      const parts = [
        Number(a.unacknowledgedHolders) > 0
          ? `${plural(a.unacknowledgedHolders, "holder")} ${Number(a.unacknowledgedHolders) === 1 ? "has" : "have"} not acknowledged${waiting ? ` (${waiting})` : ""}`
          : "",
        Number(a.shipmentsInTransit) > 0 ? `${plural(a.shipmentsInTransit, "shipment")} ${Number(a.shipmentsInTransit) === 1 ? "is" : "are"} in transit` : "",
      ].filter(Boolean);
      return `the recall of ${await c.names.batch(a.batchId)} cannot close yet: ${parts.join(" and ")}`;
    },
  },
};

/** Every custom error of the three contracts, decodable from revert data. */
export const LEDGER_ERRORS: Interface = (() => {
  const seen = new Map<string, ErrorFragment>();
  for (const abi of [ConsortiumRegistry__factory.abi, ProductRegistry__factory.abi, BatchLedger__factory.abi]) {
    new Interface(abi).forEachError((fragment) => {
      if (!seen.has(fragment.selector)) seen.set(fragment.selector, fragment);
    });
  }
  return new Interface([...seen.values()]);
})();

const ERROR_STRING = "0x08c379a0";
const PANIC = "0x4e487b71";

/** Decodes revert data into a custom error, or undefined when it is none of the ledger's. */
export function decodeLedgerError(data: string): DecodedError | undefined {
  if (data.length < 10) return undefined;
  try {
    const parsed = LEDGER_ERRORS.parseError(data);
    if (!parsed) return undefined;
    return { name: parsed.name, args: Object.fromEntries(parsed.fragment.inputs.map((input, i) => [input.name, parsed.args[i]])) };
  } catch {
    return undefined;
  }
}

/** The answer to a dry run that reverted with `data` (undefined or "0x" when the node gave no reason). */
export async function refusalOf(data: string | undefined, context: RefusalContext): Promise<ApiError> {
  const decoded = data ? decodeLedgerError(data) : undefined;
  if (decoded && CONTRACT_REFUSALS[decoded.name]) return refusalFor(decoded, context);
  return new ApiError(422, "CONTRACT_REFUSED", `${prefixOf(context)}${unknownReason(data)}`, `attestations.${context.index}`);
}

/**
 * The answer to one of the contracts' errors, whether the dry run raised it or the relay's own checks found it
 * first: the same failure gets the same code either way.
 */
export async function refusalFor(error: DecodedError, context: RefusalContext): Promise<ApiError> {
  const rule = CONTRACT_REFUSALS[error.name];
  if (!rule) throw new Error(`no refusal for contract error ${error.name}`);
  const { status, code } = rule.refine?.(error.args, context) ?? rule;
  const where = `attestations.${context.index}`;
  const field = rule.field ? `${where}.${rule.field}` : where;
  return new ApiError(status, code, prefixOf(context) + (await rule.explain(error.args, context)), field);
}

const prefixOf = (context: RefusalContext) => `attestation ${context.index} (${context.attestation.type}) is refused: `;

function unknownReason(data: string | undefined): string {
  if (!data || data === "0x") return "the contract reverted without a reason (arguments it could not decode, or out of gas)";
  const selector = dataSlice(data, 0, 4);
  try {
    if (selector === ERROR_STRING) return String(AbiCoder.defaultAbiCoder().decode(["string"], dataSlice(data, 4))[0]);
    if (selector === PANIC) return `the contract panicked with code ${AbiCoder.defaultAbiCoder().decode(["uint256"], dataSlice(data, 4))[0]}`;
  } catch {
    // fall through: undecodable data is reported as it is
  }
  return `the contract reverted with unrecognized data ${data}`;
}

/** Names things in refusal messages from the read model; falls back to ids when the store does not know them. */
export type Namer = {
  organization(id: unknown): Promise<string>;
  keyOwner(address: unknown): Promise<string>;
  batch(id: unknown): Promise<string>;
  product(id: unknown): Promise<string>;
  recall(batchId: unknown): Promise<string>;
  shipment(id: unknown): Promise<string>;
  shipmentState(id: unknown): Promise<string>;
  dispensing(pack: unknown): Promise<string>;
  unacknowledgedHolders(batchId: unknown): Promise<string>;
};

const INT32_MAX = 2_147_483_647;

export function createNamer(store: Store): Namer {
  const { db } = store;
  const lower = (value: unknown) => String(value).toLowerCase();
  const organization = async (id: unknown) => {
    // The store keeps ids as 32-bit signed integers; a larger uint32 names no organization it holds.
    const row = Number(id) <= INT32_MAX ? await db.selectFrom("organizations").select("name").where("id", "=", Number(id)).executeTakeFirst() : undefined;
    return row ? `organization ${Number(id)} (${row.name})` : `organization ${Number(id)}`;
  };
  const batch = async (id: unknown) => {
    const row = await db.selectFrom("batches").select("batch_number").where("id", "=", lower(id)).executeTakeFirst();
    return row ? `batch ${row.batch_number}` : `batch ${lower(id)}`;
  };
  return {
    organization,
    batch,
    async keyOwner(address) {
      const row = await db.selectFrom("signing_keys").select("organization_id").where("address", "=", lower(address)).executeTakeFirst();
      return row ? organization(row.organization_id) : "no organization";
    },
    async product(id) {
      const row = await db.selectFrom("products").select(["product_code", "name"]).where("id", "=", lower(id)).executeTakeFirst();
      return row ? `product ${row.product_code} (${row.name})` : `product ${lower(id)}`;
    },
    async recall(batchId) {
      const row = await db.selectFrom("recalls").select(["level", "status"]).where("batch_id", "=", lower(batchId)).executeTakeFirst();
      if (!row) return "recalled";
      return row.status === "OPEN" ? `under a level ${row.level} recall` : `recalled (level ${row.level}, closed)`;
    },
    async shipment(id) {
      const row = await db.selectFrom("shipments").selectAll().where("id", "=", lower(id)).executeTakeFirst();
      if (!row) return "the read model does not know that shipment";
      return `${await organization(row.shipper_id)} shipped ${row.quantity} of ${await batch(row.batch_id)} to ${await organization(row.recipient_id)}`;
    },
    async shipmentState(id) {
      const row = await db.selectFrom("shipments").select(["status", "received_at"]).where("id", "=", lower(id)).executeTakeFirst();
      if (!row) return "it was never shipped";
      return row.received_at === null ? `it is ${row.status.toLowerCase()}` : `it was received at ${chinaTime(row.received_at)}`;
    },
    async dispensing(pack) {
      const row = await db.selectFrom("dispensed_packs").selectAll().where("pack", "=", lower(pack)).executeTakeFirst();
      if (!row) return "was already dispensed";
      return `was already dispensed by ${await organization(row.dispenser_id)} at ${chinaTime(row.dispensed_at)}`;
    },
    async unacknowledgedHolders(batchId) {
      const rows = await db
        .selectFrom("holdings")
        .innerJoin("organizations", "organizations.id", "holdings.organization_id")
        .select(["organizations.id", "organizations.name"])
        .where("holdings.batch_id", "=", lower(batchId))
        .where("holdings.quantity", ">", 0)
        .where("holdings.recall_acknowledged", "=", 0)
        .orderBy("organizations.id")
        .execute();
      return rows.map((row) => `organization ${row.id} (${row.name})`).join(", ");
    },
  };
}
