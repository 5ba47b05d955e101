import { finished } from "node:stream/promises";
import type { Request, RequestHandler } from "express";
import { z } from "zod";
import { createKeccak } from "hash-wasm";
import type { IHasher } from "hash-wasm";
import type { Kysely } from "kysely";
import { CODE_FORMATS, CodeError, detectFormat, parseCode } from "../codes";
import type { TraceCode } from "../codes";
import { checkBatchAccess, mayReadBatch } from "./access";
import type { CodeLine } from "./codebook";
import type { ApiServices, Caller } from "./context";
import { badInput, CUSTODY_EVENTS, notAllowed } from "../ledger";
import type { Database } from "../store";
import { batchQuery, preparedQuery, toLedgerEntries } from "./read-model";
import type { BatchRow } from "./read-model";
import { ledgerEntry, bytes32 } from "./schemas";
import { defineRoute } from "./routes";
import { findBatch } from "./batches";
import { describeExpiry, isExpired, printedExpiryMismatch } from "../ledger/expiry";

/** The longest code text accepted for registration: a GS1 element string or Digital Link is far shorter. */
const MAX_CODE_LENGTH = 512;

export const VERDICTS = [
  "GENUINE",
  "UNKNOWN_CODE",
  "NOT_ON_LEDGER",
  "NOT_RELEASED",
  "RECALLED",
  "EXPIRED",
  "ALREADY_DISPENSED",
  "UNEXPECTED_HOLDER",
] as const;
export type Verdict = (typeof VERDICTS)[number];

const scanAnswer = z.object({
  verdict: z.enum(VERDICTS),
  reason: z.string().meta({ description: "why, in words a pharmacist can act on" }),
  code: z.object({
    format: z.string(),
    canonicalKey: z.string(),
    productCode: z.string().nullable(),
    ignoredAis: z
      .array(z.string())
      .optional()
      .meta({ description: "GS1 AIs the code carries that the ledger does not read ((7003), (240), (714) NHRN, (3103), (22), …), in order; read, checked and left out of the verdict" }),
  }),
  product: z.object({ id: z.string(), code: z.string(), name: z.string(), approvalNumber: z.string() }).nullable(),
  mah: z.object({ id: z.number().int(), name: z.string() }).nullable(),
  batch: z
    .object({
      id: z.string(),
      batchNumber: z.string(),
      expiresAt: z.number().int(),
      state: z.string(),
      recall: z.object({ status: z.string(), level: z.string().nullable() }).nullable(),
    })
    .nullable(),
  custody: z.array(ledgerEntry).optional().meta({ description: "signed hand-overs of the batch (signed-in callers with a part in it)" }),
  proof: z
    .object({ packId: z.string(), root: z.string(), proof: z.array(z.string()) })
    .optional()
    .meta({ description: "Merkle proof of the pack against the batch's on-chain codes root: check with BatchLedger.isPackOfBatch" }),
});

type ScanAnswer = z.input<typeof scanAnswer>;

export const CODES_PATH = "/v1/batches/:batchId/codes";

const CODES_ERRORS = {
  403: "only the batch's MAH or CMO registers its codes",
  404: "no such batch",
  409: "codes already registered",
  422: "the codes do not hash to the on-chain root",
};

