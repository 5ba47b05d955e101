import { z } from "zod";
import { checkOwnOrRegulator } from "./access";
import { notFound } from "../ledger/errors";
import { organizationId } from "./schemas";
import { defineRoute } from "./routes";

export const organizationRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/organizations/:organizationId",
    summary: "A consortium member: role, province, status and signing keys",
    tags: ["organizations"],
    access: "public",
    params: z.object({ organizationId }),
    response: z.object({
      id: z.number().int(),
      name: z.string(),
      role: z.string(),
      region: z.number().int(),
      status: z.enum(["ACTIVE", "SUSPENDED"]),
      licenceHash: z.string(),
      onboardedBy: z.number().int(),
      onboardedAt: z.number().int(),
      keys: z.array(z.object({ address: z.string(), revoked: z.boolean() })),
    }),
    errors: { 404: "no such organization" },
    async handle({ params, services }) {
      const { db } = services.store;
      const row = await db.selectFrom("organizations").selectAll().where("id", "=", params.organizationId).executeTakeFirst();
      if (!row) throw notFound("UNKNOWN_ORGANIZATION", `no organization ${params.organizationId} is on the ledger`);
      const keys = await db.selectFrom("signing_keys").selectAll().where("organization_id", "=", row.id).orderBy("added_at").execute();
      return {
        id: row.id,
        name: row.name,
        role: row.role,
        region: row.region,
        status: row.status as "ACTIVE" | "SUSPENDED",
        licenceHash: row.licence_hash,
        onboardedBy: row.onboarded_by,
        onboardedAt: row.onboarded_at,
        keys: keys.map((k) => ({ address: k.address, revoked: k.revoked === 1 })),
      };
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/organizations/:organizationId/inventory",
    summary: "What an organization holds, per batch",
    tags: ["organizations"],
    access: "organization",
    params: z.object({ organizationId }),
    query: z.object({ includeEmpty: z.enum(["true", "false"]).default("false").meta({ description: "include batches it no longer holds" }) }),
    response: z.object({
      organizationId: z.number().int(),
      holdings: z.array(
        z.object({
          batchId: z.string(),
          batchNumber: z.string(),
          productId: z.string(),
          quantity: z.number().int(),
          expiresAt: z.number().int(),
          state: z.string(),
          recallStatus: z.string(),
          recallAcknowledged: z.boolean(),
        }),
      ),
    }),
    errors: { 403: "another organization's inventory" },
    async handle({ params, query, caller, services }) {
      checkOwnOrRegulator(caller, params.organizationId);
      let q = services.store.db
        .selectFrom("holdings")
        .innerJoin("batches", "batches.id", "holdings.batch_id")
        .select([
          "holdings.batch_id",
          "batches.batch_number",
          "batches.product_id",
          "holdings.quantity",
          "batches.expires_at",
          "batches.state",
          "batches.recall_status",
          "holdings.recall_acknowledged",
        ])
        .where("holdings.organization_id", "=", params.organizationId);
      if (query.includeEmpty === "false") q = q.where("holdings.quantity", ">", 0);
      const rows = await q.orderBy("batches.expires_at").execute();
      return {
        organizationId: params.organizationId,
        holdings: rows.map((row) => ({
          batchId: row.batch_id,
          batchNumber: row.batch_number,
          productId: row.product_id,
          quantity: row.quantity,
          expiresAt: row.expires_at,
          state: row.state,
          recallStatus: row.recall_status,
          recallAcknowledged: row.recall_acknowledged === 1,
        })),
      };
    },
  }),
];
