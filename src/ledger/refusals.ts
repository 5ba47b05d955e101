import { AbiCoder, dataSlice } from "ethers";
import { chinaTime } from "./china-time";
import { describeExpiry } from "./expiry";
import { decodeLedgerError } from "./contracts";
import type { DecodedError } from "./contracts";
import { LedgerError } from "./errors";
import type { ErrorKind } from "./errors";
import {
  ROLES,
  BATCH_STATES,
  CASE_STATUSES,
  PACK_STATES,
  DEVIATION_SEVERITIES,
  DEVIATION_CATEGORIES,
  ROOT_CAUSES,
  BATCH_IMPACTS,
  NOTICE_CHANNELS,
  PERSON_ROLES,
  RISK_CLASSES,
  AGREEMENT_APPROVALS,
  INSPECTION_GRADES,
  INSPECTION_SCOPES,
} from "./vocabulary";
import type { SignedAttestation } from "./wire";

/**
 * What the relay answers when a contract would refuse an attestation: every custom error of the ledger's contracts
 * (and of the OpenZeppelin code they inherit) has a stable code, a kind and a message in words, filled in from
 * the read model where it knows more than the error's arguments (a batch's number, an organization's name).
 *
 * Kinds: bad_input, the attestation itself is malformed whatever the ledger holds; not_allowed, a signer may not
 * make this attestation (unknown, revoked or foreign key, suspended organization, wrong role, not a party);
 * conflict, a replayed nonce; refused, the ledger's state refuses it now (the state machine).
 */

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
  kind: ErrorKind;
  code: string;
  /** The field at fault within the attestation (message.quantity, signature), for 400s. */
  field?: string;
  explain(args: Args, context: RefusalContext): string | Promise<string>;
  /** When one error means different things by whom it names (the signer, or another party). */
  refine?(args: Args, context: RefusalContext): { kind: ErrorKind; code: string } | undefined;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Args = Record<string, any>;

const ROLE_WORDS = ROLES.words;
const STATES = BATCH_STATES.words;
const VERBS: Record<string, string> = { Shipment: "ship", Destruction: "destroy", Dispensing: "dispense", PackStateChange: "take out of its stock" };
const PACK_WORDS = PACK_STATES.words;

const plural = (count: number | bigint, word: string) => `${count} ${word}${Number(count) === 1 ? "" : "s"}`;
const isSigner = (address: string, context: RefusalContext) => context.signers.includes(String(address).toLowerCase());

