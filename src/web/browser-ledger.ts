/**
 * What the pages' scripts take from the ledger's protocol, bundled for the browser (src/web/ledger-bundle.ts) and
 * served as /assets/ledger.js: the catalogue's EIP-712 types, the domains, signing and nonces, the relay's address
 * and the refusal words. The pages sign exactly what the CLI signs, from the same code.
 */
export { actorFieldOf, attestationSpec } from "../ledger/catalogue";
export { domainOf } from "../ledger/domain";
export type { Deployment } from "../ledger/domain";
export { createNonceSequence, signAttestation } from "../ledger/sign";
export type { Attestation } from "../ledger/sign";
export { RELAY_PATH } from "../ledger/relay-path";
export type { RelayResult, Established } from "../ledger/wire";
export { REFUSAL_TITLES } from "../ledger/refusal-titles";
export { INSPECTION_GRADES, INSPECTION_SCOPES, PackState, PERSON_ROLES } from "../ledger/vocabulary";
export { releaseSigner } from "../ledger/release-gates";
