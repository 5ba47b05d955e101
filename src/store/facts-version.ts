import { randomBytes } from "node:crypto";

/**
 * A new tag for a batch's facts_version: whatever changes what a scan caches of a batch (the batch row, its product,
 * its MAH and CMO, its unverified attestations) sets a new tag in the same transaction, and a scan trusts its cached
 * facts only while the tag it reads with the code is the one it cached them under.
 *
 * Drawn at random (48 bits) rather than counted: a reorganization rebuilds the read model from its events, and a
 * restored backup brings back older rows, and a counter would then hand out again a value a server's cache holds
 * with other facts. Two random tags agree once in 2^48.
 */
export function newFactsVersion(): number {
  return randomBytes(6).readUIntBE(0, 6);
}