export const CONTRACT_REFUSALS: Record<string, Rule> = {
  // ----- every contract: signatures, nonces, roles (Attestations.sol, OpenZeppelin) -----
  AttestationNonceUsed: {
    kind: "conflict",
    code: "REPLAYED_ATTESTATION",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} already used nonce ${a.nonce} on ${c.attestation.contract}: ` +
      `this attestation is a replay or a duplicate; sign a new one with a fresh nonce`,
  },
  ECDSAInvalidSignature: {
    kind: "bad_input",
    code: "INVALID_SIGNATURE",
    field: "signature",
    explain: () => "the signature is not a valid ECDSA signature",
  },
  ECDSAInvalidSignatureLength: {
    kind: "bad_input",
    code: "INVALID_SIGNATURE",
    field: "signature",
    explain: (a) => `the signature has ${a.length} bytes; it must have 65`,
  },
  ECDSAInvalidSignatureS: {
    kind: "bad_input",
    code: "INVALID_SIGNATURE",
    field: "signature",
    explain: () => "the signature's s value is in the upper half of the curve order (a malleable signature); normalize it",
  },
  OrganizationRoleMismatch: {
    kind: "not_allowed",
    code: "ORGANIZATION_ROLE_MISMATCH",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} is a ${ROLE_WORDS[Number(a.role)]}; ` +
      `a ${c.attestation.type} attestation must come from a ${ROLE_WORDS[Number(a.required)]}`,
  },
  MerkleProofInvalidMultiproof: {
    kind: "bad_input",
    code: "INVALID_MULTIPROOF",
    field: "proof",
    explain: () => "the multiproof is malformed: its proof and flags do not fit the number of packs",
  },
  FailedCall: {
    kind: "refused",
    code: "CONTRACT_CALL_FAILED",
    explain: () => "the contract refused one of the calls without giving a reason",
  },
  AddressEmptyCode: {
    kind: "internal",
    code: "RELAY_MISCONFIGURED",
    explain: (a) => `the relay's deployment names ${a.target}, which holds no contract`,
  },
  InvalidShortString: { kind: "internal", code: "RELAY_MISCONFIGURED", explain: () => "the contract's EIP-712 name is malformed" },
  StringTooLong: { kind: "internal", code: "RELAY_MISCONFIGURED", explain: () => "the contract's EIP-712 name is too long" },

  // ----- ConsortiumRegistry -----
  UnknownSigningKey: {
    kind: "not_allowed",
    code: "UNKNOWN_SIGNING_KEY",
    explain: (a) =>
      `the signature recovers to ${a.signer}, which is not a registered signing key: the signature is forged, ` +
      `the message was changed after signing, or it was signed for another contract or chain`,
  },
  RevokedSigningKey: {
    kind: "not_allowed",
    code: "REVOKED_SIGNING_KEY",
    refine: (a, c) => (isSigner(a.signer, c) ? undefined : { kind: "refused", code: "SIGNING_KEY_ALREADY_REVOKED" }),
    explain: (a, c) =>
      isSigner(a.signer, c)
        ? `signing key ${a.signer} was revoked by its organization; sign with a current key`
        : `signing key ${a.signer} is already revoked`,
  },
  SignerNotOfOrganization: {
    kind: "not_allowed",
    code: "SIGNER_NOT_OF_ORGANIZATION",
    refine: (a, c) => (isSigner(a.signer, c) ? undefined : { kind: "refused", code: "KEY_NOT_OF_ORGANIZATION" }),
    explain: async (a, c) =>
      isSigner(a.signer, c)
        ? `the attestation names ${await c.names.organization(a.organizationId)}, but key ${a.signer} that signed it ` +
          `belongs to ${await c.names.keyOwner(a.signer)}`
        : `key ${a.signer} is not a key of ${await c.names.organization(a.organizationId)}`,
  },
  UnknownOrganization: {
    kind: "refused",
    code: "UNKNOWN_ORGANIZATION",
    explain: (a) => `no organization ${a.organizationId} is in the consortium`,
  },
  SuspendedOrganization: {
    kind: "not_allowed",
    code: "ORGANIZATION_SUSPENDED",
    // Contracts check the signer's organization before any organization the attestation names.
    refine: (a, c) => (c.signerOrganizations.includes(Number(a.organizationId)) ? undefined : { kind: "refused", code: "PARTY_SUSPENDED" }),
    explain: async (a, c) =>
      c.signerOrganizations.includes(Number(a.organizationId))
        ? `${await c.names.organization(a.organizationId)} is suspended: its attestations are refused until a regulator reinstates it`
        : `${await c.names.organization(a.organizationId)}, which the attestation names, is suspended`,
  },
  OrganizationNotSuspended: {
    kind: "refused",
    code: "ORGANIZATION_NOT_SUSPENDED",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not suspended, so it cannot be reinstated`,
  },
  SigningKeyAlreadyRegistered: {
    kind: "refused",
    code: "SIGNING_KEY_ALREADY_REGISTERED",
    explain: async (a, c) =>
      `key ${a.signingKey} is already registered to ${await c.names.keyOwner(a.signingKey)}; a key serves one organization, once`,
  },
  InvalidSigningKey: {
    kind: "bad_input",
    code: "INVALID_SIGNING_KEY",
    field: "message.signingKey",
    explain: () => "the signing key must not be the zero address",
  },
  InvalidRole: {
    kind: "bad_input",
    code: "INVALID_ROLE",
    field: "message.role",
    explain: () => "an organization must be onboarded with a role (not None)",
  },
  LastSigningKey: {
    kind: "refused",
    code: "LAST_SIGNING_KEY",
    explain: async (a, c) =>
      `key ${a.signingKey} is the last active key of ${await c.names.organization(a.organizationId)}; add another before revoking it`,
  },

  // ----- ProductRegistry -----
  InvalidProductCode: {
    kind: "bad_input",
    code: "INVALID_PRODUCT_CODE",
    field: "message.productCode",
    explain: (a) => `product code ${JSON.stringify(a.productCode)} is neither a 7-digit NMPA drug code nor a GTIN-14 with a valid check digit`,
  },
  ProductAlreadyRegistered: {
    kind: "refused",
    code: "PRODUCT_ALREADY_REGISTERED",
    explain: async (a, c) => `${await c.names.product(a.productId)} is already registered`,
  },
  UnknownProduct: { kind: "refused", code: "UNKNOWN_PRODUCT", explain: (a) => `no product ${a.productId} is registered` },
  NotProductMah: {
    kind: "not_allowed",
    code: "NOT_PRODUCT_MAH",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not the MAH of ${await c.names.product(a.productId)}`,
  },
  InvalidAgreementKind: {
    kind: "bad_input",
    code: "INVALID_AGREEMENT_KIND",
    field: "message.kind",
    explain: () => "an agreement must have a kind (Quality, Storage, Transport or Sales)",
  },
  InvalidReleaseTester: {
    kind: "bad_input",
    code: "INVALID_RELEASE_TESTER",
    field: "message.releaseTester",
    explain: () => "a quality agreement must say who performs release testing (Cmo, Mah or ContractLaboratory)",
  },
  InvalidValidityWindow: {
    kind: "bad_input",
    code: "INVALID_VALIDITY_WINDOW",
    field: "message.validUntil",
    explain: (a) =>
      `the agreement's validity ends (${chinaTime(Number(a.validUntil))}) before it starts (${chinaTime(Number(a.validFrom))}) or has already ended`,
  },
  UnknownAgreement: { kind: "refused", code: "UNKNOWN_AGREEMENT", explain: (a) => `no agreement ${a.agreementId} is on the ledger` },
  AgreementAlreadyRevoked: { kind: "refused", code: "AGREEMENT_ALREADY_REVOKED", explain: (a) => `agreement ${a.agreementId} is already revoked` },
  NotAgreementParty: {
    kind: "not_allowed",
    code: "NOT_AGREEMENT_PARTY",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not a party to agreement ${a.agreementId}`,
  },

  // ----- BatchLedger: recording -----
  NotQualityAgreement: {
    kind: "refused",
    code: "NOT_QUALITY_AGREEMENT",
    explain: (a) => `agreement ${a.agreementId} is not a quality agreement; a batch is recorded under the product's quality agreement`,
  },
  NotAgreementCounterparty: {
    kind: "not_allowed",
    code: "NOT_AGREEMENT_COUNTERPARTY",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not the CMO of quality agreement ${a.agreementId}`,
  },
  RevokedAgreement: {
    kind: "refused",
    code: "AGREEMENT_REVOKED",
    explain: (a) => `quality agreement ${a.agreementId} was revoked; no batch can be recorded under it`,
  },
  AgreementNotInForce: {
    kind: "refused",
    code: "AGREEMENT_NOT_IN_FORCE",
    explain: (a) =>
      `quality agreement ${a.agreementId} is in force from ${chinaTime(Number(a.validFrom))} until ${chinaTime(Number(a.validUntil))}, not now`,
  },
  InvalidBatchNumber: {
    kind: "bad_input",
    code: "INVALID_BATCH_NUMBER",
    field: "message.batchNumber",
    explain: (a) => `batch number ${JSON.stringify(a.batchNumber)} must have 1 to 20 characters (the GS1 batch/lot field)`,
  },
  InvalidBatchDates: {
    kind: "bad_input",
    code: "INVALID_BATCH_DATES",
    field: "message.expiresAt",
    explain: (a) =>
      `a batch manufactured at ${chinaTime(Number(a.manufacturedAt))} and expiring ${describeExpiry(Number(a.expiresAt))} ` +
      `cannot be recorded: it is manufactured in the future, already expired, or expires before it is made`,
  },
  EmptyCodesRoot: {
    kind: "bad_input",
    code: "EMPTY_CODES_ROOT",
    field: "message.codesRoot",
    explain: () => "a batch must commit the Merkle root of its codes",
  },
  ZeroQuantity: { kind: "bad_input", code: "ZERO_QUANTITY", field: "message.quantity", explain: () => "the quantity must be at least 1" },
  BatchAlreadyRecorded: {
    kind: "refused",
    code: "BATCH_ALREADY_RECORDED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} is already recorded`,
  },
  UnknownBatch: { kind: "refused", code: "UNKNOWN_BATCH", explain: (a) => `no batch ${a.batchId} is on the ledger` },
  NotBatchParty: {
    kind: "not_allowed",
    code: "NOT_BATCH_PARTY",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is neither the MAH nor the CMO of ${await c.names.batch(a.batchId)}`,
  },
  NotBatchCmo: {
    kind: "not_allowed",
    code: "NOT_BATCH_CMO",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not the CMO of ${await c.names.batch(a.batchId)}`,
  },
  NotBatchMah: {
    kind: "not_allowed",
    code: "NOT_BATCH_MAH",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not the MAH of ${await c.names.batch(a.batchId)}`,
  },

  // ----- BatchLedger: deviations and release -----
  InvalidDeviationKind: {
    kind: "bad_input",
    code: "INVALID_DEVIATION_KIND",
    field: "message.kind",
    explain: () => "a deviation must have a kind (Deviation, OutOfSpecification or OutOfTrend)",
  },
  DeviationAlreadyReported: {
    kind: "refused",
    code: "DEVIATION_ALREADY_REPORTED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} already has a deviation with report ${a.reportHash}`,
  },
  DeviationNotClassified: {
    kind: "bad_input",
    code: "DEVIATION_NOT_CLASSIFIED",
    field: "message.severity",
    explain: (a) =>
      `a deviation is reported with a severity (minor, major or critical) and a category; this one has ` +
      `${DEVIATION_SEVERITIES.words[Number(a.severity)] ?? `severity ${a.severity}`} and ${DEVIATION_CATEGORIES.words[Number(a.category)] ?? `category ${a.category}`}`,
  },
  DeviationConclusionMissing: {
    kind: "bad_input",
    code: "DEVIATION_CONCLUSION_MISSING",
    field: "message.rootCause",
    explain: (a) =>
      `a deviation is closed with its root cause and its impact on the batch; this closure states ` +
      `${ROOT_CAUSES.words[Number(a.rootCause)] ?? a.rootCause} as root cause and ${BATCH_IMPACTS.words[Number(a.batchImpact)] ?? a.batchImpact} as impact`,
  },
  DeviationClosureNeedsMah: {
    kind: "not_allowed",
    code: "DEVIATION_CLOSURE_NEEDS_MAH",
    explain: async (a, c) =>
      `deviation ${a.reportHash} of ${await c.names.batch(a.batchId)} is ${DEVIATION_SEVERITIES.words[Number(a.severity)]}: ` +
      `only the batch's MAH closes a major or critical deviation, not ${await c.names.organization(a.organizationId)}`,
  },
  DeviationNotOpen: {
    kind: "refused",
    code: "DEVIATION_NOT_OPEN",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} has no open deviation with report ${a.reportHash}`,
  },
  BatchStateMismatch: {
    kind: "refused",
    code: "BATCH_STATE_MISMATCH",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} is ${STATES[Number(a.state)]}; this step needs it ${STATES[Number(a.required)]}`,
  },
  BatchHasOpenDeviations: {
    kind: "refused",
    code: "BATCH_HAS_OPEN_DEVIATIONS",
    explain: async (a, c) =>
      `${await c.names.batch(a.batchId)} has ${plural(a.openDeviations, "open deviation")}; ` +
      `every deviation, OOS and OOT must be closed before release`,
  },
  BatchExpired: {
    kind: "refused",
    code: "BATCH_EXPIRED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} is past its expiry (${describeExpiry(Number(a.expiresAt))}, China time)`,
  },
  BatchRecalled: {
    kind: "refused",
    code: "BATCH_RECALLED",
    explain: async (a, c) =>
      `${await c.names.batch(a.batchId)} is ${await c.names.recall(a.batchId)}: it can no longer be released, shipped or dispensed`,
  },
  BatchRejected: {
    kind: "refused",
    code: "BATCH_REJECTED",
    explain: async (a, c) =>
      `${await c.names.batch(a.batchId)} was refused market release by its MAH (rejected, to be destroyed): ` +
      `it can never be released, shipped or dispensed`,
  },

  // ----- CorrectiveActions: CAPA -----
  NotCapaParty: {
    kind: "not_allowed",
    code: "NOT_CAPA_PARTY",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} is neither the MAH nor the CMO of ${await c.names.batch(a.batchId)}: ` +
      `only they record a CAPA for its deviations, and only they own one`,
  },
  UnknownDeviation: {
    kind: "refused",
    code: "UNKNOWN_DEVIATION",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} has no deviation with report ${a.reportHash}: a CAPA answers a reported deviation`,
  },
  CapaAlreadyRecorded: {
    kind: "refused",
    code: "CAPA_ALREADY_RECORDED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} already has a CAPA with document ${a.capaHash}`,
  },
  CapaDueDatePassed: {
    kind: "bad_input",
    code: "CAPA_DUE_DATE_PASSED",
    field: "message.dueAt",
    explain: (a) => `a CAPA is due after it is recorded; ${chinaTime(Number(a.dueAt))} has passed`,
  },
  UnknownCapa: {
    kind: "refused",
    code: "UNKNOWN_CAPA",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} has no CAPA with document ${a.capaHash}`,
  },
  CapaAlreadyChecked: {
    kind: "refused",
    code: "CAPA_ALREADY_CHECKED",
    explain: async (a, c) =>
      `the CAPA ${a.capaHash} of ${await c.names.batch(a.batchId)} was already found ${Number(a.status) === 2 ? "effective" : "ineffective"}` +
      `${Number(a.status) === 3 ? ": record a new CAPA for the deviation" : ""}`,
  },
  NotCapaChecker: {
    kind: "not_allowed",
    code: "NOT_CAPA_CHECKER",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} is not the MAH of ${await c.names.batch(a.batchId)}: only the MAH checks a CAPA's effectiveness`,
  },

  // ----- BatchLedger: holds -----
  BatchOnHold: {
    kind: "refused",
    code: "BATCH_ON_HOLD",
    explain: async (a, c) =>
      `${await c.names.batch(a.batchId)} is on hold awaiting its MAH's decision: it cannot be released to the market, shipped or dispensed ` +
      `until the MAH releases the hold or the batch is recalled`,
  },
  NotHoldAuthority: {
    kind: "not_allowed",
    code: "NOT_HOLD_AUTHORITY",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} may not hold ${await c.names.batch(a.batchId)}: only its MAH or a regulator can`,
  },
  BatchAlreadyOnHold: {
    kind: "refused",
    code: "BATCH_ALREADY_ON_HOLD",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} is already on hold`,
  },
  BatchNotOnHold: {
    kind: "refused",
    code: "BATCH_NOT_ON_HOLD",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} is not on hold (a recall ends a hold)`,
  },

  // ----- BatchLedger: custody -----
  InsufficientHolding: {
    kind: "refused",
    code: "INSUFFICIENT_HOLDING",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} holds ${a.held} of ${await c.names.batch(a.batchId)}, ` +
      `so it cannot ${VERBS[c.attestation.type] ?? "move"} ${a.requested}`,
  },
  ShipmentToSelf: {
    kind: "bad_input",
    code: "SHIPMENT_TO_SELF",
    field: "message.recipientId",
    explain: (a) => `organization ${a.organizationId} cannot ship to itself`,
  },
  RecipientCannotHold: {
    kind: "refused",
    code: "RECIPIENT_CANNOT_HOLD",
    explain: async (a, c) =>
      `${await c.names.organization(a.recipientId)} is a ${ROLE_WORDS[Number(a.role)]}, and ${ROLE_WORDS[Number(a.role)]}s do not hold stock`,
  },
  ShipmentNotInTransit: {
    kind: "refused",
    code: "SHIPMENT_NOT_IN_TRANSIT",
    explain: async (a, c) => `shipment ${a.shipmentId} is not in transit: ${await c.names.shipmentState(a.shipmentId)}`,
  },
  NotShipmentAddressee: {
    kind: "not_allowed",
    code: "NOT_SHIPMENT_ADDRESSEE",
    explain: async (a, c) =>
      `shipment ${a.shipmentId} is addressed to ${await c.names.organization(a.addresseeId)}, not to ${await c.names.organization(a.organizationId)}`,
  },
  ShipmentDetailsMismatch: {
    kind: "refused",
    code: "SHIPMENT_DETAILS_MISMATCH",
    explain: async (a, c) =>
      `the receipt's batch, shipper or shipped quantity differ from shipment ${a.shipmentId}: ${await c.names.shipment(a.shipmentId)}`,
  },
  ReceivedQuantityExceedsShipped: {
    kind: "bad_input",
    code: "RECEIVED_EXCEEDS_SHIPPED",
    field: "message.receivedQuantity",
    explain: (a) => `the receipt says ${a.received} received of ${a.shipped} shipped; a receipt records at most what was shipped`,
  },
  NoPacks: {
    kind: "bad_input",
    code: "NO_PACKS",
    field: "message.packs",
    explain: () => "a dispensing or pack state change names at least one pack",
  },
  PacksNotInBatch: {
    kind: "refused",
    code: "PACKS_NOT_IN_BATCH",
    explain: async (a, c) => `the multiproof does not show that every pack belongs to the codes committed for ${await c.names.batch(a.batchId)}`,
  },
  PackAlreadyDispensed: {
    kind: "refused",
    code: "PACK_ALREADY_DISPENSED",
    explain: async (a, c) => `pack ${a.pack} was already dispensed${await c.names.packState(a.pack)}; a pack is dispensed once`,
  },
  PackNotActive: {
    kind: "refused",
    code: "PACK_NOT_ACTIVE",
    explain: async (a, c) =>
      `pack ${a.pack} is already ${PACK_WORDS[Number(a.state)]}${await c.names.packState(a.pack)}: a pack has one state at a time`,
  },
  NotPackStateSetter: {
    kind: "not_allowed",
    code: "NOT_PACK_STATE_SETTER",
    explain: async (a, c) =>
      `pack ${a.pack}'s state was set by ${await c.names.organization(a.setterId)}; only it may undo it, not ${await c.names.organization(a.organizationId)}`,
  },
  PackStateIrreversible: {
    kind: "refused",
    code: "PACK_STATE_IRREVERSIBLE",
    explain: async (a, c) =>
      Number(a.state) === 0
        ? `pack ${a.pack} is active, in the supply chain: there is nothing to undo`
        : `pack ${a.pack} was ${PACK_WORDS[Number(a.state)]}${await c.names.packState(a.pack)}: that is final and cannot be undone`,
  },
  PackLockHeldByReport: {
    kind: "refused",
    code: "PACK_LOCK_HELD_BY_REPORT",
    explain: (a) => `pack ${a.pack} is locked under a suspect-product report: it stays locked until a regulator terminates the report as cleared`,
  },
  UndoWindowClosed: {
    kind: "refused",
    code: "UNDO_WINDOW_CLOSED",
    explain: (a) =>
      `pack ${a.pack}'s state was set at ${chinaTime(Number(a.changedAt))} and could be undone only until ` +
      `${chinaTime(Number(a.changedAt) + Number(a.undoWindow))} (${plural(Number(a.undoWindow) / 86_400, "day")} on this ledger)`,
  },
  NotPackCustodian: {
    kind: "not_allowed",
    code: "NOT_PACK_CUSTODIAN",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} may not lock packs of ${await c.names.batch(a.batchId)}: only a holder of the batch, its MAH or a regulator can`,
  },

  // ----- BatchLedger: recalls -----
  InvalidRecallLevel: { kind: "bad_input", code: "INVALID_RECALL_LEVEL", field: "message.level", explain: () => "a recall has level I, II or III" },
  NotRecallAuthority: {
    kind: "not_allowed",
    code: "NOT_RECALL_AUTHORITY",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} may not recall ${await c.names.batch(a.batchId)}: only its MAH or a regulator can`,
  },
  RecallAlreadyStarted: {
    kind: "refused",
    code: "RECALL_ALREADY_STARTED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} is already ${await c.names.recall(a.batchId)}`,
  },
  RecallNotOpen: { kind: "refused", code: "RECALL_NOT_OPEN", explain: async (a, c) => `${await c.names.batch(a.batchId)} has no open recall` },
  NotBatchHolder: {
    kind: "refused",
    code: "NOT_BATCH_HOLDER",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} holds none of ${await c.names.batch(a.batchId)}, so it has nothing to acknowledge`,
  },
  RecallAlreadyAcknowledged: {
    kind: "refused",
    code: "RECALL_ALREADY_ACKNOWLEDGED",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} already acknowledged the recall of ${await c.names.batch(a.batchId)} for what it holds`,
  },
  AcknowledgementDoesNotAddUp: {
    kind: "refused",
    code: "ACKNOWLEDGEMENT_DOES_NOT_ADD_UP",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} holds ${a.held} of ${await c.names.batch(a.batchId)}, but its acknowledgement accounts for ${a.accounted}: ` +
      `quarantined, already dispensed, destroyed and missing must add up to the whole holding`,
  },
  RecallNotReconciled: {
    kind: "refused",
    code: "RECALL_NOT_RECONCILED",
    explain: async (a, c) => {
      const waiting = await c.names.unacknowledgedHolders(a.batchId);
      const parts = [
        Number(a.unacknowledgedHolders) > 0
          ? `${plural(a.unacknowledgedHolders, "holder")} ${Number(a.unacknowledgedHolders) === 1 ? "has" : "have"} not acknowledged${waiting ? ` (${waiting})` : ""}`
          : "",
        Number(a.shipmentsInTransit) > 0
          ? `${plural(a.shipmentsInTransit, "shipment")} ${Number(a.shipmentsInTransit) === 1 ? "is" : "are"} in transit`
          : "",
      ].filter(Boolean);
      return `the recall of ${await c.names.batch(a.batchId)} cannot close yet, not every unit is accounted for: ${parts.join(" and ")}`;
    },
  },

  // ----- AggregationLedger: cases and pallets -----
  AggregationAlreadyCommitted: {
    kind: "refused",
    code: "AGGREGATION_ALREADY_COMMITTED",
    explain: async (a, c) =>
      `the cases and pallets of ${await c.names.batch(a.batchId)} are already committed; take units out of a case by unpacking them`,
  },
  EmptyAggregation: {
    kind: "bad_input",
    code: "EMPTY_AGGREGATION",
    field: "message.aggregationRoot",
    explain: async (a, c) => `an aggregation of ${await c.names.batch(a.batchId)} names a root, at least one case or pallet and at least one pack`,
  },
  AggregationExceedsHolding: {
    kind: "refused",
    code: "AGGREGATION_EXCEEDS_HOLDING",
    explain: async (a, c) => `the aggregation packs ${plural(a.packs, "pack")} of ${await c.names.batch(a.batchId)}, but its CMO holds ${a.held}`,
  },
  AggregationNotCommitted: {
    kind: "refused",
    code: "AGGREGATION_NOT_COMMITTED",
    explain: async (a, c) => `no cases or pallets of ${await c.names.batch(a.batchId)} were committed: there is nothing to unpack`,
  },
  NotUnitHolder: {
    kind: "not_allowed",
    code: "NOT_UNIT_HOLDER",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} holds none of ${await c.names.batch(a.batchId)}, so it cannot unpack its cases`,
  },
  NoUnits: { kind: "bad_input", code: "NO_UNITS", field: "message.units", explain: () => "an unpacking names at least one pack or case" },
  UnitsNotInContainer: {
    kind: "refused",
    code: "UNITS_NOT_IN_CONTAINER",
    explain: async (a, c) =>
      `the multiproof does not show every unit directly inside container ${a.containerId} in the aggregation committed for ${await c.names.batch(a.batchId)}`,
  },
  UnitAlreadyUnpacked: {
    kind: "refused",
    code: "UNIT_ALREADY_UNPACKED",
    explain: (a) => `unit ${a.unit} was already taken out of container ${a.containerId}`,
  },
  // ----- AlertCases: alert cases and suspect-product reports -----
  EmptyAlertKey: {
    kind: "bad_input",
    code: "EMPTY_ALERT_KEY",
    field: "message.alertKey",
    explain: () => "the alert key is empty: it is keccak256 of the alert's key, as GET /v1/alerts/{id} shows it",
  },
  NotAlertParty: {
    kind: "not_allowed",
    code: "NOT_ALERT_PARTY",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} may not take this alert: only a regulator or the organization it concerns can`,
  },
  AlertAlreadyOwned: {
    kind: "refused",
    code: "ALERT_ALREADY_OWNED",
    explain: async (a, c) => `the alert is already taken by ${await c.names.organization(a.ownerId)}; only a regulator can take it over`,
  },
  NotAlertOwner: {
    kind: "not_allowed",
    code: "NOT_ALERT_OWNER",
    explain: async (a, c) =>
      Number(a.ownerId) === 0
        ? "nobody has taken the alert yet: take it before changing its status"
        : `only the alert's owner, ${await c.names.organization(a.ownerId)}, changes its status, not ${await c.names.organization(a.organizationId)}`,
  },
  AlertCaseClosed: {
    kind: "refused",
    code: "ALERT_CASE_CLOSED",
    explain: () => "the alert's case is closed: a closed case is final",
  },
  InvalidAlertTransition: {
    kind: "refused",
    code: "INVALID_ALERT_TRANSITION",
    field: "message.status",
    explain: (a) =>
      `the alert's case cannot go from ${CASE_STATUSES.words[Number(a.from)] ?? a.from} to ${CASE_STATUSES.words[Number(a.to)] ?? a.to}`,
  },
  EscalatedCaseNeedsRegulator: {
    kind: "not_allowed",
    code: "ESCALATED_CASE_NEEDS_REGULATOR",
    explain: () => "the alert's case was escalated: a regulator takes it over and closes it",
  },
  MissingCaseReason: {
    kind: "bad_input",
    code: "MISSING_REASON",
    field: "message.reasonHash",
    explain: () => "a reason is required: give the hash of the reason's text (the CLI and pages hash the text you write)",
  },
  SuspectBatchUnknown: {
    kind: "refused",
    code: "UNKNOWN_BATCH",
    explain: (a) => `no batch ${a.batchId} is recorded on the ledger`,
  },
  NotSuspectReporter: {
    kind: "not_allowed",
    code: "NOT_SUSPECT_REPORTER",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} may not report ${await c.names.batch(a.batchId)} as suspect: only a holder of it, its MAH or a regulator can`,
  },
  SuspectPackNotLocked: {
    kind: "refused",
    code: "SUSPECT_PACK_NOT_LOCKED",
    explain: (a) => `pack ${a.pack} is not locked: lock the reported packs first (trace packs set --state locked), then file the report`,
  },
  SuspectPacksNotInBatch: {
    kind: "refused",
    code: "PACKS_NOT_IN_BATCH",
    explain: async (a, c) => `the multiproof does not show every reported pack among the registered codes of ${await c.names.batch(a.batchId)}`,
  },
  SuspectPackAlreadyReported: {
    kind: "refused",
    code: "SUSPECT_PACK_ALREADY_REPORTED",
    explain: (a) => `pack ${a.pack} is already under suspect-product report ${a.reportId}, which a regulator has not terminated`,
  },
  SuspectReportNotOpen: {
    kind: "refused",
    code: "SUSPECT_REPORT_NOT_OPEN",
    explain: (a) => `suspect-product report ${a.reportId} is not open: it was never filed or is already terminated`,
  },
  InvalidSuspectOutcome: {
    kind: "bad_input",
    code: "INVALID_SUSPECT_OUTCOME",
    field: "message.outcome",
    explain: () => "a termination clears the product (1) or confirms it illegitimate (2)",
  },
  // ----- QualityDuties: responsible persons, risk class, laboratories, quality reviews -----
  NotBatchLedger: {
    kind: "internal",
    code: "RELAY_MISCONFIGURED",
    explain: (a) => `${a.caller} is not the batch ledger QualityDuties is bound to: only BatchLedger records a batch's duties`,
  },
  NotDeployer: { kind: "internal", code: "RELAY_MISCONFIGURED", explain: (a) => `${a.caller} did not deploy this contract and cannot bind it` },
  AlertCasesAlreadyBound: {
    kind: "internal",
    code: "RELAY_MISCONFIGURED",
    explain: (a) => `BatchLedger is already bound to the alert cases contract ${a.alertCases}`,
  },
  BatchLedgerAlreadyBound: {
    kind: "internal",
    code: "RELAY_MISCONFIGURED",
    explain: (a) => `QualityDuties is already bound to the batch ledger ${a.batchLedger}`,
  },
  InvalidPersonRole: {
    kind: "bad_input",
    code: "INVALID_PERSON_ROLE",
    field: "message.role",
    explain: () => "a responsible person must have a role (QualifiedPerson, QualityHead, ProductionHead or PharmacovigilanceHead)",
  },
  EmptyPersonName: { kind: "bad_input", code: "EMPTY_PERSON_NAME", field: "message.name", explain: () => "a responsible person must be named" },
  PersonKeyNotOfOrganization: {
    kind: "refused",
    code: "PERSON_KEY_NOT_OF_ORGANIZATION",
    field: "message.personKey",
    explain: async (a, c) =>
      `${a.personKey} is not a current signing key of ${await c.names.organization(a.organizationId)}: ` +
      "add the person's key to the organization first (trace organizations add-key), then name the person",
  },
  ResponsiblePersonAlreadyAppointed: {
    kind: "refused",
    code: "PERSON_ALREADY_APPOINTED",
    explain: async (a, c) => `${a.personKey} is already a responsible person of ${await c.names.product(a.productId)}`,
  },
  UnknownResponsiblePerson: {
    kind: "refused",
    code: "UNKNOWN_RESPONSIBLE_PERSON",
    explain: async (a, c) => `${a.personKey} was never named a responsible person of ${await c.names.product(a.productId)}`,
  },
  ResponsiblePersonAlreadyRevoked: {
    kind: "refused",
    code: "PERSON_ALREADY_REVOKED",
    explain: async (a, c) => `the appointment of ${a.personKey} for ${await c.names.product(a.productId)} is already revoked`,
  },
  ReleaseNotByResponsiblePerson: {
    kind: "not_allowed",
    code: "RELEASE_NOT_BY_QUALIFIED_PERSON",
    explain: async (a, c) =>
      `the product of ${await c.names.batch(a.batchId)} has a named quality authorized person; its market release must be signed ` +
      `with that person's key, not ${a.signer} (${await c.names.keyOwner(a.signer)})`,
  },
  ResponsiblePersonRoleMismatch: {
    kind: "not_allowed",
    code: "RESPONSIBLE_PERSON_ROLE_MISMATCH",
    explain: async (a, c) =>
      `${a.signer} is the ${PERSON_ROLES.words[Number(a.role)]} of the product of ${await c.names.batch(a.batchId)}; ` +
      `its market release must be signed by the ${PERSON_ROLES.words[Number(a.required)]}`,
  },
  ResponsiblePersonRevokedForRelease: {
    kind: "not_allowed",
    code: "RESPONSIBLE_PERSON_REVOKED",
    explain: async (a, c) =>
      `the appointment of ${a.signer} as quality authorized person of the product of ${await c.names.batch(a.batchId)} was revoked; ` +
      "a current quality authorized person must sign the release",
  },
  ReleaseSignerRoleMismatch: {
    kind: "bad_input",
    code: "RELEASE_SIGNER_ROLE_MISMATCH",
    field: "message.signerRole",
    explain: async (a, c) =>
      `the market release of ${await c.names.batch(a.batchId)} states its signer ${a.signer} as ${PERSON_ROLES.words[Number(a.signerRole)]}, ` +
      `but that person is appointed ${PERSON_ROLES.words[Number(a.appointed)]}`,
  },
  ReleaseSignerNameMismatch: {
    kind: "bad_input",
    code: "RELEASE_SIGNER_NAME_MISMATCH",
    field: "message.signerName",
    explain: async (a, c) =>
      `the market release of ${await c.names.batch(a.batchId)} names its signer "${String(a.signerName)}", ` +
      `not the name under which ${a.signer} was appointed quality authorized person`,
  },
  ReleaseSignerNotOrganization: {
    kind: "bad_input",
    code: "RELEASE_SIGNER_NOT_ORGANIZATION",
    field: "message.signerRole",
    explain: async (a, c) =>
      `the product of ${await c.names.batch(a.batchId)} names no quality authorized person; its market release is signed by the MAH's own key ` +
      `and must state the role "the organization itself" with no name (it states ${PERSON_ROLES.words[Number(a.signerRole)] ?? "an unknown role"}` +
      `${a.signerName ? ` and the name "${String(a.signerName)}"` : ""})`,
  },
  InvalidRiskClass: {
    kind: "bad_input",
    code: "INVALID_RISK_CLASS",
    field: "message.riskClass",
    explain: () => "a product's risk class must be Biologic, Sterile, TcmInjection, Vaccine or Other",
  },
  RiskClassAlreadySet: {
    kind: "refused",
    code: "RISK_CLASS_ALREADY_SET",
    explain: async (a, c) =>
      `${await c.names.product(a.productId)} is already classified ${RISK_CLASSES.words[Number(a.riskClass)]}; a risk class is recorded once`,
  },
  NoBatchDuties: {
    kind: "refused",
    code: "NO_BATCH_DUTIES",
    explain: async (a, c) =>
      `${await c.names.batch(a.batchId)} has no quality duties on the ledger: it is not recorded, or its product needed no sterile records, ` +
      "laboratory certificate or quality authorized person when it was recorded",
  },
  SterileRecordsNotRequired: {
    kind: "refused",
    code: "STERILE_RECORDS_NOT_REQUIRED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} is not of a sterile product: it needs no sterile records`,
  },
  SterileRecordsAlreadyReferenced: {
    kind: "refused",
    code: "STERILE_RECORDS_ALREADY_REFERENCED",
    explain: async (a, c) => `the sterile records of ${await c.names.batch(a.batchId)} are already referenced`,
  },
  EmptySterileRecord: {
    kind: "bad_input",
    code: "EMPTY_STERILE_RECORD",
    field: "message.environmentalMonitoringHash",
    explain: () => "both the environmental-monitoring record and the cleaning record must be referenced (non-zero hashes)",
  },
  SterileRecordsMissing: {
    kind: "refused",
    code: "STERILE_RECORDS_MISSING",
    explain: async (a, c) =>
      `${await c.names.batch(a.batchId)} is of a sterile product: its environmental-monitoring and cleaning records must be referenced ` +
      "in its batch record (trace quality sterile-records) before factory release",
  },
  TestCertificateNotRequired: {
    kind: "refused",
    code: "TEST_CERTIFICATE_NOT_REQUIRED",
    explain: async (a, c) => `the quality agreement of ${await c.names.batch(a.batchId)} does not name a contract laboratory its release tester`,
  },
  NotTestingAgreement: {
    kind: "refused",
    code: "NOT_TESTING_AGREEMENT",
    explain: (a) => `agreement ${a.agreementId} is not an outsourced-testing agreement`,
  },
  NotAgreementLaboratory: {
    kind: "not_allowed",
    code: "NOT_AGREEMENT_LABORATORY",
    explain: async (a, c) => `${await c.names.organization(a.laboratoryId)} is not the laboratory of testing agreement ${a.agreementId}`,
  },
  TestingAgreementNotInForce: {
    kind: "refused",
    code: "TESTING_AGREEMENT_NOT_IN_FORCE",
    explain: (a) => `testing agreement ${a.agreementId} is revoked or not in force now`,
  },
  AgreementNotForBatch: {
    kind: "refused",
    code: "AGREEMENT_NOT_FOR_BATCH",
    explain: async (a, c) => `testing agreement ${a.agreementId} does not cover ${await c.names.batch(a.batchId)} (another MAH or product)`,
  },
  TestCertificateAlreadyIssued: {
    kind: "refused",
    code: "TEST_CERTIFICATE_ALREADY_ISSUED",
    explain: async (a, c) => `${await c.names.batch(a.batchId)} already has a test certificate; a failed result is not overwritten`,
  },
  TestCertificateMissing: {
    kind: "refused",
    code: "TEST_CERTIFICATE_MISSING",
    explain: async (a, c) =>
      `the quality agreement of ${await c.names.batch(a.batchId)} names a contract laboratory its release tester, ` +
      "and no test certificate from the laboratory is on the ledger",
  },
  TestCertificateFailed: {
    kind: "refused",
    code: "TEST_CERTIFICATE_FAILED",
    explain: async (a, c) =>
      `${await c.names.organization(a.laboratoryId)} certified that ${await c.names.batch(a.batchId)} failed its release testing`,
  },
  InvalidReviewPeriod: {
    kind: "bad_input",
    code: "INVALID_REVIEW_PERIOD",
    field: "message.quarter",
    explain: (a) => `${a.year} Q${a.quarter} is not a quarter: give a year from 2000 and a quarter from 1 to 4`,
  },
  InvalidRiskLevel: {
    kind: "bad_input",
    code: "INVALID_RISK_LEVEL",
    field: "message.riskLevel",
    explain: () => "a quality review must assess the risk: Low, Medium or High",
  },
  QualityReviewAlreadyFiled: {
    kind: "refused",
    code: "QUALITY_REVIEW_ALREADY_FILED",
    explain: async (a, c) => `the quality review of ${await c.names.product(a.productId)} for ${a.year} Q${a.quarter} is already filed`,
  },
  NotQualityAgreementParty: {
    kind: "not_allowed",
    code: "NOT_QUALITY_AGREEMENT_PARTY",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not a party to quality agreement ${a.agreementId}`,
  },
  InvalidCommunicationTerms: {
    kind: "bad_input",
    code: "INVALID_COMMUNICATION_TERMS",
    field: "message.channels",
    explain: () => "communication terms name at least one channel and a response time of at least one second",
  },
  CommunicationTermsMissing: {
    kind: "refused",
    code: "COMMUNICATION_TERMS_MISSING",
    explain: (a) => `quality agreement ${a.agreementId} has no agreed channels and response time on the ledger: its MAH records them first`,
  },
  ChannelNotAgreed: {
    kind: "refused",
    code: "CHANNEL_NOT_AGREED",
    field: "message.channel",
    explain: (a) => `channel ${NOTICE_CHANNELS.words[Number(a.channel)] ?? a.channel} is not one quality agreement ${a.agreementId} agreed`,
  },
  InvalidNoticeKind: {
    kind: "bad_input",
    code: "INVALID_NOTICE_KIND",
    field: "message.kind",
    explain: () => "a notice is a change control, deviation, complaint or audit finding",
  },
  UnknownNotice: { kind: "refused", code: "UNKNOWN_NOTICE", explain: (a) => `no notice ${a.noticeId} is on the ledger` },
  NotNoticeRecipient: {
    kind: "not_allowed",
    code: "NOT_NOTICE_RECIPIENT",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is not the addressee of notice ${a.noticeId}`,
  },
  NoticeAlreadyAcknowledged: { kind: "refused", code: "NOTICE_ALREADY_ACKNOWLEDGED", explain: (a) => `notice ${a.noticeId} is already acknowledged` },
  CommunicationTermsNotCountersigned: {
    kind: "refused",
    code: "COMMUNICATION_TERMS_NOT_COUNTERSIGNED",
    explain: (a) => `the CMO of quality agreement ${a.agreementId} has not countersigned its communication terms: notices wait for both signatures`,
  },
  CommunicationTermsMismatch: {
    kind: "refused",
    code: "COMMUNICATION_TERMS_MISMATCH",
    explain: (a) => `the countersignature names other channels, response time or clause than the MAH recorded for quality agreement ${a.agreementId}`,
  },
  CommunicationTermsAlreadyCountersigned: {
    kind: "refused",
    code: "COMMUNICATION_TERMS_ALREADY_COUNTERSIGNED",
    explain: (a) => `the communication terms of quality agreement ${a.agreementId} are already countersigned`,
  },
  NotShortageLister: {
    kind: "not_allowed",
    code: "NOT_SHORTAGE_LISTER",
    explain: async (a, c) =>
      `${await c.names.organization(a.organizationId)} is neither a regulator nor the product's MAH: it cannot list a shortage drug`,
  },
  ShortageListingUnchanged: {
    kind: "refused",
    code: "SHORTAGE_LISTING_UNCHANGED",
    explain: async (a, c) => `${await c.names.product(a.productId)} is already ${a.listed ? "shortage-listed" : "not shortage-listed"}`,
  },
  ProductNotShortageListed: {
    kind: "refused",
    code: "PRODUCT_NOT_SHORTAGE_LISTED",
    explain: async (a, c) => `${await c.names.product(a.productId)} is not shortage-listed: a stop-production report is owed only for shortage drugs`,
  },
  StopProductionReportLate: {
    kind: "refused",
    code: "STOP_PRODUCTION_REPORT_LATE",
    field: "message.stopAt",
    explain: async (a, c) =>
      `the stop-production report of ${await c.names.product(a.productId)} is due before the stop (${chinaTime(Number(a.stopAt))}); ` +
      `it was filed at ${chinaTime(Number(a.reportedAt))}`,
  },
  InvalidRetainedSamples: {
    kind: "bad_input",
    code: "INVALID_RETAINED_SAMPLES",
    field: "message.quantity",
    explain: () => "retained samples name a quantity of at least one and where they are kept",
  },
  RetentionTooShort: {
    kind: "bad_input",
    code: "RETENTION_TOO_SHORT",
    field: "message.retainUntil",
    explain: async (a, c) =>
      `retained samples of ${await c.names.batch(a.batchId)} are kept at least a year past its expiry, until ${chinaTime(Number(a.requiredUntil))}, ` +
      `not only until ${chinaTime(Number(a.retainUntil))}`,
  },
  RetainedSamplesAlreadyRecorded: {
    kind: "refused",
    code: "RETAINED_SAMPLES_ALREADY_RECORDED",
    explain: async (a, c) => `the retained samples of ${await c.names.batch(a.batchId)} are already recorded`,
  },
  RetainedSamplesNotRecorded: {
    kind: "refused",
    code: "RETAINED_SAMPLES_NOT_RECORDED",
    explain: async (a, c) => `the CMO has not recorded retained samples of ${await c.names.batch(a.batchId)}`,
  },
  RetainedSamplesAlreadyApproved: {
    kind: "refused",
    code: "RETAINED_SAMPLES_ALREADY_APPROVED",
    explain: async (a, c) => `the retained samples of ${await c.names.batch(a.batchId)} are already approved`,
  },
  RetainedSamplesNotApproved: {
    kind: "refused",
    code: "RETAINED_SAMPLES_NOT_APPROVED",
    explain: async (a, c) =>
      `${await c.names.batch(a.batchId)} is of a sterile-class product: it is released to market only once the MAH approved the retained samples its CMO recorded`,
  },

  // ----- supervision: licences, cross-province agreement review, inspections, sampling -----
  LicenceExpired: {
    kind: "not_allowed",
    code: "LICENCE_EXPIRED",
    explain: async (a, c) =>
      `the licence of ${await c.names.organization(a.organizationId)} expired at ${chinaTime(Number(a.validUntil))}: ` +
      `its attestations are refused until its provincial regulator records a renewed licence`,
  },
  NotProvinceRegulator: {
    kind: "not_allowed",
    code: "NOT_PROVINCE_REGULATOR",
    explain: async (a, c) =>
      `${await c.names.organization(a.regulatorId)} is not a regulator of the province of ${await c.names.organization(a.organizationId)}; ` +
      `only that province's regulator may do this`,
  },
  InvalidLicenceExpiry: {
    kind: "bad_input",
    code: "INVALID_LICENCE_EXPIRY",
    field: "message.validUntil",
    explain: (a) => `a licence valid until ${chinaTime(Number(a.validUntil))} has already expired; record its validity's end in the future`,
  },
  AgreementAwaitingApproval: {
    kind: "refused",
    code: "AGREEMENT_AWAITING_APPROVAL",
    explain: (a) =>
      `quality agreement ${a.agreementId} is between an MAH and a CMO of different provinces and is not in force yet: ` +
      `it ${AGREEMENT_APPROVALS.words[Number(a.approval)]}`,
  },
  AgreementNeedsNoApproval: {
    kind: "refused",
    code: "AGREEMENT_NEEDS_NO_APPROVAL",
    explain: (a) => `agreement ${a.agreementId} is not a quality agreement across provinces: it needs no regulator's review`,
  },
  AgreementOpinionAlreadyGiven: {
    kind: "refused",
    code: "AGREEMENT_OPINION_ALREADY_GIVEN",
    explain: (a) => `the CMO's provincial regulator has already given its opinion on agreement ${a.agreementId}`,
  },
  AgreementOpinionMissing: {
    kind: "refused",
    code: "AGREEMENT_OPINION_MISSING",
    explain: (a) => `agreement ${a.agreementId} awaits the opinion of the CMO's provincial regulator; it can be approved only after that`,
  },
  AgreementAlreadyApproved: {
    kind: "refused",
    code: "AGREEMENT_ALREADY_APPROVED",
    explain: (a) => `agreement ${a.agreementId} is already approved`,
  },
  NotSupervisedOrganization: {
    kind: "refused",
    code: "NOT_SUPERVISED_ORGANIZATION",
    explain: async (a, c) => `${await c.names.organization(a.organizationId)} is a regulator; regulators are not inspected on the ledger`,
  },
  InvalidInspectionScope: {
    kind: "bad_input",
    code: "INVALID_INSPECTION_SCOPE",
    field: "message.scope",
    explain: () => `an inspection needs a scope: ${INSPECTION_SCOPES.names.slice(1).join(", ")}`,
  },
  InvalidInspectionGrade: {
    kind: "bad_input",
    code: "INVALID_INSPECTION_GRADE",
    field: "message.grade",
    explain: () => `an inspection needs a grade: ${INSPECTION_GRADES.names.slice(1).join(", ")}`,
  },
  InvalidInspectionSite: {
    kind: "bad_input",
    code: "INVALID_INSPECTION_SITE",
    field: "message.site",
    explain: (a) => `inspection site ${JSON.stringify(a.site)} must have 1 to 100 bytes`,
  },
  InvalidInspectionDate: {
    kind: "bad_input",
    code: "INVALID_INSPECTION_DATE",
    field: "message.inspectedAt",
    explain: (a) => `an inspection is recorded after it took place, not at ${chinaTime(Number(a.inspectedAt))}`,
  },
  InspectionGradeContradictsFindings: {
    kind: "bad_input",
    code: "INSPECTION_GRADE_CONTRADICTS_FINDINGS",
    field: "message.grade",
    explain: (a) =>
      `an inspection with ${plural(a.criticalFindings, "critical finding")} and ${plural(a.majorFindings, "major finding")} cannot be graded ` +
      `${INSPECTION_GRADES.words[Number(a.grade)]}: a critical finding makes it not compliant, a major one at best compliant once corrected`,
  },
  UnknownInspection: { kind: "refused", code: "UNKNOWN_INSPECTION", explain: (a) => `no inspection ${a.inspectionId} is on the ledger` },
  OwnProvinceInspection: {
    kind: "refused",
    code: "OWN_PROVINCE_INSPECTION",
    explain: (a) => `inspection ${a.inspectionId} was made by province ${a.province}'s own regulator; only another province recognises it`,
  },
  InspectionAlreadyRecognised: {
    kind: "refused",
    code: "INSPECTION_ALREADY_RECOGNISED",
    explain: (a) => `province ${a.province} has already recognised inspection ${a.inspectionId}`,
  },
  UnknownSampledBatch: { kind: "refused", code: "UNKNOWN_BATCH", explain: (a) => `no batch ${a.batchId} is on the ledger to sample` },
  InvalidSamplingTest: {
    kind: "bad_input",
    code: "INVALID_SAMPLING_TEST",
    field: "message.test",
    explain: (a) => `sampling test ${JSON.stringify(a.test)} must have 1 to 100 bytes`,
  },
};

