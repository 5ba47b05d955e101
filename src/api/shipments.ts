import { payloadOf } from "../store";
import { ZeroHash } from "ethers";
import { z } from "zod";
import type { ApiServices, Caller } from "./context";
import { notAllowed, notFound, unauthenticated } from "../ledger/errors";
import { findBatch } from "./batches";
import type { BatchRow } from "../store/queries";
import { bytes32 } from "./schemas";
import { defineRoute } from "./routes";

const party = z.object({ id: z.number().int(), name: z.string() });

const shipmentView = z.object({
  id: z.string(),
  batch: z.object({
    id: z.string(),
    batchNumber: z.string(),
    productId: z.string(),
    productCode: z.string(),
    productName: z.string(),
    mah: party,
    cmo: party,
  }),
  shipper: party,
  addressee: party,
  quantity: z.number().int().meta({ description: "packs shipped" }),
  consignment: z
    .object({ codesRoot: z.string().meta({ description: "Merkle root of the shipped packs' codes" }) })
    .nullable()
    .meta({ description: "the shipped packs, when the shipper committed their codes; null for a count only" }),
  status: z.enum(["IN_TRANSIT", "RECEIVED"]),
  receivedQuantity: z.number().int().nullable().meta({ description: "packs the addressee received (less than shipped: a shortfall)" }),
  shippedAt: z.number().int(),
  receivedAt: z.number().int().nullable(),
  transactions: z.object({ shipped: z.string().nullable(), received: z.string().nullable() }),
});

/** Who reads a shipment: its shipper and addressee, the batch's MAH and CMO, and regulators. */
export function mayReadShipment(caller: Caller, shipment: { shipper_id: number; recipient_id: number }, batch: BatchRow) {
  if (caller.role === "REGULATOR") return true;
  return [shipment.shipper_id, shipment.recipient_id, batch.mah_id, batch.cmo_id].includes(caller.organizationId);
}

/** The transactions that shipped and received the shipment, from the batch's indexed events. */
async function transactionsOf(services: ApiServices, batchId: string, shipmentId: string) {
  const events = await services.store.db
    .selectFrom("ledger_events")
    .select(["name", "tx_hash", "payload"])
    .where("batch_id", "=", batchId)
    .where("name", "in", ["BatchShipped", "ShipmentReceived"])
    .orderBy("block_number")
    .orderBy("log_index")
    .execute();
  const of = (name: string) => events.find((e) => e.name === name && String(payloadOf(e).shipmentId).toLowerCase() === shipmentId)?.tx_hash ?? null;
  return { shipped: of("BatchShipped"), received: of("ShipmentReceived") };
}

/** The shipment's row, or 404. */
export async function findShipment(services: ApiServices, shipmentId: string) {
  const shipment = await services.store.db.selectFrom("shipments").selectAll().where("id", "=", shipmentId).executeTakeFirst();
  if (!shipment) throw notFound("UNKNOWN_SHIPMENT", `no shipment ${shipmentId} is on the ledger`);
  return shipment;
}

export const shipmentRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/shipments/:shipmentId",
    summary: "A shipment: its batch, shipper, addressee, quantity, consignment, whether and how much was received",
    tags: ["custody"],
    access: "organization",
    params: z.object({ shipmentId: bytes32 }),
    response: shipmentView,
    errors: { 403: "only the shipper, the addressee, the batch's MAH and CMO, and regulators read a shipment", 404: "no such shipment" },
    async handle({ params, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to read a shipment");
      const shipment = await services.store.db
        .selectFrom("shipments")
        .innerJoin("organizations as shipper", "shipper.id", "shipments.shipper_id")
        .innerJoin("organizations as recipient", "recipient.id", "shipments.recipient_id")
        .selectAll("shipments")
        .select(["shipper.name as shipper_name", "recipient.name as recipient_name"])
        .where("shipments.id", "=", params.shipmentId)
        .executeTakeFirst();
      if (!shipment) throw notFound("UNKNOWN_SHIPMENT", `no shipment ${params.shipmentId} is on the ledger`);
      const batch = await findBatch(services, shipment.batch_id);
      if (!mayReadShipment(caller, shipment, batch)) {
        throw notAllowed("NOT_YOUR_SHIPMENT", `organization ${caller.organizationId} has no part in shipment ${shipment.id}`);
      }
      return {
        id: shipment.id,
        batch: {
          id: batch.id,
          batchNumber: batch.batch_number,
          productId: batch.product_id,
          productCode: batch.product_code,
          productName: batch.product_name,
          mah: { id: batch.mah_id, name: batch.mah_name },
          cmo: { id: batch.cmo_id, name: batch.cmo_name },
        },
        shipper: { id: shipment.shipper_id, name: shipment.shipper_name },
        addressee: { id: shipment.recipient_id, name: shipment.recipient_name },
        quantity: shipment.quantity,
        consignment: shipment.codes_root === ZeroHash ? null : { codesRoot: shipment.codes_root },
        status: shipment.status as "IN_TRANSIT" | "RECEIVED",
        receivedQuantity: shipment.received_quantity,
        shippedAt: shipment.shipped_at,
        receivedAt: shipment.received_at,
        transactions: await transactionsOf(services, batch.id, shipment.id),
      };
    },
  }),
];
