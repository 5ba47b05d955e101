import type { TypedDataField } from "ethers";
import type { RoleName } from "./vocabulary";

/**
 * The catalogue of attestations: for each, the contract that verifies it, the function that takes it, the
 * EIP-712 struct signed (field for field as the contract's *_TYPEHASH), the event it emits and the event argument
 * that carries the struct, who may sign it, and what it does to custody. Everything else that lists attestations
 * or ledger events (the EIP-712 types, the relay's functions, the indexer's decoder, the notification kinds, the
 * scan's custody path) is derived from here; test/ledger/catalogue.test.ts ties it to the compiled ABIs.
 *
 * By convention the first field of every struct names the acting organization, and its second is the nonce.
 */

export const LEDGER_CONTRACTS = [
  "ConsortiumRegistry",
  "ProductRegistry",
  "BatchLedger",
  "AggregationLedger",
  "AlertCases",
  "CorrectiveActions",
  "QualityDuties",
  "SupervisionRecords",
] as const;
export type LedgerContract = (typeof LEDGER_CONTRACTS)[number];

/**
 * What an attestation does to custody, for the organization its `holder` field names: `made` creates stock,
 * `shipped` moves it into transit, `received` out of transit, `dispensed` and `destroyed` out of the supply chain;
 * `packState` moves packs out of the supply chain or back into stock according to the state set (vocabulary.ts
 * the reducer in src/indexer/apply.ts; LOCKED moves nothing).
 */
export type CustodyEffect = "made" | "shipped" | "received" | "dispensed" | "destroyed" | "packState";

type Entry = {
  contract: LedgerContract;
  /** The contract function that takes the signed struct. */
  function: string;
  fields: readonly TypedDataField[];
  event: string;
  /** The event argument that carries the signed struct. */
  struct: string;
  /** Roles whose keys may sign it; "any" when the contract checks a relation rather than a role. */
  signedBy: readonly RoleName[] | "any";
  /** The field naming the organization whose holding of the batch it reads or moves. */
  holder?: string;
  custody?: CustodyEffect;
  /** Extra call arguments besides the struct and signature: a counterparty's signature, or a multiproof of packs. */
  call?: "countersigned" | "proved";
};

const field = (name: string, type: string): TypedDataField => ({ name, type });
const statusChange = [field("regulatorId", "uint32"), field("nonce", "uint256"), field("organizationId", "uint32"), field("reasonHash", "bytes32")];
const agreementReview = [
  field("regulatorId", "uint32"),
  field("nonce", "uint256"),
  field("agreementId", "bytes32"),
  field("documentHash", "bytes32"),
];
const keyChange = [field("organizationId", "uint32"), field("nonce", "uint256"), field("signingKey", "address")];