const ERROR_STRING = "0x08c379a0";
const PANIC = "0x4e487b71";

/** The answer to a dry run that reverted with `data` (undefined or "0x" when the node gave no reason). */
export async function refusalOf(data: string | undefined, context: RefusalContext): Promise<LedgerError> {
  const decoded = data ? decodeLedgerError(data) : undefined;
  if (decoded && CONTRACT_REFUSALS[decoded.name]) return refusalFor(decoded, context);
  return new LedgerError("refused", "CONTRACT_REFUSED", `${prefixOf(context)}${unknownReason(data)}`, `attestations.${context.index}`);
}

/**
 * The answer to one of the contracts' errors, whether the dry run raised it or the relay's own checks found it
 * first: the same failure gets the same code either way.
 */
export async function refusalFor(error: DecodedError, context: RefusalContext): Promise<LedgerError> {
  const rule = CONTRACT_REFUSALS[error.name];
  if (!rule) throw new Error(`no refusal for contract error ${error.name}`);
  const { kind, code } = rule.refine?.(error.args, context) ?? rule;
  const where = `attestations.${context.index}`;
  const field = rule.field ? `${where}.${rule.field}` : where;
  return new LedgerError(kind, code, prefixOf(context) + (await rule.explain(error.args, context)), field);
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
  /** " by {organization} at {time}" of the pack's current state, or "" where it is not known. */
  packState(pack: unknown): Promise<string>;
  unacknowledgedHolders(batchId: unknown): Promise<string>;
};
