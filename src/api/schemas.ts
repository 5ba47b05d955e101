import { HOLD_STATUSES } from "../ledger/vocabulary";
import { z } from "zod";

export { bytes32 } from "../ledger";

/** The store keeps organization ids and regions as 32-bit signed integers (PostgreSQL `integer`). */
export const INT32_MAX = 2_147_483_647;

/**
 * A whole-number path or query parameter, checked against the column it is compared with: PostgreSQL refuses a
 * value its column type cannot hold with an error, so a value out of range must stop here, answered 400.
 */
export function wholeNumber(min: number, max: number) {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** Organization ids are uint32 on chain, counted from 1, and `integer` in the store. */
export const organizationId = wholeNumber(1, INT32_MAX);

/** Alert and notification ids: `bigint` in the store, as far as a JSON number holds them exactly. */
export const rowId = wholeNumber(1, Number.MAX_SAFE_INTEGER);

export const organizationRef = z.object({
  id: z.number().int(),
  name: z.string(),
  role: z.string(),
  region: z.number().int(),
});

export const batchView = z.object({
  id: z.string(),
  batchNumber: z.string(),
  product: z.object({ id: z.string(), code: z.string(), name: z.string(), approvalNumber: z.string() }),
  mah: organizationRef,
  cmo: organizationRef,
  agreementId: z.string(),
  quantity: z.number().int(),
  manufacturedAt: z.number().int(),
  expiresAt: z.number().int(),
  state: z.enum(["MANUFACTURED", "FACTORY_RELEASED", "MARKET_RELEASED", "REJECTED"]),
  recall: z.object({ status: z.enum(["OPEN", "CLOSED"]), level: z.string() }).nullable(),
  hold: z.enum(HOLD_STATUSES).meta({
    description:
      "the batch's latest hold: ON_HOLD while quarantined short of a recall (nothing ships or is dispensed), RELEASED by its MAH, ESCALATED to a recall",
  }),
  openDeviations: z.number().int(),
  accounts: z
    .object({
      held: z.number().int(),
      inTransit: z.number().int(),
      dispensed: z.number().int(),
      destroyed: z.number().int(),
      stolen: z.number().int().meta({ description: "packs reported stolen" }),
      sampled: z.number().int().meta({ description: "packs taken as samples" }),
      exported: z.number().int().meta({ description: "packs exported from this market" }),
      missing: z.number().int(),
    })
    .meta({ description: "where the recorded quantity is: they always add up to `quantity`" }),
  codesRoot: z.string(),
  recordedAt: z.number().int(),
  factoryReleasedAt: z.number().int().nullable(),
  marketReleasedAt: z.number().int().nullable(),
  releaseRefusal: z
    .object({ at: z.number().int(), reasonHash: z.string() })
    .nullable()
    .meta({ description: "its MAH's recorded refusal of market release (state REJECTED: to be destroyed), if any" }),
});

export type BatchView = z.infer<typeof batchView>;

export const ledgerEntry = z.object({
  at: z.number().int().meta({ description: "block time, unix seconds" }),
  blockNumber: z.number().int(),
  logIndex: z.number().int(),
  txHash: z.string(),
  event: z.string(),
  organization: organizationRef.nullable(),
  signer: z.string().nullable(),
  signerOrganizationId: z.number().int().nullable(),
  verification: z.string().meta({ description: "verified, or why the signature did not check out" }),
  problem: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});
