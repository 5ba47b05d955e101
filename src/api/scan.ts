import { z } from "zod";
import { createKeccak } from "hash-wasm";
import type { IHasher } from "hash-wasm";
import { CODE_FORMATS, CodeError, detectFormat, MAX_CODE_LENGTH, parseCode } from "../codes";
import type { TraceCode } from "../codes";
import { badInput, HOLD_STATUSES, judgePack, notOnLedger, unknownSerial, VERDICTS } from "../ledger";
import type { Judgement } from "../ledger";
import { scanReads } from "../store/scan-reads";
import type { Custodian } from "../store/scan-reads";
import type { BatchRow } from "../store/queries";
import type { ApiServices, Caller } from "./context";
import { custodyTextOf } from "./custody-texts";
import { ledgerEntry } from "./schemas";
import { defineRoute } from "./routes";
import { containerView, judgeBatchFor, scanContainer } from "./cases";

const scanAnswer = z.object({
  verdict: z.enum(VERDICTS),
  reason: z.string().meta({ description: "why, in words a pharmacist can act on" }),
  reasonZh: z.string().optional().meta({ description: "the same reason in Chinese, for pages and apps that speak it" }),
  code: z.object({
    format: z.string(),
    canonicalKey: z.string(),
    productCode: z.string().nullable(),
    ignoredAis: z.array(z.string()).optional().meta({
      description:
        "GS1 AIs the code carries that the ledger does not read ((7003), (240), (714) NHRN, (3103), (22), …), in order; read, checked and left out of the verdict",
    }),
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
      hold: z.enum(HOLD_STATUSES).meta({ description: "the batch's latest hold: ON_HOLD while held short of a recall" }),
    })
    .nullable(),
  custody: z.array(ledgerEntry).optional().meta({ description: "signed hand-overs of the batch (signed-in callers with a part in it)" }),
  proof: z
    .object({ packId: z.string(), root: z.string(), proof: z.array(z.string()) })
    .optional()
    .meta({ description: "Merkle proof of the pack against the batch's on-chain codes root: check with BatchLedger.isPackOfBatch" }),
  container: containerView.optional().meta({ description: "a scanned case or pallet (SSCC): what it holds now" }),
});

type ScanAnswer = z.input<typeof scanAnswer>;

const scanBody = z.object({
  code: z
    .string()
    .min(1)
    .max(MAX_CODE_LENGTH)
    .meta({ description: "the code as the scanner sends it: NMPA, GS1 element string (with ]d2 and GS), HRI or Digital Link" }),
  format: z.enum(CODE_FORMATS).optional().meta({ description: "force a format when the text is ambiguous" }),
  place: z.string().trim().min(1).max(200).optional().meta({
    description: "where a signed-in organization scanned: its premises, warehouse or device, as it names them; kept for the early-warning rules",
  }),
});
type ScanBody = z.output<typeof scanBody>;

export const scanRoute = defineRoute({
  method: "post",
  path: "/v1/scans",
  summary:
    "Scan a pack's code: genuine, unknown (a serial no batch of a registered product has: maybe counterfeit), not on " +
    "this ledger (a product it does not hold: verify elsewhere), not released, recalled, on hold, expired, dispensed or in the wrong hands",
  tags: ["scan"],
  access: "public",
  body: scanBody,
  response: scanAnswer,
  handle: async ({ body, caller, services }) => withCustodyEntries(await answerScan(services, caller, body)),
});

/** The scan route's answer (express's and the fast path's): the verdict, recorded for a signed-in scanner. */
export async function answerScan(services: ApiServices, caller: Caller | undefined, body: ScanBody): Promise<ScanResult> {
  const result = await scan(services, caller, body.code, body.format);
  if (caller) await services.observations?.record(caller, { ...result.answer, place: body.place }, services.now());
  return result;
}

export const scanRoutes = [scanRoute];

