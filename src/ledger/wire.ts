import { getAddress, isAddress } from "ethers";
import { z } from "zod";
import { actorFieldOf, ATTESTATION_SPECS } from "./catalogue";
import type { LedgerContract } from "./catalogue";
import {
  AgreementKind,
  BatchImpact,
  DeviationCategory,
  DeviationKind,
  DeviationSeverity,
  NoticeKind,
  PersonRole,
  RecallLevel,
  ReleaseTester,
  RiskClass,
  RiskLevel,
  Role,
  RootCause,
  InspectionGrade,
  InspectionScope,
} from "./vocabulary";

/**
 * The wire format of attestations: how a signed attestation travels from a signer (CLI, web page, partner system)
 * to the relay, built from the catalogue's EIP-712 types, so a field added to an attestation is validated and
 * documented without touching this file; and what the relay answers.
 */

export { RELAY_PATH } from "./relay-path";

export const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes in 0x hex")
  .transform((value) => value.toLowerCase());

/** A value of a message as the contract call takes it: integers as bigint, enums as numbers, hex lowercased. */
export type MessageValue = bigint | number | string | string[] | boolean;
export type SignedAttestation = {
  contract: LedgerContract;
  type: string;
  message: Record<string, MessageValue>;
  signature: string;
  counterpartySignature?: string;
  proof?: string[];
  proofFlags?: boolean[];
};

/** Enum fields are signed as uint8; the body takes the number or the name as in contracts/interfaces. */
const ENUM_FIELDS: Record<string, Record<string, number>> = {
  "Onboarding.role": Role,
  "Agreement.kind": AgreementKind,
  "Agreement.releaseTester": ReleaseTester,
  "DeviationReport.kind": DeviationKind,
  "DeviationReport.severity": DeviationSeverity,
  "DeviationReport.category": DeviationCategory,
  "DeviationClosure.rootCause": RootCause,
  "DeviationClosure.batchImpact": BatchImpact,
  "RecallStart.level": RecallLevel,
  "PersonAppointment.role": PersonRole,
  "RiskClassification.riskClass": RiskClass,
  "QualityReview.riskLevel": RiskLevel,
  "QualityNotice.kind": NoticeKind,
  "Inspection.scope": InspectionScope,
  "Inspection.grade": InspectionGrade,
};

export const signature = z
  .string()
  .regex(/^0x[0-9a-fA-F]{130}$/, "must be a 65-byte signature in 0x hex")
  .meta({ description: "EIP-712 signature (r, s, v) by a registered key of the organization the message names" });

const MAX_ARRAY = 10_000;

function unsigned(bits: number) {
  const max = (1n << BigInt(bits)) - 1n;
  return z
    .union([
      z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
      z.string().regex(/^(0|[1-9][0-9]{0,77}|0x[0-9a-fA-F]{1,64})$/, "must be a decimal integer or 0x hex"),
    ])
    .transform((value, ctx) => {
      const big = BigInt(value);
      if (big > max) {
        ctx.addIssue({ code: "custom", message: `must fit uint${bits} (at most ${max})` });
        return z.NEVER;
      }
      return big;
    })
    .meta({ description: `uint${bits}: a JSON number up to 2^53-1, or a decimal or 0x string` });
}

function enumeration(values: Record<string, number>) {
  const names = Object.keys(values) as [string, ...string[]];
  const max = Math.max(...Object.values(values));
  return z
    .union([z.number().int().min(0).max(max), z.enum(names)])
    .transform((value) => (typeof value === "number" ? value : values[value]!))
    .meta({ description: `one of ${names.map((n) => `${values[n]} (${n})`).join(", ")}` });
}

const address = z
  .string()
  .refine((value) => isAddress(value), "must be an Ethereum address (0x and 40 hex digits, valid checksum if mixed case)")
  .transform((value) => getAddress(value));

function fieldSchema(type: string, name: string, solidityType: string): z.ZodType {
  const enumValues = ENUM_FIELDS[`${type}.${name}`];
  if (enumValues) return enumeration(enumValues);
  if (solidityType === "bytes32") return bytes32;
  if (solidityType === "bytes32[]") return z.array(bytes32).max(MAX_ARRAY);
  if (solidityType === "address") return address;
  if (solidityType === "bool") return z.boolean();
  if (solidityType === "string") return z.string().max(256);
  if (solidityType === "bool") return z.boolean();
  const uint = /^uint(\d+)$/.exec(solidityType);
  if (uint) return unsigned(Number(uint[1]));
  throw new Error(`no request schema for ${type}.${name} of type ${solidityType}`);
}

function attestationSchema({ contract, name: type, fields, call }: (typeof ATTESTATION_SPECS)[number]) {
  const message = z.strictObject(Object.fromEntries(fields.map((f) => [f.name, fieldSchema(type, f.name, f.type)])));
  const shape: Record<string, z.ZodType> = {
    contract: z.literal(contract, { error: `${type} is a ${contract} attestation` }),
    type: z.literal(type),
    message,
    signature,
  };
  if (call === "countersigned") {
    shape.counterpartySignature = signature.meta({ description: "the counterparty's signature over the same agreement" });
  }
  if (call === "proved") {
    shape.proof = z.array(bytes32).max(MAX_ARRAY).meta({ description: "multiproof of the packs against the batch's codes root" });
    shape.proofFlags = z.array(z.boolean()).max(MAX_ARRAY);
  }
  return z.strictObject(shape).meta({ title: `${contract}.${type}` });
}

const ATTESTATION_SCHEMAS = ATTESTATION_SPECS.map(attestationSchema);

export const MAX_ATTESTATIONS = 100;

export const relayBody = z.object({
  attestations: z
    .array(z.discriminatedUnion("type", ATTESTATION_SCHEMAS as unknown as [z.ZodObject, ...z.ZodObject[]]))
    .min(1)
    .max(MAX_ATTESTATIONS)
    .meta({
      description:
        "signed attestations relayed in this order in one transaction, applied whole or not at all (a multicall when several for one " +
        "contract, the relay bundle when they span contracts)",
    }),
  wait: z.boolean().default(false).meta({ description: "answer once the transactions are mined and indexed" }),
});

/** The organization an attestation speaks for: by convention the first field of every attestation type. */
export function actorOf(attestation: Pick<SignedAttestation, "contract" | "type" | "message">): { field: string; organizationId: number } {
  const field = actorFieldOf(attestation.type);
  return { field, organizationId: Number(attestation.message[field]) };
}

export type RelayedTransaction = {
  hash: string;
  /** The contract the transaction called: the attestations' own, or the relay bundle when they span contracts. */
  contract: LedgerContract | "RelayBundle";
  /** Positions in the request of the attestations this transaction carries. */
  attestations: number[];
  blockNumber: number | null;
};

/** What one relayed attestation established on the ledger, read back from the indexed event it caused. */
export type Established = {
  /** Position of the attestation in the request. */
  attestation: number;
  /** The ledger event it caused (OrganizationOnboarded, BatchShipped …). */
  event: string;
  organizationId?: number;
  productId?: string;
  agreementId?: string;
  batchId?: string;
  shipmentId?: string;
};

export type RelayResult = {
  status: "submitted" | "indexed";
  transactions: RelayedTransaction[];
  indexedBlock: number | null;
  /** With wait: for each attestation, its event and the ids it made or named (a new organization's id …). */
  established?: Established[];
};
