import { finished } from "node:stream/promises";
import type { Request, RequestHandler } from "express";
import { z } from "zod";
import type { ApiServices, Caller } from "./context";
import { readableBatch } from "./batches";
import { badInput, LedgerError, unauthenticated } from "../ledger/errors";
import type { DocumentCaller, DocumentVault } from "../quality/documents";
import { bytes32, organizationId, wholeNumber } from "./schemas";
import { defineRoute } from "./routes";

export const DOCUMENTS_PATH = "/v1/documents";

const documentView = z.object({
  hash: z.string().meta({ description: "keccak-256 of the document's bytes: its address, as the ledger records it" }),
  record: z
    .object({ transactionHash: z.string(), blockNumber: z.number().int(), logIndex: z.number().int(), event: z.string(), field: z.string() })
    .meta({ description: "the ledger event that records the document's hash, and the field that holds it" }),
  batchId: z.string().nullable(),
  agreementId: z.string().nullable(),
  ownerId: z.number().int().meta({ description: "the organization that signed the attestation: it grants and revokes readers" }),
  uploadedBy: z.number().int(),
  uploadedAt: z.number().int(),
  fileName: z.string(),
  mediaType: z.string(),
  size: z.number().int(),
  readers: z.array(z.number().int()).meta({ description: "organizations the document's key is wrapped for" }),
});

const accessView = z.object({
  organizationId: z.number().int(),
  action: z.enum(["upload", "download", "grant", "revoke"]),
  outcome: z.enum(["done", "refused"]),
  detail: z.string().nullable(),
  at: z.number().int(),
});

const hashParams = z.object({ hash: bytes32 });
const base64 = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64")
  .meta({ description: "the document's bytes, base64" });

/** The vault, and the caller as it knows callers; both are required by every document route. */
function vaultFor(services: ApiServices, caller: Caller | undefined): { vault: DocumentVault; who: DocumentCaller } {
  if (!caller) throw unauthenticated("TOKEN_REQUIRED", "sign in as an organization to use quality documents");
  if (!services.documents) throw new LedgerError("internal", "DOCUMENTS_NOT_CONFIGURED", "this server keeps no quality documents");
  return { vault: services.documents, who: { organizationId: caller.organizationId, role: caller.role } };
}

