import { z } from "zod";
import { notAllowed, notFound, unauthenticated } from "../ledger/errors";
import { defineRoute } from "./routes";

const productParams = z.object({ productCode: z.string().regex(/^(\d{7}|\d{14})$/, "a 7-digit NMPA code or a GTIN-14") });
const range = z
  .object({ minCelsius: z.number().min(-100).max(100), maxCelsius: z.number().min(-100).max(100) })
  .refine((r) => r.minCelsius < r.maxCelsius, { message: "minCelsius must be below maxCelsius", path: ["minCelsius"] });

/**
 * A cold-chain product's storage range (its MAH says it, e.g. 2–8 °C): shipments' sensor readings captured in EPCIS
 * outside it raise the `cold_chain_excursion` alert.
 */
export const coldChainRoutes = [
  defineRoute({
    method: "put",
    path: "/v1/products/:productCode/storage-range",
    summary: "Set a product's storage range in °C (its MAH): sensor readings of its shipments outside it raise cold_chain_excursion",
    tags: ["epcis"],
    access: "organization",
    params: productParams,
    body: range,
    response: z.object({ productCode: z.string(), minCelsius: z.number(), maxCelsius: z.number() }),
    errors: { 403: "only the product's MAH", 404: "no such product" },
    async handle({ params, body, caller, services }) {
      if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in as the product's MAH");
      const { db } = services.store;
      const product = await db.selectFrom("products").select(["id", "mah_id"]).where("product_code", "=", params.productCode).executeTakeFirst();
      if (!product) throw notFound("UNKNOWN_PRODUCT", `no product ${params.productCode} is registered`);
      if (product.mah_id !== caller.organizationId)
        throw notAllowed("NOT_PRODUCT_MAH", `only the MAH of product ${params.productCode} sets its storage range`);
      const row = {
        product_id: product.id,
        min_millicelsius: Math.round(body.minCelsius * 1000),
        max_millicelsius: Math.round(body.maxCelsius * 1000),
        set_by: caller.organizationId,
        set_at: services.now(),
      };
      await db
        .insertInto("product_storage_ranges")
        .values(row)
        .onConflict((c) =>
          c
            .column("product_id")
            .doUpdateSet({ min_millicelsius: row.min_millicelsius, max_millicelsius: row.max_millicelsius, set_by: row.set_by, set_at: row.set_at }),
        )
        .execute();
      return { productCode: params.productCode, minCelsius: body.minCelsius, maxCelsius: body.maxCelsius };
    },
  }),
];
