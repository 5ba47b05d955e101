import { chinaTime } from "../ledger/china-time";
import type { Namer } from "../ledger/refusals";
import type { Store } from "./index";

const INT32_MAX = 2_147_483_647;

/** Names things in refusal messages from the read model; falls back to ids when the store does not know them. */
export function createNamer(store: Store): Namer {
  const { db } = store;
  const lower = (value: unknown) => String(value).toLowerCase();
  const organization = async (id: unknown) => {
    // The store keeps ids as 32-bit signed integers; a larger uint32 names no organization it holds.
    const row =
      Number(id) <= INT32_MAX ? await db.selectFrom("organizations").select("name").where("id", "=", Number(id)).executeTakeFirst() : undefined;
    return row ? `organization ${Number(id)} (${row.name})` : `organization ${Number(id)}`;
  };
  const batch = async (id: unknown) => {
    const row = await db.selectFrom("batches").select("batch_number").where("id", "=", lower(id)).executeTakeFirst();
    return row ? `batch ${row.batch_number}` : `batch ${lower(id)}`;
  };
  return {
    organization,
    batch,
    async keyOwner(address) {
      const row = await db.selectFrom("signing_keys").select("organization_id").where("address", "=", lower(address)).executeTakeFirst();
      return row ? organization(row.organization_id) : "no organization";
    },
    async product(id) {
      const row = await db.selectFrom("products").select(["product_code", "name"]).where("id", "=", lower(id)).executeTakeFirst();
      return row ? `product ${row.product_code} (${row.name})` : `product ${lower(id)}`;
    },
    async recall(batchId) {
      const row = await db.selectFrom("recalls").select(["level", "status"]).where("batch_id", "=", lower(batchId)).executeTakeFirst();
      if (!row) return "recalled";
      return row.status === "OPEN" ? `under a level ${row.level} recall` : `recalled (level ${row.level}, closed)`;
    },
    async shipment(id) {
      const row = await db.selectFrom("shipments").selectAll().where("id", "=", lower(id)).executeTakeFirst();
      if (!row) return "the read model does not know that shipment";
      return `${await organization(row.shipper_id)} shipped ${row.quantity} of ${await batch(row.batch_id)} to ${await organization(row.recipient_id)}`;
    },
    async shipmentState(id) {
      const row = await db.selectFrom("shipments").select(["status", "received_at"]).where("id", "=", lower(id)).executeTakeFirst();
      if (!row) return "it was never shipped";
      return row.received_at === null ? `it is ${row.status.toLowerCase()}` : `it was received at ${chinaTime(row.received_at)}`;
    },
    async packState(pack) {
      const row = await db.selectFrom("pack_states").selectAll().where("pack", "=", lower(pack)).executeTakeFirst();
      if (!row) return "";
      return ` by ${await organization(row.organization_id)} at ${chinaTime(row.changed_at)}`;
    },
    async unacknowledgedHolders(batchId) {
      const rows = await db
        .selectFrom("holdings")
        .innerJoin("organizations", "organizations.id", "holdings.organization_id")
        .select(["organizations.id", "organizations.name", "holdings.quantity"])
        .where("holdings.batch_id", "=", lower(batchId))
        .where("holdings.quantity", ">", 0)
        .where("holdings.recall_acknowledged", "=", 0)
        .orderBy("organizations.id")
        .execute();
      return rows.map((row) => `organization ${row.id} (${row.name}) with ${row.quantity} unaccounted for`).join(", ");
    },
  };
}
