import type { TypedDataField } from "ethers";

/** Enums as the contracts number them (contracts/interfaces). */
export const Role = { None: 0, Mah: 1, Cmo: 2, Distributor: 3, Dispenser: 4, Regulator: 5 } as const;
export const AgreementKind = { None: 0, Quality: 1, Storage: 2, Transport: 3, Sales: 4 } as const;
export const ReleaseTester = { None: 0, Cmo: 1, Mah: 2, ContractLaboratory: 3 } as const;
export const BatchState = { None: 0, Manufactured: 1, FactoryReleased: 2, MarketReleased: 3 } as const;
export const RecallStatus = { None: 0, Open: 1, Closed: 2 } as const;
export const RecallLevel = { None: 0, I: 1, II: 2, III: 3 } as const;
export const DeviationKind = { None: 0, Deviation: 1, OutOfSpecification: 2, OutOfTrend: 3 } as const;

const field = (name: string, type: string): TypedDataField => ({ name, type });
const statusChange = [
  field("regulatorId", "uint32"),
  field("nonce", "uint256"),
  field("organizationId", "uint32"),
  field("reasonHash", "bytes32"),
];
const keyChange = [field("organizationId", "uint32"), field("nonce", "uint256"), field("signingKey", "address")];

/**
 * The EIP-712 types each contract verifies, field for field as in its *_TYPEHASH constants.
 * Solidity enums are signed as uint8.
 */
export const attestationTypes = {
  ConsortiumRegistry: {
    Onboarding: [
      field("regulatorId", "uint32"),
      field("nonce", "uint256"),
      field("role", "uint8"),
      field("region", "uint32"),
      field("licenceHash", "bytes32"),
      field("signingKey", "address"),
      field("name", "string"),
    ],
    Suspension: statusChange,
    Reinstatement: statusChange,
    SigningKeyAddition: keyChange,
    SigningKeyRevocation: keyChange,
  },
  ProductRegistry: {
    ProductRegistration: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("productCode", "string"),
      field("approvalNumber", "string"),
      field("name", "string"),
    ],
    Agreement: [
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
    AgreementRevocation: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("agreementId", "bytes32"),
      field("reasonHash", "bytes32"),
    ],
  },
  BatchLedger: {
    BatchRecord: [
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
    DeviationReport: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("kind", "uint8"),
      field("reportHash", "bytes32"),
    ],
    DeviationClosure: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("reportHash", "bytes32"),
      field("closureHash", "bytes32"),
    ],
    FactoryRelease: [
      field("cmoId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("certificateHash", "bytes32"),
    ],
    MarketRelease: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("decisionHash", "bytes32"),
    ],
    Shipment: [
      field("shipperId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("recipientId", "uint32"),
      field("quantity", "uint64"),
      field("codesRoot", "bytes32"),
    ],
    Receipt: [
      field("recipientId", "uint32"),
      field("nonce", "uint256"),
      field("shipmentId", "bytes32"),
      field("batchId", "bytes32"),
      field("shipperId", "uint32"),
      field("shippedQuantity", "uint64"),
      field("receivedQuantity", "uint64"),
    ],
    Dispensing: [
      field("dispenserId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("packs", "bytes32[]"),
    ],
    Destruction: [
      field("holderId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("quantity", "uint64"),
      field("reasonHash", "bytes32"),
    ],
    RecallStart: [
      field("organizationId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("level", "uint8"),
      field("reasonHash", "bytes32"),
    ],
    RecallAcknowledgement: [
      field("holderId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("quarantinedQuantity", "uint64"),
    ],
    RecallClosure: [
      field("mahId", "uint32"),
      field("nonce", "uint256"),
      field("batchId", "bytes32"),
      field("reportHash", "bytes32"),
    ],
  },
} as const satisfies Record<string, Record<string, readonly TypedDataField[]>>;

export type LedgerContract = keyof typeof attestationTypes;
export type AttestationType<C extends LedgerContract> = keyof (typeof attestationTypes)[C] & string;
