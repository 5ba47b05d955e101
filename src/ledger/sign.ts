import { randomBytes, toBigInt, TypedDataEncoder, verifyTypedData } from "ethers";
import type { Signer } from "ethers";
import { attestationTypes } from "./catalogue";
import type { AttestationType, LedgerContract } from "./catalogue";
import { typedDataDomain } from "./domain";
import type { AttestationDomain } from "./domain";

export type Attestation<C extends LedgerContract = LedgerContract> = {
  domain: AttestationDomain<C>;
  type: AttestationType<C>;
  message: Record<string, unknown>;
};

function typesOf<C extends LedgerContract>(contract: C, type: AttestationType<C>) {
  const all = attestationTypes[contract] as Record<string, readonly { name: string; type: string }[]>;
  const fields = all[type];
  if (!fields) throw new Error(`${contract} has no attestation type ${type}`);
  return { [type]: fields.map((f) => ({ ...f })) };
}

/** Signs an attestation with an organization's key, as the contract will verify it. */
export async function signAttestation<C extends LedgerContract>(signer: Signer, attestation: Attestation<C>): Promise<string> {
  const { domain, type, message } = attestation;
  return signer.signTypedData(typedDataDomain(domain), typesOf(domain.contract, type), message);
}

/** The address that signed an attestation: the off-chain twin of the contract's check. */
export function recoverAttester<C extends LedgerContract>(attestation: Attestation<C>, signature: string): string {
  const { domain, type, message } = attestation;
  return verifyTypedData(typedDataDomain(domain), typesOf(domain.contract, type), message, signature);
}

/** The EIP-712 digest the signature covers. */
export function attestationDigest<C extends LedgerContract>(attestation: Attestation<C>): string {
  const { domain, type, message } = attestation;
  return TypedDataEncoder.hash(typedDataDomain(domain), typesOf(domain.contract, type), message);
}

/**
 * Hands out nonces for one signing session. Nonces are a bitmap of 256-bit words per organization, so any unused
 * value works: a random word lets several keys and devices of one organization sign at once without
 * coordinating, and counting up inside it keeps the storage cost to one new word per 256 attestations.
 */
export function createNonceSequence(start: bigint = toBigInt(randomBytes(31)) << 8n): () => bigint {
  let next = start;
  return () => next++;
}
