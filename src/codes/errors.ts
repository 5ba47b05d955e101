/**
 * Every rejection of a traceability code carries a stable machine-readable `code` (scanners, the API and
 * scripts branch on it) plus where the problem is: the character position in the scanned text and the field
 * (a GS1 Application Identifier such as "01", or "nmpa"). None of these errors is retryable: the input is wrong.
 */
export const CODE_ERROR_CODES = [
  "CODE_EMPTY",
  "CODE_BAD_LENGTH",
  "CODE_NOT_NUMERIC",
  "CODE_PRODUCT_MISMATCH",
  "CODE_BAD_CHECK_DIGIT",
  "CODE_UNKNOWN_AI",
  "CODE_DUPLICATE_AI",
  "CODE_CONFLICTING_AIS",
  "CODE_MISSING_GTIN",
  "CODE_MISSING_SERIAL",
  "CODE_BAD_DATE",
  "CODE_FIELD_TOO_LONG",
  "CODE_FIELD_TOO_SHORT",
  "CODE_EMPTY_FIELD",
  "CODE_BAD_CHARACTER",
  "CODE_BAD_SYMBOLOGY",
  "CODE_BAD_HRI",
  "CODE_BAD_URI",
  "CODE_BAD_PATH_ORDER",
  "CODE_MISPLACED_AI",
  "CODE_FORMAT_UNSUPPORTED",
  "CODE_NOT_A_PACK",
  "CODE_NOT_A_CONTAINER",
  "CODE_BATCH_MISMATCH",
  "CODE_EXPIRY_MISMATCH",
  "CODE_DUPLICATE",
  "CODE_IMPORT_FAILED",
  "CODE_NOT_IN_BATCH",
  "CODE_BAD_PROOF",
  "CODE_TREE_CORRUPT",
  "CODE_EMPTY_BATCH",
  "CODE_SERIAL_SPACE_EXHAUSTED",
  "CODE_BAD_SERIAL_STATE",
  "CODE_ALREADY_AGGREGATED",
  "CODE_AGGREGATION_CYCLE",
  "CODE_EMPTY_CONTAINER",
  "CODE_NOT_IN_CONTAINER",
] as const;

export type CodeErrorCode = (typeof CODE_ERROR_CODES)[number];

export type CodeErrorDetails = {
  /** 0-based character index in the text that was parsed. */
  position?: number;
  /** GS1 Application Identifier ("01", "21", …), "nmpa", or another named field. */
  field?: string;
};

export class CodeError extends Error {
  readonly code: CodeErrorCode;
  readonly position?: number;
  readonly field?: string;

  constructor(code: CodeErrorCode, message: string, details: CodeErrorDetails = {}) {
    super(message);
    this.name = "CodeError";
    this.code = code;
    if (details.position !== undefined) this.position = details.position;
    if (details.field !== undefined) this.field = details.field;
  }

  toJSON(): { code: CodeErrorCode; message: string; position?: number; field?: string } {
    return { code: this.code, message: this.message, position: this.position, field: this.field };
  }
}

/** One rejected line of an imported codes file. */
export type LineError = { line: number; text: string; code: CodeErrorCode; message: string; position?: number };

/** An import that was refused as a whole; `lines` says which lines are wrong and why. */
export class ImportError extends CodeError {
  readonly lines: LineError[];
  readonly rejectedLines: number;

  constructor(lines: LineError[], rejectedLines: number) {
    const first = lines[0];
    const summary = first ? ` first: line ${first.line}: ${first.message}` : "";
    super("CODE_IMPORT_FAILED", `${rejectedLines} line(s) rejected, nothing imported;${summary}`);
    this.name = "ImportError";
    this.lines = lines;
    this.rejectedLines = rejectedLines;
  }
}

/** The same pack (same canonical key, hence same leaf) appears more than once in a set of codes. */
export class DuplicateCodesError extends CodeError {
  /** Leaf hashes that occur twice or more (at most the first thousand). */
  readonly leaves: string[];

  constructor(leaves: string[]) {
    super("CODE_DUPLICATE", `${leaves.length} code(s) appear more than once; a pack is committed once`);
    this.name = "DuplicateCodesError";
    this.leaves = leaves;
  }
}
