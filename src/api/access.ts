import type { BatchTable } from "../store";
import type { ApiServices, Caller } from "./context";
import { notAllowed, unauthenticated } from "../ledger/errors";

/**
 * Who reads a batch: regulators everything; its MAH and its CMO; a distributor or dispenser that held it or was
 * sent it.
 */
export async function mayReadBatch(services: ApiServices, caller: Caller, batch: Pick<BatchTable, "id" | "mah_id" | "cmo_id">) {
  if (caller.role === "REGULATOR") return true;
  if (caller.role === "MAH") return batch.mah_id === caller.organizationId;
  if (caller.role === "CMO") return batch.cmo_id === caller.organizationId;
  return heldBy(services, batch.id, caller.organizationId);
}

export async function checkBatchAccess(services: ApiServices, caller: Caller | undefined, batch: Pick<BatchTable, "id" | "mah_id" | "cmo_id">) {
  if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in as an organization to read a batch");
  if (!(await mayReadBatch(services, caller, batch))) {
    throw notAllowed("NOT_YOUR_BATCH", `organization ${caller.organizationId} has no part in batch ${batch.id}`);
  }
}

/** Whether the organization ever held the batch or was sent it (a holding row stays after it ships all out). */
export async function heldBy(services: ApiServices, batchId: string, organizationId: number) {
  const { db } = services.store;
  const holding = await db
    .selectFrom("holdings")
    .select("batch_id")
    .where("batch_id", "=", batchId)
    .where("organization_id", "=", organizationId)
    .executeTakeFirst();
  if (holding) return true;
  const shipment = await db
    .selectFrom("shipments")
    .select("id")
    .where("batch_id", "=", batchId)
    .where("recipient_id", "=", organizationId)
    .executeTakeFirst();
  return shipment !== undefined;
}

export function checkOwnOrRegulator(caller: Caller | undefined, organizationId: number) {
  if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in as an organization");
  if (caller.role !== "REGULATOR" && caller.organizationId !== organizationId) {
    throw notAllowed("NOT_YOUR_ORGANIZATION", `organization ${caller.organizationId} may not read organization ${organizationId}'s data`);
  }
}