export const documentRoutes = [
  defineRoute({
    method: "post",
    path: DOCUMENTS_PATH,
    summary:
      "Upload a quality document for the ledger event that records its hash (upload once: the same bytes again answer the stored document); encrypted at rest, readable by the attestation's parties and their provinces' regulators",
    tags: ["documents"],
    access: "organization",
    body: z
      .object({
        record: z
          .object({ transactionHash: bytes32, logIndex: wholeNumber(0, 2_147_483_647) })
          .optional()
          .meta({ description: "the ledger event the document is uploaded for" }),
        batchId: bytes32.optional().meta({ description: "instead of record: the batch one of whose events records the document's hash" }),
        fileName: z.string().min(1).max(200),
        mediaType: z.string().min(1).max(100).default("application/octet-stream"),
        content: base64,
      })
      .refine((body) => (body.record === undefined) !== (body.batchId === undefined), { message: "name either record or batchId", path: ["record"] }),
    response: z.object({ created: z.boolean().meta({ description: "false when the document was already stored" }), document: documentView }),
    errors: {
      403: "the caller is not a party to the attestation (NOT_RECORD_PARTY), or not a reader of the stored document",
      404: "no ledger event at that position",
      422: "the document's hash is not the one the event records (DOCUMENT_HASH_MISMATCH), or no event of the batch records it (DOCUMENT_NOT_ON_LEDGER)",
    },
    async handle({ body, caller, services }) {
      const { vault, who } = vaultFor(services, caller);
      const content = Buffer.from(body.content, "base64");
      if (content.length === 0) throw badInput("EMPTY_DOCUMENT", "the document is empty", "content");
      const record = body.record ?? { batchId: body.batchId! };
      return vault.upload(who, { record, content, fileName: body.fileName, mediaType: body.mediaType });
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/documents/:hash",
    summary: "A quality document's metadata, for its readers",
    tags: ["documents"],
    access: "organization",
    params: hashParams,
    response: documentView,
    errors: { 403: "not a reader of the document", 404: "no such document" },
    async handle({ params, caller, services }) {
      const { vault, who } = vaultFor(services, caller);
      return vault.metadata(who, params.hash);
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/documents/:hash/content",
    summary: "Download a quality document (decrypted for its reader; every download and every refusal is audited)",
    tags: ["documents"],
    access: "organization",
    params: hashParams,
    response: z.object({ document: documentView, content: z.string().meta({ description: "the document's bytes, base64" }) }),
    errors: {
      403: "not a reader of the document (the refusal is audited)",
      404: "no such document",
      500: "DOCUMENT_DAMAGED: the stored ciphertext fails its GCM tag",
    },
    async handle({ params, caller, services }) {
      const { vault, who } = vaultFor(services, caller);
      const { document, content } = await vault.download(who, params.hash);
      return { document, content: content.toString("base64") };
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/documents/:hash/audit",
    summary: "Every upload, download (served or refused), grant and revocation of a document: for its owner, its uploader and its regulators",
    tags: ["documents"],
    access: "organization",
    params: hashParams,
    response: z.object({ items: z.array(accessView) }),
    errors: { 403: "not the document's owner, uploader or regulator", 404: "no such document" },
    async handle({ params, caller, services }) {
      const { vault, who } = vaultFor(services, caller);
      return { items: await vault.audit(who, params.hash) };
    },
  }),
  defineRoute({
    method: "post",
    path: "/v1/documents/:hash/readers",
    summary: "The document's owner grants an organization read access (its key is wrapped for that organization)",
    tags: ["documents"],
    access: "organization",
    params: hashParams,
    body: z.object({ organizationId }),
    response: documentView,
    errors: { 403: "not the document's owner", 404: "no such document or organization" },
    async handle({ params, body, caller, services }) {
      const { vault, who } = vaultFor(services, caller);
      return vault.grant(who, params.hash, body.organizationId);
    },
  }),
  defineRoute({
    method: "delete",
    path: "/v1/documents/:hash/readers/:organizationId",
    summary: "The document's owner revokes an organization's read access (its wrapped key is deleted)",
    tags: ["documents"],
    access: "organization",
    params: z.object({ hash: bytes32, organizationId }),
    response: documentView,
    errors: { 403: "not the document's owner", 404: "no such document", 409: "the owner stays a reader" },
    async handle({ params, caller, services }) {
      const { vault, who } = vaultFor(services, caller);
      return vault.revoke(who, params.hash, params.organizationId);
    },
  }),
  defineRoute({
    method: "get",
    path: "/v1/batches/:batchId/documents",
    summary: "The quality documents of a batch that the caller may read",
    tags: ["documents"],
    access: "organization",
    params: z.object({ batchId: bytes32 }),
    response: z.object({ items: z.array(documentView) }),
    errors: { 403: "the caller has no part in the batch", 404: "no such batch" },
    async handle({ params, caller, services }) {
      const { vault, who } = vaultFor(services, caller);
      await readableBatch(services, caller, params.batchId);
      return { items: await vault.ofBatch(who, params.batchId) };
    },
  }),
];

/** The largest document the raw upload takes: the vault encrypts a document whole, in memory. */
export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;

const rawUploadQuery = z
  .object({
    batchId: bytes32.optional(),
    transactionHash: bytes32.optional(),
    logIndex: z.coerce.number().int().min(0).max(2_147_483_647).optional(),
    fileName: z.string().min(1).max(200),
    mediaType: z.string().min(1).max(100).default("application/octet-stream"),
  })
  .refine((q) => (q.batchId === undefined) !== (q.transactionHash === undefined), {
    message: "name either batchId or transactionHash",
    path: ["batchId"],
  })
  .refine((q) => (q.transactionHash === undefined) === (q.logIndex === undefined), { message: "transactionHash needs logIndex", path: ["logIndex"] });

/**
 * The raw form of POST /v1/documents, mounted before the JSON routes: the body is the document's bytes
 * (application/octet-stream), read as they arrive up to MAX_DOCUMENT_BYTES, with what the JSON form carries beside
 * the content in the query (batchId, or transactionHash and logIndex; fileName; mediaType). No base64 and no JSON
 * body limit; the same checks, errors and answer as the JSON form.
 */
export function documentRawUpload(
  services: ApiServices,
  authenticate: (req: Request, required: boolean) => Promise<Caller | undefined>,
): RequestHandler {
  return async (req, res, next) => {
    if (!req.is("application/octet-stream")) return next();
    try {
      const caller = await authenticate(req, true);
      const { vault, who } = vaultFor(services, caller);
      const query = rawUploadQuery.safeParse(req.query);
      if (!query.success) {
        const issue = query.error.issues[0]!;
        throw badInput("INVALID_INPUT", `${issue.path.join(".")}: ${issue.message}`, issue.path.join("."));
      }
      const { batchId, transactionHash, logIndex, fileName, mediaType } = query.data;
      const content = await bodyBytes(req);
      if (content.length === 0) throw badInput("EMPTY_DOCUMENT", "the document is empty", "content");
      const record = batchId ? { batchId } : { transactionHash: transactionHash!, logIndex: logIndex! };
      const answer = await vault.upload(who, { record, content, fileName, mediaType });
      res.json(answer);
    } catch (error) {
      // Refused before or while reading: read the rest before answering, as a client sending its whole body expects.
      req.resume();
      await finished(req).catch(() => undefined);
      next(error);
    }
  };
}

/** The request body's bytes, read a chunk at a time; refused once it passes MAX_DOCUMENT_BYTES. */
async function bodyBytes(req: Request): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DOCUMENT_BYTES) throw badInput("DOCUMENT_TOO_LARGE", `a document is at most ${MAX_DOCUMENT_BYTES} bytes`, "content");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The octet-stream request body of POST /v1/documents, added to the OpenAPI document beside the JSON one. */
export function documentRawUploadBody(document: { paths: Record<string, Record<string, unknown>> }) {
  const operation = document.paths[DOCUMENTS_PATH]!.post as { requestBody: { content: Record<string, unknown> }; parameters?: unknown[] };
  operation.requestBody.content["application/octet-stream"] = {
    schema: {
      type: "string",
      format: "binary",
      description:
        "the document's bytes, streamed (at most 32 MiB); the query carries batchId (or transactionHash and logIndex), fileName and mediaType",
    },
  };
}