export const scanRoutes = [
  defineRoute({
    method: "post",
    path: "/v1/scans",
    summary:
      "Scan a pack's code: genuine, unknown (a serial no batch of a registered product has: maybe counterfeit), not on " +
      "this ledger (a product it does not hold: verify elsewhere), not released, recalled, expired, dispensed or in the wrong hands",
    tags: ["scan"],
    access: "public",
    body: z.object({
      code: z.string().min(1).max(512).meta({ description: "the code as the scanner sends it: NMPA, GS1 element string (with ]d2 and GS), HRI or Digital Link" }),
      format: z.enum(CODE_FORMATS).optional().meta({ description: "force a format when the text is ambiguous" }),
      place: z
        .string()
        .trim()
        .min(1)
        .max(200)
        .optional()
        .meta({ description: "where a signed-in organization scanned: its premises, warehouse or device, as it names them; kept for the early-warning rules" }),
    }),
    response: scanAnswer,
    async handle({ body, caller, services }) {
      const answer = await scan(services, caller, body.code, body.format);
      if (caller) await services.observations?.record(caller, { ...answer, place: body.place }, services.now());
      return answer;
    },
  }),
  defineRoute({
    method: "post",
    path: CODES_PATH,
    summary:
      "Register a batch's serial codes; refused unless they hash to the root the CMO committed on-chain. Send a JSON list " +
      "for a few codes, or a text/plain body of one code per line, streamed, for any number (10,000,000 take about " +
      "5 minutes, during which this API server's database is busy: register large batches on a server that is not answering scans)",
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
 * read a chunk at a time and each code parsed and hashed as it arrives, so the number of codes is bounded by disk,
 * not by a body limit or memory. Same checks, errors and all-or-nothing registration as the JSON form.
 */
export function codesTextUpload(services: ApiServices, authenticate: (req: Request, required: boolean) => Promise<Caller | undefined>): RequestHandler {
  return async (req, res, next) => {
    if (!req.is("text/plain")) return next();
    try {
      const caller = await authenticate(req, true);
      const { batchId } = z.object({ batchId: bytes32 }).parse(req.params);
      const batch = await codesRegistrar(services, caller, batchId);
      const registered = await services.codes.registerLines({ batchId: batch.id, lines: bodyLines(req), by: caller!.organizationId, now: services.now() });
      res.status(201).json({ batchId: batch.id, ...registered });
    } catch (error) {
      // Refused mid-body: read the rest before answering, as a client that sends its whole body first expects.
      req.resume();
      await finished(req).catch(() => undefined);
      next(error);
    }
  };
}

/** The body's non-blank lines, numbered from 1, read as they arrive. */
async function* bodyLines(req: Request): AsyncGenerator<CodeLine> {
  req.setEncoding("utf8");
  let carry = "";
  let line = 0;
  const numbered = (text: string): CodeLine => ({ text, where: `line ${line}`, field: `line.${line}` });
  // Not destroyed on an early return: a refusal still reads the rest of the body before answering.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<string>) {
    const parts = (carry + chunk).split("\n");
    carry = parts.pop()!;
    // A code is at most MAX_CODE_LENGTH characters: a body that never ends its line must not grow without bound.
    if (carry.length > MAX_CODE_LENGTH + 2) {
      throw badInput("CODE_TOO_LONG", `line ${line + parts.length + 1}: longer than ${MAX_CODE_LENGTH} characters`, `line.${line + parts.length + 1}`);
    }
    for (const part of parts) {
      line++;
      const text = (line === 1 ? part.replace(/^\uFEFF/, "") : part).replace(/\r$/, "");
      if (text.trim() !== "") yield numbered(text);
    }
  }
  line++;
  const last = carry.replace(/\r$/, "");
  if (last.trim() !== "") yield numbered(line === 1 ? last.replace(/^\uFEFF/, "") : last);
}

/** The text/plain request body of the codes route, added to the OpenAPI document beside the JSON one. */
export function documentCodesUpload(document: { paths: Record<string, Record<string, unknown>> }) {
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

/** The verdict on one scanned code, most urgent first: a recall outranks everything a pack could otherwise be. */
export async function scan(services: ApiServices, caller: Caller | undefined, text: string, format?: (typeof CODE_FORMATS)[number]): Promise<ScanAnswer> {
  const code = parse(text, format);
  const codeView = {
    format: format ?? detectFormat(text).format,
    canonicalKey: code.key,
    productCode: code.productCode,
    ...(code.scheme === "gs1" && code.ignoredAis ? { ignoredAis: code.ignoredAis } : {}),
  };
  const unknown = (reason: string): ScanAnswer => ({ verdict: "UNKNOWN_CODE", reason, code: codeView, product: null, mah: null, batch: null });
  if (code.kind !== "pack") return unknown("logistic units (SSCC) are not registered with this ledger; scan the packs");
  const { db } = services.store;
  const pack = await packIdOf(code.key);
  const batch = (await db.executeQuery(queriesOf(db).pack({ key: code.key, pack }))).rows[0];
  if (!batch) {
    const product = (await db.executeQuery(queriesOf(db).product({ productCode: code.productCode }))).rows[0];
    // An NMPA code has no check digit: a typing slip reads as another well-formed code, so say where to look.
    const typed = code.scheme === "nmpa";
    if (product) {
      return unknown(`no batch of ${product.name} (${code.productCode}) contains this code: it may be counterfeit${typed ? "; if it was typed, check the digits first" : ""}`);
    }
    // A product this ledger does not hold says nothing about the pack: not a counterfeit verdict.
    return {
      ...unknown(
        `this ledger does not hold product ${code.productCode}; verify the pack with its MAH or the national drug traceability platform` +
          (typed ? ` (if the code was typed, check its first 7 digits, the product's code)` : ""),
      ),
      verdict: "NOT_ON_LEDGER",
    };
  }
  const answer: ScanAnswer = {
    ...(await judge(services, caller, code, batch, Boolean(batch.pack_dispensed))),
    code: codeView,
    product: { id: batch.product_id, code: batch.product_code, name: batch.product_name, approvalNumber: batch.approval_number },
    mah: { id: batch.mah_id, name: batch.mah_name },
    batch: {
      id: batch.id,
      batchNumber: batch.batch_number,
      expiresAt: batch.expires_at,
      state: batch.state,
      recall: batch.recall_status === "NONE" ? null : { status: batch.recall_status, level: batch.recall_level },
    },
  };
  if (caller && (await mayReadBatch(services, caller, batch))) {
    answer.custody = await custodyOf(services, batch.id);
    const proof = await services.codes.proof(batch.id, code.key);
    if (proof) answer.proof = { packId: pack, root: batch.codes_root, proof };
  }
  return answer;
}

/** The scan path's queries, compiled once per database (see preparedQuery). */
const scanQueries = new WeakMap<Kysely<Database>, ReturnType<typeof compileScanQueries>>();

function queriesOf(db: Kysely<Database>) {
  let queries = scanQueries.get(db);
  if (!queries) scanQueries.set(db, (queries = compileScanQueries(db)));
  return queries;
}

function compileScanQueries(db: Kysely<Database>) {
  return {
    // One statement per scan: the code's batch and whether the pack was dispensed. The code is looked up in a
    // subquery rather than joined: SQLite plans the five-way join with per-run setup that costs a scan more than
    // three times as much, found or not.
    pack: preparedQuery(["key", "pack"], (slot) =>
      batchQuery(db)
        .select((eb) => eb.exists(eb.selectFrom("dispensed_packs").select("dispensed_packs.pack").where("dispensed_packs.pack", "=", slot.pack)).as("pack_dispensed"))
        .where("batches.id", "=", (eb) => eb.selectFrom("batch_codes").select("batch_codes.batch_id").where("batch_codes.canonical_key", "=", slot.key)),
    ),
    product: preparedQuery(["productCode"], (slot) => db.selectFrom("products").select("name").where("product_code", "=", slot.productCode)),
  };
}

let keccak: Promise<IHasher> | undefined;

/**
 * The pack's id, keccak256(abi.encode(key)) as codes' packId computes it, in WebAssembly: ethers' JavaScript
 * keccak costs a scan more than its database lookup.
 */
export async function packIdOf(canonicalKey: string): Promise<string> {
  const hasher = await (keccak ??= createKeccak(256));
  const bytes = Buffer.from(canonicalKey, "utf8");
  const encoded = Buffer.alloc(64 + Math.ceil(bytes.length / 32) * 32);
  encoded[31] = 0x20;
  encoded.writeUInt32BE(bytes.length, 60);
  bytes.copy(encoded, 64);
  hasher.init();
  hasher.update(encoded);
  return `0x${hasher.digest("hex")}`;
}

async function judge(
  services: ApiServices,
  caller: Caller | undefined,
  code: TraceCode & { kind: "pack" },
  batch: BatchRow,
  packDispensed: boolean,
): Promise<{ verdict: Verdict; reason: string }> {
  const label = printedMismatch(code, batch);
  if (label) return { verdict: "UNKNOWN_CODE", reason: `${label}: the pack may be counterfeit` };
  if (batch.recall_status !== "NONE") {
    return { verdict: "RECALLED", reason: `batch ${batch.batch_number} is under a level ${batch.recall_level} recall: quarantine the pack and do not sell it` };
  }
  if (packDispensed) return { verdict: "ALREADY_DISPENSED", reason: "this pack was already dispensed: a second scan suggests a copied code" };
  if (isExpired(batch.expires_at, services.now())) return { verdict: "EXPIRED", reason: `batch ${batch.batch_number} expired: it was valid to the end of ${describeExpiry(batch.expires_at)}` };
  if (batch.state !== "MARKET_RELEASED") return { verdict: "NOT_RELEASED", reason: `batch ${batch.batch_number} has not been released to the market by its MAH` };
  if (caller && !(await expectedHolder(services, caller, batch))) {
    return { verdict: "UNEXPECTED_HOLDER", reason: `organization ${caller.organizationId} neither holds batch ${batch.batch_number} nor has a shipment of it on the way` };
  }
  return { verdict: "GENUINE", reason: `a released pack of batch ${batch.batch_number}, expiring ${describeExpiry(batch.expires_at)}` };
}

/** Regulators and the MAH inspect; anyone else scanning should hold the batch or be receiving it. */
async function expectedHolder(services: ApiServices, caller: Caller, batch: BatchRow) {
  if (caller.role === "REGULATOR" || caller.organizationId === batch.mah_id) return true;
  const holding = await services.store.db
    .selectFrom("holdings")
    .select("quantity")
    .where("batch_id", "=", batch.id)
    .where("organization_id", "=", caller.organizationId)
    .executeTakeFirst();
  if ((holding?.quantity ?? 0) > 0) return true;
  const incoming = await services.store.db
    .selectFrom("shipments")
    .select("id")
    .where("batch_id", "=", batch.id)
    .where("recipient_id", "=", caller.organizationId)
    .where("status", "=", "IN_TRANSIT")
    .executeTakeFirst();
  return incoming !== undefined;
}

/** A batch or expiry printed on the pack that is not the batch's own. */
function printedMismatch(code: TraceCode & { kind: "pack" }, batch: BatchRow): string | undefined {
  if (code.scheme !== "gs1") return undefined;
  if (code.batch !== undefined && code.batch !== batch.batch_number) {
    return `the pack says batch ${code.batch}, but its serial belongs to batch ${batch.batch_number}`;
  }
  return code.expiry === undefined ? undefined : printedExpiryMismatch(code.expiry.iso, batch.expires_at);
}

async function custodyOf(services: ApiServices, batchId: string) {
  const events = await services.store.db
    .selectFrom("ledger_events")
    .selectAll()
    .where("batch_id", "=", batchId)
    .where("name", "in", CUSTODY_EVENTS)
    .orderBy("block_number")
    .orderBy("log_index")
    .execute();
  return toLedgerEntries(services.store.db, events);
}

function parse(text: string, format?: (typeof CODE_FORMATS)[number]): TraceCode {
  try {
    return parseCode(text, format ? { format } : {});
  } catch (error) {
    if (error instanceof CodeError) {
      const where = error.position === undefined ? "" : ` (at character ${error.position})`;
      throw badInput(error.code, `${error.message}${where}`, error.field ? `code.${error.field}` : "code");
    }
    throw error;
  }
}
