import type { TypedDataDomain } from "ethers";
import type { LedgerContract } from "./catalogue";

/**
 * Where the ledger lives: its chain and the address of each contract, and of the relay bundle (RelayBundle, which
 * applies attestations for several contracts in one transaction) where the deployment has one.
 */
export type Deployment = { chainId: number; contracts: Record<LedgerContract, string>; relayBundle?: string };

/** The version every ledger contract's EIP-712 domain carries (the contracts' EIP712 constructor). */
export const DOMAIN_VERSION = "1";

/** Where an attestation is valid: one contract on one chain (EIP-712 domain). */
export type AttestationDomain<C extends LedgerContract = LedgerContract> = {
  contract: C;
  chainId: bigint;
  verifyingContract: string;
};

/** The domain a deployment's `contract` verifies attestations against. */
export function domainOf<C extends LedgerContract>(deployment: Deployment, contract: C): AttestationDomain<C> {
  return { contract, chainId: BigInt(deployment.chainId), verifyingContract: deployment.contracts[contract] };
}

/** The EIP-712 domain as signers and verifiers hash it: the contract's name is the domain's name. */
export function typedDataDomain(
  domain: AttestationDomain,
): TypedDataDomain & { name: string; version: string; chainId: bigint; verifyingContract: string } {
  return { name: domain.contract, version: DOMAIN_VERSION, chainId: domain.chainId, verifyingContract: domain.verifyingContract };
}
