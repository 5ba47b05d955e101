import * as fs from "node:fs";
import { CodeError, DuplicateCodesError, ImportError, type LineError } from "./errors";
import { createTreeHasher, NODE_BYTES } from "./leaf";
import { parseCode } from "./parse";
import { parseGs1Date } from "./gs1";
import { createTreeWriter, type BuildProgress, type TreeSummary } from "./tree-file";
import type { TraceCode } from "./types";
import { endOfChinaDay, printedExpiryMismatch } from "../ledger/expiry";

export type ImportOptions = {
  /** Where the batch's tree is stored; nothing is written there unless every line is valid. */
  treePath: string;
  /** The batch's product; by default the product of the first valid code, which all others must share. */
  productCode?: string;
  /** The batch number and expiry (YYMMDD) that codes carrying (10) or (17) must show; by default the first seen. */
  batch?: string;
  expiry?: string;
  /** The batch's expiry on the ledger (unix seconds): codes carrying (17) must expire exactly then (src/ledger/expiry). */
  expiresAt?: number;
  /** Line errors kept in the report (all are counted). */
  maxReportedErrors?: number;
  spillThreshold?: number;
  onProgress?: (progress: BuildProgress) => void;
};

export type ImportSummary = TreeSummary & { productCode: string };

/** A code as a file gives it: its line number (from 1) and its text. */
export type CodeFileLine = { line: number; text: string };

const READ_BYTES = 1 << 22;

/** Lines of a file read in large chunks (readline is several times slower at millions of lines). */
function* fileLines(file: string): Generator<CodeFileLine> {
  const fd = fs.openSync(file, "r");
  try {
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    let carry = "";
    let line = 0;
    for (let got = fs.readSync(fd, buffer, 0, READ_BYTES, null); got > 0; got = fs.readSync(fd, buffer, 0, READ_BYTES, null)) {
      const parts = (carry + buffer.toString("utf8", 0, got)).split("\n");
      carry = parts.pop() as string;
      for (const part of parts) yield { line: ++line, text: part.endsWith("\r") ? part.slice(0, -1) : part };
    }
    if (carry !== "") yield { line: ++line, text: carry.endsWith("\r") ? carry.slice(0, -1) : carry };
  } finally {
    fs.closeSync(fd);
  }
}

/** One CSV record's fields (RFC 4180 quoting). */
function csvFields(text: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (c === '"') quoted = !quoted;
    else if (c === "," && !quoted) {
      fields.push(field);
      field = "";
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/**
 * A file is either one code per line, or CSV whose first line is a header naming a `code` column. The choice is
 * made once from the header, never per line: a Digital Link or a batch number may itself contain commas.
 */
export function* codeTexts(file: string): Generator<CodeFileLine> {
  let codeColumn = -1;
  for (const { line, text } of fileLines(file)) {
    const clean = line === 1 ? text.replace(/^\uFEFF/, "") : text;
    if (line === 1) {
      codeColumn = csvFields(clean).findIndex((name) => name.trim().toLowerCase() === "code");
      if (codeColumn >= 0) continue;
    }
    if (clean.trim() === "") continue;
    yield { line, text: codeColumn >= 0 ? (csvFields(clean)[codeColumn] ?? "") : clean };
  }
}

/** What every code of one batch must agree on; unset expectations are taken from the first code. */
type Expectations = { productCode?: string; batch?: string; expiresAt?: number };

function checkBatch(code: TraceCode, expected: Expectations): void {
  if (code.kind !== "pack")
    throw new CodeError("CODE_NOT_A_PACK", `${code.key} is a logistic unit; a batch commits packs`, { field: "00", position: 0 });
  expected.productCode ??= code.productCode;
  if (code.productCode !== expected.productCode) {
    throw new CodeError("CODE_PRODUCT_MISMATCH", `code belongs to product ${code.productCode}, the batch to ${expected.productCode}`, {
      field: code.scheme === "nmpa" ? "nmpa" : "01",
      position: 0,
    });
  }
  if (code.scheme !== "gs1") return;
  if (code.batch !== undefined) {
    expected.batch ??= code.batch;
    if (code.batch !== expected.batch)
      throw new CodeError("CODE_BATCH_MISMATCH", `code shows batch ${code.batch}, the batch is ${expected.batch}`, { field: "10" });
  }
  if (code.expiry !== undefined) {
    // (17) 271200 and 271231 are the same expiry: compared as moments, not as printed.
    expected.expiresAt ??= endOfChinaDay(code.expiry.iso);
    const mismatch = printedExpiryMismatch(code.expiry.iso, expected.expiresAt);
    if (mismatch) throw new CodeError("CODE_EXPIRY_MISMATCH", `${code.key} (17) ${code.expiry.yymmdd}: ${mismatch}`, { field: "17" });
  }
}

function lineError(line: CodeFileLine, error: CodeError): LineError {
  const reported: LineError = { line: line.line, text: line.text, code: error.code, message: error.message };
  if (error.position !== undefined) reported.position = error.position;
  return reported;
}

/** Second pass, only when the tree found duplicates: which lines hold them, and which line came first. */
async function duplicateLines(file: string, duplicates: DuplicateCodesError, limit: number): Promise<ImportError> {
  const hasher = await createTreeHasher();
  const wanted = new Set(duplicates.leaves);
  const firstSeen = new Map<string, number>();
  const leaf = Buffer.allocUnsafe(NODE_BYTES);
  const errors: LineError[] = [];
  let rejected = 0;
  for (const line of codeTexts(file)) {
    hasher.leafInto(parseCode(line.text).key, leaf, 0);
    const hex = `0x${leaf.toString("hex")}`;
    if (!wanted.has(hex)) continue;
    const first = firstSeen.get(hex);
    if (first === undefined) {
      firstSeen.set(hex, line.line);
      continue;
    }
    rejected++;
    if (errors.length < limit) errors.push({ line: line.line, text: line.text, code: "CODE_DUPLICATE", message: `same pack as line ${first}` });
  }
  return new ImportError(errors, rejected);
}

/** Validates every line, then commits all codes or none: the tree file appears only for a clean file. */
export async function importCodes(file: string, options: ImportOptions): Promise<ImportSummary> {
  const limit = options.maxReportedErrors ?? 100;
  const expected: Expectations = { productCode: options.productCode, batch: options.batch, expiresAt: options.expiresAt };
  if (options.expiry !== undefined) expected.expiresAt ??= endOfChinaDay(parseGs1Date("17", options.expiry).iso);
  const writerOptions = { spillThreshold: options.spillThreshold, onProgress: options.onProgress };
  const writer = await createTreeWriter(options.treePath, writerOptions);
  const errors: LineError[] = [];
  let rejected = 0;
  try {
    for (const line of codeTexts(file)) {
      try {
        const code = parseCode(line.text);
        checkBatch(code, expected);
        if (rejected === 0) writer.add(code.key);
      } catch (error) {
        if (!(error instanceof CodeError)) throw error;
        rejected++;
        if (errors.length < limit) errors.push(lineError(line, error));
      }
    }
  } catch (error) {
    writer.abort();
    throw error;
  }
  if (rejected > 0) {
    writer.abort();
    throw new ImportError(errors, rejected);
  }
  try {
    return { ...writer.finish(), productCode: expected.productCode as string };
  } catch (error) {
    if (!(error instanceof DuplicateCodesError)) throw error;
    throw await duplicateLines(file, error, limit);
  }
}
