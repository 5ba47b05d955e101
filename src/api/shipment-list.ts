import { z } from "zod";
import { unauthenticated } from "../ledger/errors";
import { defineRoute } from "./routes";

const party = z.object({ id: z.number().int(), name: z.string() });

/**
 * The caller's own shipments, on their way to it or sent by it: what a warehouse or pharmacy receives next, and the
 * details its receipt must repeat (batch, shipper, shipped quantity). A shipment's full record is GET /v1/shipments/:id.
 */
export const shipmentListRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/shipments",
    summary: "The caller's shipments: incoming (addressed to it) or outgoing (sent by it), in transit or received, newest first",
    tags: ["custody"],
    access: "organization",
    query: z.object({
      direction: z.enum(["incoming", "outgoing"]).default("incoming"),
      status: z.enum(["IN_TRANSIT", "RECEIVED"]).default("IN_TRANSIT"),
    }),
    response: z.object({
      items: z.array(
        z.object({
          id: z.string(),
          batch: z.object({ id: z.string(), batchNumber: z.string(), productName: z.string(), expiresAt: z.number().int() }),
          shipper: party,
          addressee: party,
          quantity: z.number().int(),
          codesRoot: z.string().nullable().meta({ description: "Merkle root of the shipped packs' codes, when the shipper committed them" }),
          status: z.enum(["IN_TRANSIT", "RECEIVED"]),
          receivedQuantity: z.number().int().nullable(),
          shippedAt: z.number().int(),
          receivedAt: z.number().int().nullable(),
        }),
      ),
    }),
    async handle({ query, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in to list your shipments");
      const rows = await services.store.db
        .selectFrom("shipments")
        .innerJoin("batches", "batches.id", "shipments.batch_id")
        .innerJoin("products", "products.id", "batches.product_id")
        .innerJoin("organizations as shipper", "shipper.id", "shipments.shipper_id")
        .innerJoin("organizations as addressee", "addressee.id", "shipments.recipient_id")
        .selectAll("shipments")
        .select([
          "batches.batch_number",
          "batches.expires_at",
          "products.name as product_name",
          "shipper.name as shipper_name",
          "addressee.name as addressee_name",
        ])
        .where(query.direction === "incoming" ? "shipments.recipient_id" : "shipments.shipper_id", "=", caller.organizationId)
        .where("shipments.status", "=", query.status)
        .orderBy("shipments.shipped_at", "desc")
        .orderBy("shipments.id")
        .limit(500)
        .execute();
      return {
        items: rows.map((row) => ({
          id: row.id,
          batch: { id: row.batch_id, batchNumber: row.batch_number, productName: row.product_name, expiresAt: row.expires_at },
          shipper: { id: row.shipper_id, name: row.shipper_name },
          addressee: { id: row.recipient_id, name: row.addressee_name },
          quantity: row.quantity,
          codesRoot: /^0x0+$/.test(row.codes_root) ? null : row.codes_root,
          status: row.status as "IN_TRANSIT" | "RECEIVED",
          receivedQuantity: row.received_quantity,
          shippedAt: row.shipped_at,
          receivedAt: row.received_at,
        })),
      };
    },
  }),
];