export const ATTESTATIONS = {
  // ----- ConsortiumRegistry: organizations and their keys -----
  Onboarding: {
    contract: "ConsortiumRegistry",
    function: "onboardOrganization",
    fields: [
      field("regulatorId", "uint32"),
      field("nonce", "uint256"),
      field("role", "uint8"),
      field("region", "uint32"),
      field("licenceHash", "bytes32"),
      field("signingKey", "address"),
      field("name", "string"),
    ],
    event: "OrganizationOnboarded",
    struct: "onboarding",
    signedBy: ["REGULATOR"],
  },
  Suspension: {
    contract: "ConsortiumRegistry",
    function: "suspendOrganization",
    fields: statusChange,
    event: "OrganizationSuspended",
    struct: "change",
    signedBy: ["REGULATOR"],
  },
  Reinstatement: {
    contract: "ConsortiumRegistry",
    function: "reinstateOrganization",
    fields: statusChange,
    event: "OrganizationReinstated",
    struct: "change",
    signedBy: ["REGULATOR"],
  },
  LicenceRecord: {
    contract: "ConsortiumRegistry",
    function: "recordLicence",
    fields: [
      field("regulatorId", "uint32"),
      field("nonce", "uint256"),
      field("organizationId", "uint32"),
      field("licenceHash", "bytes32"),
      field("validUntil", "uint40"),
    ],
    event: "LicenceRecorded",
    struct: "record",
    signedBy: ["REGULATOR"],
  },
  SigningKeyAddition: {
    contract: "ConsortiumRegistry",
    function: "addSigningKey",
    fields: keyChange,
    event: "SigningKeyAdded",
    struct: "change",
    signedBy: "any",
  },
  SigningKeyRevocation: {
    contract: "ConsortiumRegistry",
    function: "revokeSigningKey",
    fields: keyChange,
    event: "SigningKeyRevoked",
    struct: "change",
    signedBy: "any",
  },

  // ----- ProductRegistry: products and agreements -----
  ProductRegistration: {
    contract: "ProductRegistry",
    function: "registerProduct",
    fields: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("productCode", "string"),
      field("approvalNumber", "string"),
      field("name", "string"),
    ],
    event: "ProductRegistered",
    struct: "registration",
    signedBy: ["MAH"],
  },
  Agreement: {
    contract: "ProductRegistry",
    function: "signAgreement",
    fields: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("kind", "uint8"),
      field("counterpartyId", "uint32"),
      field("productId", "bytes32"),
      field("documentHash", "bytes32"),
      field("validFrom", "uint40"),
      field("validUntil", "uint40"),
      field("releaseTester", "uint8"),
    ],
    event: "AgreementSigned",
    struct: "agreement",
    signedBy: ["MAH"],
    call: "countersigned",
  },
  AgreementOpinion: {
    contract: "ProductRegistry",
    function: "giveAgreementOpinion",
    fields: agreementReview,
    event: "AgreementOpinionGiven",
    struct: "review",
    signedBy: ["REGULATOR"],
  },
  AgreementApproval: {
    contract: "ProductRegistry",
    function: "approveAgreement",
    fields: agreementReview,
    event: "AgreementApproved",
    struct: "review",
    signedBy: ["REGULATOR"],
  },
  AgreementRevocation: {
    contract: "ProductRegistry",
    function: "revokeAgreement",
    fields: [field("organizationId", "uint32"), field("nonce", "uint256"), field("agreementId", "bytes32"), field("reasonHash", "bytes32")],
    event: "AgreementRevoked",
    struct: "revocation",
    signedBy: "any",
  },

  // ----- BatchLedger: manufacture and release -----
  BatchRecord: {
    contract: "BatchLedger",
    function: "recordBatch",
    fields: [
      field("cmoId", "uint32"),
      field("nonce", "uint256"),
      field("agreementId", "bytes32"),
      field("batchNumber", "string"),
      field("quantity", "uint64"),
      field("manufacturedAt", "uint40"),
      field("expiresAt", "uint40"),
      field("batchRecordHash", "bytes32"),
      field("codesRoot", "bytes32"),
    ],
    event: "BatchRecorded",
    struct: "record",
    signedBy: ["CMO"],
    holder: "cmoId",
    custody: "made",
  },
  DeviationReport: {
    contract: "BatchLedger",
    function: "openDeviation",
    fields: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("kind", "uint8"),
      field("severity", "uint8"),
      field("category", "uint8"),
      field("reportHash", "bytes32"),
    ],
    event: "DeviationOpened",
    struct: "report",
    signedBy: ["MAH", "CMO"],
  },
  DeviationClosure: {
    contract: "BatchLedger",
    function: "closeDeviation",
    fields: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("reportHash", "bytes32"),
      field("rootCause", "uint8"),
      field("batchImpact", "uint8"),
      field("closureHash", "bytes32"),
    ],
    event: "DeviationClosed",
    struct: "closure",
    signedBy: ["MAH", "CMO"],
  },
  FactoryRelease: {
    contract: "BatchLedger",
    function: "releaseFromFactory",
    fields: [field("cmoId", "uint32"), field("nonce", "uint256"), field("batchId", "bytes32"), field("certificateHash", "bytes32")],
    event: "BatchFactoryReleased",
    struct: "release",
    signedBy: ["CMO"],
  },
  MarketRelease: {
    contract: "BatchLedger",
    function: "releaseToMarket",
    fields: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("decisionHash", "bytes32"),
      field("signerRole", "uint8"),
      field("signerName", "string"),
    ],
    event: "BatchMarketReleased",
    struct: "release",
    signedBy: ["MAH"],
  },
  ReleaseRefusal: {
    contract: "BatchLedger",
    function: "refuseRelease",
    fields: [field("mahId", "uint32"), field("nonce", "uint256"), field("batchId", "bytes32"), field("reasonHash", "bytes32")],
    event: "BatchReleaseRefused",
    struct: "refusal",
    signedBy: ["MAH"],
  },

  // ----- BatchLedger: custody -----
  Shipment: {
    contract: "BatchLedger",
    function: "shipBatch",
    fields: [
      field("shipperId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("recipientId", "uint32"),
      field("quantity", "uint64"),
      field("codesRoot", "bytes32"),
    ],
    event: "BatchShipped",
    struct: "shipment",
    signedBy: "any",
    holder: "shipperId",
    custody: "shipped",
  },
  Receipt: {
    contract: "BatchLedger",
    function: "receiveShipment",
    fields: [
      field("recipientId", "uint32"),
      field("nonce", "uint256"),
      field("shipmentId", "bytes32"),
      field("batchId", "bytes32"),
      field("shipperId", "uint32"),
      field("shippedQuantity", "uint64"),
      field("receivedQuantity", "uint64"),
    ],
    event: "ShipmentReceived",
    struct: "receipt",
    signedBy: "any",
    holder: "recipientId",
    custody: "received",
  },
  Dispensing: {
    contract: "BatchLedger",
    function: "dispensePacks",
    fields: [field("dispenserId", "uint32"), field("nonce", "uint256"), field("batchId", "bytes32"), field("packs", "bytes32[]")],
    event: "PacksDispensed",
    struct: "dispensing",
    signedBy: "any",
    holder: "dispenserId",
    custody: "dispensed",
    call: "proved",
  },
  PackStateChange: {
    contract: "BatchLedger",
    function: "changePackStates",
    fields: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("state", "uint8"),
      field("packs", "bytes32[]"),
      field("reasonHash", "bytes32"),
    ],
    event: "PackStatesChanged",
    struct: "change",
    signedBy: "any",
    holder: "organizationId",
    custody: "packState",
    call: "proved",
  },
  Destruction: {
    contract: "BatchLedger",
    function: "destroyStock",
    fields: [
      field("holderId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("quantity", "uint64"),
      field("reasonHash", "bytes32"),
    ],
    event: "StockDestroyed",
    struct: "destruction",
    signedBy: "any",
    holder: "holderId",
    custody: "destroyed",
  },

  // ----- BatchLedger: holds (quarantine short of a recall) -----
  HoldPlacement: {
    contract: "BatchLedger",
    function: "placeHold",
    fields: [field("organizationId", "uint32"), field("nonce", "uint256"), field("batchId", "bytes32"), field("reasonHash", "bytes32")],
    event: "BatchPlacedOnHold",
    struct: "placement",
    signedBy: ["MAH", "REGULATOR"],
  },
  HoldRelease: {
    contract: "BatchLedger",
    function: "releaseHold",
    fields: [field("mahId", "uint32"), field("nonce", "uint256"), field("batchId", "bytes32"), field("reasonHash", "bytes32")],
    event: "BatchHoldReleased",
    struct: "release",
    signedBy: ["MAH"],
  },

  // ----- BatchLedger: recalls -----
  RecallStart: {
    contract: "BatchLedger",
    function: "startRecall",
    fields: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("level", "uint8"),
      field("reasonHash", "bytes32"),
    ],
    event: "RecallStarted",
    struct: "recall",
    signedBy: ["MAH", "REGULATOR"],
  },
  RecallAcknowledgement: {
    contract: "BatchLedger",
    function: "acknowledgeRecall",
    fields: [
      field("holderId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("quarantinedQuantity", "uint64"),
      field("dispensedQuantity", "uint64"),
      field("destroyedQuantity", "uint64"),
      field("missingQuantity", "uint64"),
    ],
    event: "RecallAcknowledged",
    struct: "acknowledgement",
    signedBy: "any",
    holder: "holderId",
  },
  RecallClosure: {
    contract: "BatchLedger",
    function: "closeRecall",
    fields: [field("mahId", "uint32"), field("nonce", "uint256"), field("batchId", "bytes32"), field("reportHash", "bytes32")],
    event: "RecallClosed",
    struct: "closure",
    signedBy: ["MAH"],
  },

  // ----- AggregationLedger: packs in cases, cases on pallets (SSCC) -----
  AggregationCommitment: {
    contract: "AggregationLedger",
    function: "commitAggregation",
    fields: [
      field("cmoId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("aggregationRoot", "bytes32"),
      field("containers", "uint32"),
      field("packs", "uint64"),
    ],
    event: "AggregationCommitted",
    struct: "commitment",
    signedBy: ["CMO"],
  },
  Unpacking: {
    contract: "AggregationLedger",
    function: "unpackUnits",
    fields: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("containerId", "bytes32"),
      field("units", "bytes32[]"),
    ],
    event: "UnitsUnpacked",
    struct: "unpacking",
    signedBy: "any",
    call: "proved",
  },
  // ----- AlertCases: alert cases and suspect-product reports (supervision shared between provinces) -----
  AlertTaking: {
    contract: "AlertCases",
    function: "takeAlert",
    fields: [field("organizationId", "uint32"), field("nonce", "uint256"), field("alertKey", "bytes32"), field("subjectId", "uint32")],
    event: "AlertTaken",
    struct: "taking",
    signedBy: "any",
  },
  AlertStatusChange: {
    contract: "AlertCases",
    function: "changeAlertStatus",
    fields: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("caseKey", "bytes32"),
      field("status", "uint8"),
      field("reasonHash", "bytes32"),
    ],
    event: "AlertStatusChanged",
    struct: "change",
    signedBy: "any",
  },
  SuspectReport: {
    contract: "AlertCases",
    function: "fileSuspectReport",
    fields: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("packs", "bytes32[]"),
      field("reasonHash", "bytes32"),
    ],
    event: "SuspectReportFiled",
    struct: "report",
    signedBy: "any",
    call: "proved",
  },
  SuspectTermination: {
    contract: "AlertCases",
    function: "terminateSuspectReport",
    fields: [
      field("regulatorId", "uint32"),
      field("nonce", "uint256"),
      field("reportId", "bytes32"),
      field("outcome", "uint8"),
      field("reasonHash", "bytes32"),
    ],
    event: "SuspectReportTerminated",
    struct: "termination",
    signedBy: ["REGULATOR"],
  },

  // ----- CorrectiveActions: CAPA for deviations -----
  CapaRecord: {
    contract: "CorrectiveActions",
    function: "recordCapa",
    fields: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("reportHash", "bytes32"),
      field("capaHash", "bytes32"),
      field("ownerId", "uint32"),
      field("dueAt", "uint40"),
    ],
    event: "CapaRecorded",
    struct: "record",
    signedBy: ["MAH", "CMO"],
  },
  EffectivenessCheck: {
    contract: "CorrectiveActions",
    function: "checkCapaEffectiveness",
    fields: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("capaHash", "bytes32"),
      field("effective", "bool"),
      field("checkHash", "bytes32"),
    ],
    event: "CapaEffectivenessChecked",
    struct: "check",
    signedBy: ["MAH"],
  },
  // ----- QualityDuties: the MAH's quality duties and the release checks they switch on -----
  PersonAppointment: {
    contract: "QualityDuties",
    function: "appointPerson",
    fields: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("productId", "bytes32"),
      field("personKey", "address"),
      field("role", "uint8"),
      field("name", "string"),
    ],
    event: "ResponsiblePersonAppointed",
    struct: "appointment",
    signedBy: ["MAH"],
  },
  PersonRevocation: {
    contract: "QualityDuties",
    function: "revokePerson",
    fields: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("productId", "bytes32"),
      field("personKey", "address"),
      field("reasonHash", "bytes32"),
    ],
    event: "ResponsiblePersonRevoked",
    struct: "revocation",
    signedBy: ["MAH"],
  },
  RiskClassification: {
    contract: "QualityDuties",
    function: "classifyProduct",
    fields: [field("mahId", "uint32"), field("nonce", "uint256"), field("productId", "bytes32"), field("riskClass", "uint8")],
    event: "ProductRiskClassified",
    struct: "classification",
    signedBy: ["MAH"],
  },
  SterileRecords: {
    contract: "QualityDuties",
    function: "referenceSterileRecords",
    fields: [
      field("cmoId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("environmentalMonitoringHash", "bytes32"),
      field("cleaningRecordHash", "bytes32"),
    ],
    event: "SterileRecordsReferenced",
    struct: "records",
    signedBy: "any",
  },
  TestCertificate: {
    contract: "QualityDuties",
    function: "issueTestCertificate",
    fields: [
      field("laboratoryId", "uint32"),
      field("nonce", "uint256"),
      field("agreementId", "bytes32"),
      field("batchId", "bytes32"),
      field("certificateHash", "bytes32"),
      field("passed", "bool"),
    ],
    event: "TestCertificateIssued",
    struct: "certificate",
    signedBy: ["LABORATORY"],
  },
  QualityReview: {
    contract: "QualityDuties",
    function: "fileQualityReview",
    fields: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("productId", "bytes32"),
      field("year", "uint16"),
      field("quarter", "uint8"),
      field("riskLevel", "uint8"),
      field("reviewHash", "bytes32"),
    ],
    event: "QualityReviewFiled",
    struct: "review",
    signedBy: ["MAH"],
  },
  CommunicationTerms: {
    contract: "QualityDuties",
    function: "agreeCommunicationTerms",
    fields: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("agreementId", "bytes32"),
      field("channels", "uint8"),
      field("responseSeconds", "uint32"),
      field("termsHash", "bytes32"),
    ],
    event: "CommunicationTermsAgreed",
    struct: "terms",
    signedBy: ["MAH"],
  },
  QualityNotice: {
    contract: "QualityDuties",
    function: "sendNotice",
    fields: [
      field("senderId", "uint32"),
      field("nonce", "uint256"),
      field("agreementId", "bytes32"),
      field("kind", "uint8"),
      field("channel", "uint8"),
      field("noticeHash", "bytes32"),
    ],
    event: "QualityNoticeSent",
    struct: "notice",
    signedBy: ["MAH", "CMO"],
  },
  NoticeAcknowledgement: {
    contract: "QualityDuties",
    function: "acknowledgeNotice",
    fields: [field("recipientId", "uint32"), field("nonce", "uint256"), field("noticeId", "bytes32"), field("responseHash", "bytes32")],
    event: "QualityNoticeAcknowledged",
    struct: "acknowledgement",
    signedBy: ["MAH", "CMO"],
  },
  TermsCountersignature: {
    contract: "QualityDuties",
    function: "countersignCommunicationTerms",
    fields: [
      field("cmoId", "uint32"),
      field("nonce", "uint256"),
      field("agreementId", "bytes32"),
      field("channels", "uint8"),
      field("responseSeconds", "uint32"),
      field("termsHash", "bytes32"),
    ],
    event: "CommunicationTermsCountersigned",
    struct: "countersignature",
    signedBy: ["CMO"],
  },
  ShortageListing: {
    contract: "QualityDuties",
    function: "changeShortageListing",
    fields: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("productId", "bytes32"),
      field("listed", "bool"),
      field("basisHash", "bytes32"),
    ],
    event: "ShortageListingChanged",
    struct: "listing",
    signedBy: ["REGULATOR", "MAH"],
  },
  StopProductionReport: {
    contract: "QualityDuties",
    function: "reportStopProduction",
    fields: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("productId", "bytes32"),
      field("stopAt", "uint40"),
      field("reportHash", "bytes32"),
    ],
    event: "StopProductionReported",
    struct: "report",
    signedBy: ["MAH"],
  },
  RetainedSamples: {
    contract: "QualityDuties",
    function: "recordRetainedSamples",
    fields: [
      field("cmoId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("quantity", "uint32"),
      field("retainUntil", "uint40"),
      field("location", "string"),
    ],
    event: "RetainedSamplesRecorded",
    struct: "samples",
    signedBy: ["CMO"],
  },
  RetainedSampleApproval: {
    contract: "QualityDuties",
    function: "approveRetainedSamples",
    fields: [field("mahId", "uint32"), field("nonce", "uint256"), field("batchId", "bytes32"), field("approvalHash", "bytes32")],
    event: "RetainedSamplesApproved",
    struct: "approval",
    signedBy: ["MAH"],
  },
  // ----- SupervisionRecords: inspections and sampling -----
  Inspection: {
    contract: "SupervisionRecords",
    function: "recordInspection",
    fields: [
      field("regulatorId", "uint32"),
      field("nonce", "uint256"),
      field("organizationId", "uint32"),
      field("site", "string"),
      field("scope", "uint8"),
      field("criticalFindings", "uint16"),
      field("majorFindings", "uint16"),
      field("minorFindings", "uint16"),
      field("grade", "uint8"),
      field("inspectedAt", "uint40"),
      field("documentHash", "bytes32"),
    ],
    event: "InspectionRecorded",
    struct: "inspection",
    signedBy: ["REGULATOR"],
  },
  InspectionRecognition: {
    contract: "SupervisionRecords",
    function: "recogniseInspection",
    fields: [field("regulatorId", "uint32"), field("nonce", "uint256"), field("inspectionId", "bytes32")],
    event: "InspectionRecognised",
    struct: "recognition",
    signedBy: ["REGULATOR"],
  },
  SamplingResult: {
    contract: "SupervisionRecords",
    function: "recordSampling",
    fields: [
      field("regulatorId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("sampledAtId", "uint32"),
      field("test", "string"),
      field("passed", "bool"),
      field("reportHash", "bytes32"),
    ],
    event: "SamplingRecorded",
    struct: "result",
    signedBy: ["REGULATOR"],
  },
} as const satisfies Record<string, Entry>;

export type AttestationName = keyof typeof ATTESTATIONS;
export type AttestationSpec = Entry & { name: AttestationName };
export type LedgerEventName = (typeof ATTESTATIONS)[AttestationName]["event"];

/** Every attestation with its name, in catalogue order. */
export const ATTESTATION_SPECS: readonly AttestationSpec[] = Object.entries(ATTESTATIONS).map(([name, entry]) => ({
  ...(entry as Entry),
  name: name as AttestationName,
}));

/** The attestation each ledger event carries. */
export const ATTESTATION_BY_EVENT: ReadonlyMap<string, AttestationSpec> = new Map(ATTESTATION_SPECS.map((spec) => [spec.event, spec]));

/** Every ledger event the indexer stores, in catalogue order. */
export const LEDGER_EVENTS = ATTESTATION_SPECS.map((spec) => spec.event) as readonly LedgerEventName[];

/** The events that move a batch's custody: the steps of its custody path. */
export const CUSTODY_EVENTS = ATTESTATION_SPECS.filter((spec) => spec.custody).map((spec) => spec.event) as readonly LedgerEventName[];

/**
 * The EIP-712 types each contract verifies, by contract and attestation name (what signers sign).
 * Solidity enums are signed as uint8.
 */
export const attestationTypes = Object.fromEntries(
  LEDGER_CONTRACTS.map((contract) => [
    contract,
    Object.fromEntries(ATTESTATION_SPECS.filter((spec) => spec.contract === contract).map((spec) => [spec.name, spec.fields])),
  ]),
) as { [C in LedgerContract]: { [A in AttestationName as (typeof ATTESTATIONS)[A]["contract"] extends C ? A : never]: readonly TypedDataField[] } };

export type AttestationType<C extends LedgerContract> = keyof (typeof attestationTypes)[C] & string;

const SPECS_BY_NAME: ReadonlyMap<string, AttestationSpec> = new Map(ATTESTATION_SPECS.map((spec) => [spec.name, spec]));

/** The field of an attestation that names the organization speaking: by convention its first. */
export function actorFieldOf(name: string): string {
  const spec = SPECS_BY_NAME.get(name);
  if (!spec) throw new Error(`no attestation ${name} in the catalogue`);
  return spec.fields[0]!.name;
}

/** The catalogue entry of an attestation named by untrusted input, or undefined. */
export function attestationSpec(name: string): AttestationSpec | undefined {
  return SPECS_BY_NAME.get(name);
}
