import { z } from "zod";
import { CodeError, MAX_CODE_LENGTH, parseCode } from "../codes";
import { badInput, notFound } from "../ledger/errors";
import { readableBatch } from "./batches";
import { bytes32 } from "./schemas";
import { defineRoute } from "./routes";

const MAX_PACKS = 1_000;

/**
 * Pack proofs for signers that hold no copy of the batch's codes (a pharmacy's browser): the registered codes'
 * tree answers one multiproof for the scanned packs, which a dispensing or pack state change carries. A proof is
 * public knowledge to the batch's parties and proves only membership; the contract checks it against the root.
 */
export const packProofRoutes = [
  defineRoute({
    method: "post",
    path: "/v1/batches/:batchId/pack-proofs",
    summary: "One multiproof that scanned packs are among a batch's registered codes, with their pack ids in its order (for dispensing)",
    tags: ["codes"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    body: z.object({
      codes: z.array(z.string().min(1).max(MAX_CODE_LENGTH)).min(1).max(MAX_PACKS).meta({ description: "the packs' codes as scanned" }),
    }),
    response: z.object({
      packs: z.array(bytes32).meta({ description: "pack ids (keccak-256 of the canonical code) in the multiproof's order" }),
      proof: z.array(bytes32),
      proofFlags: z.array(z.boolean()),
    }),
    errors: { 403: "the caller has no part in the batch", 404: "no such batch, or its codes are not registered here" },
    async handle({ params, body, caller, services }) {
      await readableBatch(services, caller, params.batchId);
      const keys = body.codes.map((text, index) => {
        try {
          return parseCode(text).key;
        } catch (error) {
          if (error instanceof CodeError) throw badInput(error.code, `code ${index + 1} (${text}): ${error.message}`, `codes.${index}`);
          throw error;
        }
      });
      const duplicate = keys.findIndex((key, index) => keys.indexOf(key) !== index);
      if (duplicate >= 0) throw badInput("CODE_DUPLICATE", `code ${duplicate + 1} (${body.codes[duplicate]}) is scanned twice`, `codes.${duplicate}`);
      const registered = await services.store.db
        .selectFrom("code_trees")
        .select("batch_id")
        .where("batch_id", "=", params.batchId)
        .executeTakeFirst();
      if (!registered) {
        throw notFound("CODES_NOT_REGISTERED", `batch ${params.batchId} has no codes registered on this server: its CMO or MAH registers them`);
      }
      for (const [index, key] of keys.entries()) {
        if ((await services.codes.proof(params.batchId, key)) === undefined) {
          throw badInput("CODE_NOT_IN_BATCH", `code ${index + 1} (${body.codes[index]}) is not one of this batch's packs`, `codes.${index}`);
        }
      }
      const proved = (await services.codes.multiProof(params.batchId, keys))!;
      return proved;
    },
  }),
];