/** The verdict on one scanned code, with what the caller may see of its batch. */
export async function scan(
  services: ApiServices,
  caller: Caller | undefined,
  text: string,
  format?: (typeof CODE_FORMATS)[number],
): Promise<ScanResult> {
  const code = parse(text, format);
  const codeView: ScanAnswer["code"] = { format: format ?? detectFormat(text).format, canonicalKey: code.key, productCode: code.productCode };
  if (code.scheme === "gs1" && code.ignoredAis) codeView.ignoredAis = code.ignoredAis;
  if (code.kind !== "pack") return scannedContainer(services, caller, code, codeView);
  const reads = scanReads(services.store.db);
  const pack = await packIdOf(code.key);
  const found = await reads.pack(code.key, pack, code.productCode);
  if (!found.batch) {
    const { productName } = found;
    // An NMPA code has no check digit: a typing slip reads as another well-formed code, so say where to look.
    const typed = code.scheme === "nmpa";
    const judgement = productName === undefined ? notOnLedger(code.productCode, typed) : unknownSerial(productName, code.productCode!, typed);
    return { answer: answerOf(judgement, codeView, undefined) };
  }
  const { batch, packState } = found;
  const custodian = caller && isInspector(caller, batch) ? undefined : caller && (await reads.custodian(batch, caller.organizationId));
  const printed = code.scheme === "gs1" ? { batch: code.batch, expiryDate: code.expiry?.iso } : {};
  const judgement = judgePack(
    printed,
    {
      batch: {
        batchNumber: batch.batch_number,
        expiresAt: batch.expires_at,
        state: batch.state,
        recallStatus: batch.recall_status,
        recallLevel: batch.recall_level,
        onHold: batch.hold_status === "ON_HOLD",
      },
      packState: packState ?? "ACTIVE",
      unverifiedAttestations: batch.unverified_attestations,
      suspectReported: batch.suspect.wholeBatch || batch.suspect.packs.includes(pack),
      scanner: caller && { organizationId: caller.organizationId, expected: custodian === undefined || custodian.holds || custodian.receiving },
    },
    services.now(),
  );
  const answer = answerOf(judgement, codeView, batch);
  if (!caller || !mayReadScanned(caller, batch, custodian)) return { answer };
  const custody = await custodyTextOf(services, batch);
  const proof = await services.codes.proof(batch.id, code.key, pack);
  if (proof) answer.proof = { packId: pack, root: batch.codes_root, proof };
  return { answer, custody };
}

/**
 * A scan's answer and, when the caller may read its batch, the batch's custody path as its kept JSON text: answered
 * as it is kept, not parsed into the answer and written again for every scan (src/api/custody-texts.ts).
 */
export type ScanResult = { answer: ScanAnswer; custody?: Buffer };

/**
 * The answer's JSON, to the byte as JSON.stringify writes it in UTF-8: its text, or its bytes with the custody path's
 * spliced in. The custody path and the proof are the last fields of a pack's answer: it is written without the proof
 * (a field set to undefined is left out, and the answer keeps its shape), and they are appended.
 */
export function scanAnswerBody({ answer, custody }: ScanResult): string | Buffer {
  if (custody === undefined) return JSON.stringify(answer);
  const { proof } = answer;
  answer.proof = undefined;
  const head = JSON.stringify(answer);
  answer.proof = proof;
  const tail = proof === undefined ? "}" : `,"proof":${JSON.stringify(proof)}}`;
  return Buffer.concat([Buffer.from(`${head.slice(0, -1)},"custody":`), custody, Buffer.from(tail)]);
}

/** The answer as express writes it (res.json), with the custody path read back into entries, before the proof. */
function withCustodyEntries({ answer, custody }: ScanResult): ScanAnswer {
  if (custody === undefined) return answer;
  const { proof, ...head } = answer;
  return { ...head, custody: JSON.parse(custody.toString("utf8")) as ScanAnswer["custody"], ...(proof && { proof }) };
}

