import { finished } from "node:stream/promises";
import type { Request, RequestHandler } from "express";
import { z } from "zod";
import { MAX_CODE_LENGTH } from "../codes";
import { notAllowed, badInput } from "../ledger";
import { checkBatchAccess } from "./access";
import type { CodeLine } from "./code-spool";
import type { ApiServices, Caller } from "./context";
import { findBatch } from "./batches";
import { bytes32 } from "./schemas";
import { defineRoute } from "./routes";

export const CODES_PATH = "/v1/batches/:batchId/codes";

const CODES_ERRORS = {
  403: "only the batch's MAH or CMO registers its codes",
  404: "no such batch",
  409: "codes already registered, or being registered by another server",
  422: "the codes do not hash to the on-chain root",
};

/** Registering a batch's serial codes (JSON here; the streamed text/plain form is codesTextUpload). */
export const codeRegistrationRoutes = [
  defineRoute({
    method: "post",
    path: CODES_PATH,
    summary:
      "Register a batch's serial codes; refused unless they hash to the root the CMO committed on-chain. Send a JSON list " +
      "for a few codes, or a text/plain body of one code per line, streamed, for any number (the tree is built in a worker " +
      "thread and the rows written in chunks, so the server keeps answering scans; 409 while another server registers the batch)",
    tags: ["batches"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    body: z.object({ codes: z.array(z.string().min(1).max(MAX_CODE_LENGTH)).min(1).max(200_000) }),
    response: z.object({ batchId: z.string(), root: z.string(), count: z.number().int() }),
    status: 201,
    errors: CODES_ERRORS,
    async handle({ params, body, caller, services }) {
      const batch = await codesRegistrar(services, caller, params.batchId);
      const registered = await services.codes.register({ batchId: batch.id, codes: body.codes, by: caller!.organizationId, now: services.now() });
      return { batchId: batch.id, ...registered };
    },
  }),
];

export const CODES_ROOT_PATH = "/v1/codes/root";

const expiresAt = z.coerce
  .number({ error: "must be the batch's expiry in unix seconds" })
  .int({ error: "must be the batch's expiry in unix seconds" })
  .min(1)
  .max(2 ** 40 - 1)
  .meta({ description: "the batch's expiry (its last valid second, unix seconds): a code printing (17) must print it" });

/**
 * The root a batch's codes hash to, before the batch is recorded: what a CMO signing in a browser, which holds no
 * copy of the codes tree, commits in its BatchRecord. Registration after recording checks the same codes against
 * the signed root, so the answer is checked where it matters. JSON for a few codes; text/plain streamed for any number.
 */
export const codesRootRoutes = [
  defineRoute({
    method: "post",
    path: CODES_ROOT_PATH,
    summary:
      "The Merkle root, count and product of a batch's codes, checked as registration checks them, nothing kept: what a CMO " +
      "commits when it records the batch. JSON for a few codes, or text/plain (one a line, streamed, ?expiresAt=) for any number",
    tags: ["batches"],
    access: "organization",
    body: z.object({ codes: z.array(z.string().min(1).max(MAX_CODE_LENGTH)).min(1).max(200_000), expiresAt }),
    response: z.object({ root: z.string(), count: z.number().int(), productCode: z.string() }),
    async handle({ body, services }) {
      return services.codes.rootOf({ codes: { lines: listed(body.codes) }, expiresAt: body.expiresAt });
    },
  }),
];

async function* listed(codes: string[]): AsyncGenerator<CodeLine> {
  for (const [i, text] of codes.entries()) yield { text, where: `codes[${i}]`, field: `codes.${i}` };
}

/** The text/plain form of POST /v1/codes/root: the file streamed, its root answered. */
export function codesRootTextUpload(
  services: ApiServices,
  authenticate: (req: Request, required: boolean) => Promise<Caller | undefined>,
): RequestHandler {
  return async (req, res, next) => {
    if (!req.is("text/plain")) return next();
    try {
      await authenticate(req, true);
      const query = z.object({ expiresAt }).safeParse(req.query);
      if (!query.success) throw badInput("INVALID_INPUT", `expiresAt: ${query.error.issues[0]!.message}`, "expiresAt");
      res.json(await services.codes.rootOf({ codes: { text: bodyChunks(req) }, expiresAt: query.data.expiresAt }));
    } catch (error) {
      req.resume();
      await finished(req).catch(() => undefined);
      next(error);
    }
  };
}

/** The batch whose codes the caller may register: only its MAH or CMO. */
async function codesRegistrar(services: ApiServices, caller: Caller | undefined, batchId: string) {
  const batch = await findBatch(services, batchId);
  await checkBatchAccess(services, caller, batch);
  if (caller!.organizationId !== batch.mah_id && caller!.organizationId !== batch.cmo_id) {
    throw notAllowed("NOT_BATCH_PARTY", "only the batch's MAH or CMO registers its codes");
  }
  return batch;
}

/**
 * The text/plain form of POST /v1/batches/:batchId/codes, mounted before the routes (which read JSON): the body is
 * read a chunk at a time and each code parsed (in a worker thread) and spooled to disk as it arrives, so the number
 * of codes is bounded by disk, not by a body limit or memory. Same checks, errors and all-or-nothing registration as
 * the JSON form.
 */
export function codesTextUpload(
  services: ApiServices,
  authenticate: (req: Request, required: boolean) => Promise<Caller | undefined>,
): RequestHandler {
  return async (req, res, next) => {
    if (!req.is("text/plain")) return next();
    try {
      const caller = await authenticate(req, true);
      const { batchId } = z.object({ batchId: bytes32 }).parse(req.params);
      const batch = await codesRegistrar(services, caller, batchId);
      const registered = await services.codes.registerText({
        batchId: batch.id,
        text: bodyChunks(req),
        by: caller!.organizationId,
        now: services.now(),
      });
      res.status(201).json({ batchId: batch.id, ...registered });
    } catch (error) {
      // Refused mid-body: read the rest before answering, as a client that sends its whole body first expects.
      req.resume();
      await finished(req).catch(() => undefined);
      next(error);
    }
  };
}

/**
 * The body's chunks as they arrive, split into lines and parsed off this thread (src/api/code-spool.ts). Not
 * destroyed on an early return: a refusal still reads the rest of the body before answering.
 */
function bodyChunks(req: Request): AsyncIterable<Uint8Array> {
  return req.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>;
}

/** The text/plain request body of the codes route, added to the OpenAPI document beside the JSON one. */
export function documentCodesUpload(document: { paths: Record<string, Record<string, unknown>> }) {
  const root = document.paths[CODES_ROOT_PATH]!.post as { requestBody: { content: Record<string, unknown> } };
  root.requestBody.content["text/plain"] = {
    schema: { type: "string", description: "one code per line, UTF-8, streamed; the batch's expiry as the query parameter expiresAt (unix seconds)" },
  };
  const operation = document.paths[CODES_PATH.replace(":batchId", "{batchId}")]!.post as { requestBody: { content: Record<string, unknown> } };
  operation.requestBody.content["text/plain"] = {
    schema: {
      type: "string",
      description:
        "one code per line (NMPA, GS1 element string, HRI or Digital Link), UTF-8, streamed: any number of codes; " +
        "a bad code is answered 400 naming its line (field line.N), and nothing is registered",
    },
  };
}
