import { createDecoder } from "./decode";
import type { Deployment, LedgerEvent, UndecodableLog } from "./decode";
import { signaturesReady } from "./signatures";
import type { ChainLog } from "./sync";
import { recoverAll } from "./verify";
export { recoverAll } from "./verify";
import type { RecoveredSigners } from "./verify";

/** A range's logs decoded, and the signer each attestation's signature recovers to (undefined: not recovered). */
export type PreparedLogs = { decoded: (LedgerEvent | UndecodableLog)[]; recovered?: RecoveredSigners[] };

/** Loads what preparing needs (the WebAssembly keccak); until then digests fall back to a slower keccak. */
export const preparationReady = signaturesReady;

/**
 * All the work on a range that needs no database, on the calling thread: ABI decoding, EIP-712 digests and
 * secp256k1 recovery. The preparation pool (prepare-pool.ts) does the same with the recovery in its workers, which
 * load this module for it. With `recover` false (deferred verification) the signers are left for later.
 */
export function prepareLogs(logs: ChainLog[], deployment: Deployment, recover = true): PreparedLogs {
  const decoded = logs.map(createDecoder(deployment));
  return recover ? { decoded, recovered: recoverAll(decoded, deployment.chainId) } : { decoded };
}
