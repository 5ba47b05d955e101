import { Interface } from "ethers";
import type { ErrorFragment } from "ethers";
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
import { ATTESTATION_BY_EVENT, attestationSpec, LEDGER_CONTRACTS } from "./catalogue";
import type { LedgerContract } from "./catalogue";
import type { SignedAttestation } from "./wire";

/** Each contract's ABI, as compiled (typechain). */
export const CONTRACT_INTERFACES: Record<LedgerContract, Interface> = {
  ConsortiumRegistry: new Interface(ConsortiumRegistry__factory.abi),
  ProductRegistry: new Interface(ProductRegistry__factory.abi),
  BatchLedger: new Interface(BatchLedger__factory.abi),
  AggregationLedger: new Interface(AggregationLedger__factory.abi),
  AlertCases: new Interface(AlertCases__factory.abi),
  CorrectiveActions: new Interface(CorrectiveActions__factory.abi),
  QualityDuties: new Interface(QualityDuties__factory.abi),
  SupervisionRecords: new Interface(SupervisionRecords__factory.abi),
};

/** The contract call that carries a signed attestation (what the relay sends, and the CLI over RPC). */
export function encodeCall(attestation: SignedAttestation): string {
  const { message, signature } = attestation;
  const spec = attestationSpec(attestation.type);
  if (!spec) throw new Error(`no attestation ${attestation.type} in the catalogue`);
  const args =
    spec.call === "countersigned"
      ? [message, signature, attestation.counterpartySignature]
      : spec.call === "proved"
        ? [message, attestation.proof, attestation.proofFlags, signature]
        : [message, signature];
  return CONTRACT_INTERFACES[attestation.contract].encodeFunctionData(spec.function, args);
}

/** Several calls to one contract as one transaction (each contract's `multicall`; one reverts, all revert). */
export function encodeMulticall(contract: LedgerContract, calls: readonly string[]): string {
  return calls.length === 1 ? calls[0]! : CONTRACT_INTERFACES[contract].encodeFunctionData("multicall", [calls]);
}

const RELAY_BUNDLE = new Interface(RelayBundle__factory.abi);

/**
 * Calls to several contracts as one transaction to the relay bundle (RelayBundle.relayAll): one reverts, all revert,
 * with the failing call's own revert data.
 */
export function encodeBundle(calls: readonly { to: string; data: string }[]): string {
  return RELAY_BUNDLE.encodeFunctionData("relayAll", [calls.map((c) => c.to), calls.map((c) => c.data)]);
}

/** The topics the indexer asks the node for: every ledger event of every contract. */
export const LEDGER_EVENT_TOPICS: string[] = LEDGER_CONTRACTS.flatMap((contract) => {
  const topics: string[] = [];
  CONTRACT_INTERFACES[contract].forEachEvent((event) => {
    if (ATTESTATION_BY_EVENT.has(event.name)) topics.push(event.topicHash);
  });
  return topics;
});

/** One decoded custom error: its name and arguments by name. */
export type DecodedError = { name: string; args: Record<string, unknown> };

/** Every custom error of the ledger's contracts (and of the OpenZeppelin code they inherit), decodable from revert data. */
export const LEDGER_ERRORS: Interface = (() => {
  const seen = new Map<string, ErrorFragment>();
  for (const contract of LEDGER_CONTRACTS) {
    CONTRACT_INTERFACES[contract].forEachError((fragment) => {
      if (!seen.has(fragment.selector)) seen.set(fragment.selector, fragment);
    });
  }
  return new Interface([...seen.values()]);
})();

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
