import { z } from "zod";
import type { ApiServices, Caller } from "./context";
import { defineRoute } from "./routes";

const agreementInForce = z.object({
  id: z.string(),
  mah: z.object({ id: z.number().int(), name: z.string() }),
  cmo: z.object({ id: z.number().int(), name: z.string() }),
  product: z.object({ id: z.string(), name: z.string(), productCode: z.string() }).nullable(),
  validFrom: z.number().int(),
  validUntil: z.number().int(),
  releaseTester: z.string(),
});

/**
 * The quality agreements a batch may be recorded under now, as BatchLedger._checkQualityAgreement decides: quality
 * kind, not revoked, approved across provinces where needed, and `now` within its validity.
 */
async function qualityAgreementsInForce(services: ApiServices, caller: Caller) {
  const now = services.now();
  const rows = await services.store.db
    .selectFrom("agreements")
    .innerJoin("organizations as mah", "mah.id", "agreements.mah_id")
    .innerJoin("organizations as cmo", "cmo.id", "agreements.counterparty_id")
    .leftJoin("products", "products.id", "agreements.product_id")
    .select([
      "agreements.id",
      "agreements.mah_id",
      "mah.name as mah_name",
      "agreements.counterparty_id",
      "cmo.name as cmo_name",
      "agreements.product_id",
      "products.name as product_name",
      "products.product_code",
      "agreements.valid_from",
      "agreements.valid_until",
      "agreements.release_tester",
    ])
    .where("agreements.kind", "=", "QUALITY")
    .where("agreements.revoked", "=", 0)
    .where("agreements.approval", "in", ["NOT_REQUIRED", "APPROVED"])
    .where("agreements.valid_from", "<=", now)
    .where("agreements.valid_until", ">", now)
    .where((eb) => eb.or([eb("agreements.counterparty_id", "=", caller.organizationId), eb("agreements.mah_id", "=", caller.organizationId)]))
    .orderBy("agreements.signed_at", "desc")
    .orderBy("agreements.id")
    .execute();
  return rows.map((row) => ({
    id: row.id,
    mah: { id: row.mah_id, name: row.mah_name },
    cmo: { id: row.counterparty_id, name: row.cmo_name },
    product: row.product_name === null ? null : { id: row.product_id, name: row.product_name, productCode: row.product_code ?? "" },
    validFrom: row.valid_from,
    validUntil: row.valid_until,
    releaseTester: row.release_tester,
  }));
}

export const agreementRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/agreements/in-force",
    summary: "The caller's quality agreements in force now (as CMO or MAH): what a batch may be recorded under",
    tags: ["batches"],
    access: "organization",
    response: z.object({ items: z.array(agreementInForce) }),
    async handle({ caller, services }) {
      return { items: await qualityAgreementsInForce(services, caller!) };
    },
  }),
];