/** A scanned case or pallet: its batch's verdict for the caller and what it holds now (src/api/cases.ts). */
async function scannedContainer(
  services: ApiServices,
  caller: Caller | undefined,
  code: TraceCode,
  codeView: ScanAnswer["code"],
): Promise<ScanResult> {
  const { judgement, batch, container } = await scanContainer(services, code, async (batch) => {
    const custodian =
      caller && isInspector(caller, batch) ? undefined : caller && (await scanReads(services.store.db).custodian(batch, caller.organizationId));
    const scanner = caller && { organizationId: caller.organizationId, expected: custodian === undefined || custodian.holds || custodian.receiving };
    return { judgement: await judgeBatchFor(services, batch, scanner), mayRead: caller !== undefined && mayReadScanned(caller, batch, custodian) };
  });
  const answer = answerOf(judgement, codeView, batch);
  if (batch) answer.container = container;
  return { answer };
}

/**
 * The answer with its batch's facts (null ones without a batch), fields set one by one in the answer's order. Not
 * `{ ...judgement, … }`: Node 20's V8 builds an object spread followed by more fields through a new hidden class
 * each time, about 600 bytes a scan straight into old space, garbage that only a full mark-compact collects: the
 * scan server's pauses (measured in-process: old space +960 bytes a scan before, +65 after).
 */
function answerOf(judgement: Judgement, code: ScanAnswer["code"], batch: BatchRow | undefined): ScanAnswer {
  const answer = { verdict: judgement.verdict, reason: judgement.reason } as ScanAnswer;
  if (judgement.reasonZh !== undefined) answer.reasonZh = judgement.reasonZh;
  answer.code = code;
  answer.product = batch ? { id: batch.product_id, code: batch.product_code, name: batch.product_name, approvalNumber: batch.approval_number } : null;
  answer.mah = batch ? { id: batch.mah_id, name: batch.mah_name } : null;
  answer.batch = batch
    ? {
        id: batch.id,
        batchNumber: batch.batch_number,
        expiresAt: batch.expires_at,
        state: batch.state,
        recall: batch.recall_status === "NONE" ? null : { status: batch.recall_status, level: batch.recall_level },
        hold: batch.hold_status,
      }
    : null;
  return answer;
}

/** Regulators and the batch's MAH inspect: wherever they scan a pack, they are expected there and may read its batch. */
function isInspector(caller: Caller, batch: BatchRow) {
  return caller.role === "REGULATOR" || caller.organizationId === batch.mah_id;
}

/** Who reads the scanned batch: as src/api/access.ts mayReadBatch, from the custodian facts the verdict read. */
function mayReadScanned(caller: Caller, batch: BatchRow, custodian: Custodian | undefined) {
  if (custodian === undefined) return true;
  if (caller.role === "MAH") return false;
  if (caller.role === "CMO") return batch.cmo_id === caller.organizationId;
  return custodian.everInPath;
}

let keccak: Promise<IHasher> | undefined;

/**
 * The pack's id, keccak256(abi.encode(key)) as codes' packId computes it, in WebAssembly: ethers' JavaScript
 * keccak costs a scan more than its database lookup.
 */
export async function packIdOf(canonicalKey: string): Promise<string> {
  const hasher = await (keccak ??= createKeccak(256));
  // The encoding is written into one buffer kept for every scan (the hash is computed before any other scan runs).
  const room = 64 + Buffer.byteLength(canonicalKey) + 32;
  if (encoding.length < room) encoding = abiStringHead(2 * room);
  const length = encoding.write(canonicalKey, 64, "utf8");
  const end = 64 + Math.ceil(length / 32) * 32;
  encoding.fill(0, 64 + length, end);
  encoding.writeUInt32BE(length, 60);
  hasher.init();
  hasher.update(encoding.subarray(0, end));
  return `0x${hasher.digest("hex")}`;
}

/** A buffer for abi.encode(string): the offset 0x20, then the length and the bytes padded to 32 (written per key). */
function abiStringHead(size: number) {
  const buffer = Buffer.alloc(size);
  buffer[31] = 0x20;
  return buffer;
}
let encoding = abiStringHead(1024);

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
