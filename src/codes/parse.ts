import { CodeError } from "./errors";
import { DEFAULT_DIGITAL_LINK_DOMAIN, parseDigitalLink, toDigitalLink } from "./digital-link";
import { GROUP_SEPARATOR, parseElementString, parseHri, toElementString, toHri } from "./gs1";
import { NMPA_CODE_LENGTH, parseNmpa } from "./nmpa";
import type { CodeFormat, TraceCode } from "./types";

export type ParseOptions = {
  /** Skip detection: the caller knows the format (e.g. a bare 20-character GS1 element string). */
  format?: CodeFormat;
  /** The product the code must belong to: a 7-digit NMPA drug identification code or a GTIN-14. */
  productCode?: string;
  /** Year that two-digit GS1 years are read against; defaults to the current year. */
  referenceYear?: number;
};

/** Symbology identifiers (ISO/IEC 15424) that announce GS1 data, where FNC1 separators are meaningful. */
const GS1_SYMBOLOGIES = ["]d2", "]Q3", "]C1", "]e0"];
/** Plain-data symbologies: an NMPA code printed as Code 128, DataMatrix or QR, or a Digital Link in a QR code. */
const PLAIN_SYMBOLOGIES = ["]C0", "]d1", "]Q1"];

type Detected = { format: CodeFormat; start: number };

/** Digits, perhaps grouped by spaces or hyphens as a person types them: the shape of a typed NMPA code. */
function isTypedDigits(text: string, from: number): boolean {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 48 || c > 57) && c !== 32 && c !== 45) return false;
  }
  return true;
}

function detectContent(text: string, start: number, allowGs1: boolean): CodeFormat {
  const first = text.charCodeAt(start) | 0x20; // lower case
  if (first === 104 && /^https?:\/\//i.test(text.slice(start, start + 8))) return "digital-link";
  if (!allowGs1) return "nmpa";
  if (text[start] === "(") return "hri";
  if (text.includes(GROUP_SEPARATOR)) return "element-string";
  const length = text.length - start;
  if (length === NMPA_CODE_LENGTH) return "nmpa";
  // Digits (perhaps typed in groups) but not starting like a GS1 pack or SSCC: a mistyped NMPA code deserves an
  // NMPA error ("check the digits"), not a GS1 one.
  const ai = text.slice(start, start + 2);
  return isTypedDigits(text, start) && ai !== "01" && ai !== "00" ? "nmpa" : "element-string";
}

/**
 * Which format a scanned text is in. A bare 20-character text is read as an NMPA code: a GS1 element string of
 * exactly 20 characters is only recognised with its symbology identifier (]d2), a group separator, or `format`.
 */
export function detectFormat(text: string): Detected {
  if (text.startsWith("]")) {
    const symbology = text.slice(0, 3);
    if (GS1_SYMBOLOGIES.includes(symbology)) return { format: "element-string", start: 3 };
    if (PLAIN_SYMBOLOGIES.includes(symbology)) return { format: detectContent(text, 3, false), start: 3 };
    throw new CodeError("CODE_BAD_SYMBOLOGY", `symbology identifier ${JSON.stringify(symbology)} carries neither GS1 data nor an NMPA code`, {
      position: 0,
    });
  }
  return { format: detectContent(text, 0, true), start: 0 };
}

function shifted(error: unknown, offset: number): unknown {
  if (!(error instanceof CodeError) || offset === 0 || error.position === undefined) return error;
  const details = error.field === undefined ? { position: error.position + offset } : { position: error.position + offset, field: error.field };
  return new CodeError(error.code, error.message, details);
}

const NO_OPTIONS = {};

function parseAs(format: CodeFormat, text: string, start: number, options: ParseOptions): TraceCode {
  const gs1Options = options.referenceYear === undefined ? NO_OPTIONS : { referenceYear: options.referenceYear };
  if (format === "element-string") {
    // A leading group separator is FNC1 in first position, as some scanners transmit it.
    return parseElementString(text, text.charCodeAt(start) === 29 ? start + 1 : start, gs1Options);
  }
  const body = start === 0 ? text : text.slice(start);
  try {
    if (format === "nmpa") return parseNmpa(body);
    if (format === "hri") return parseHri(body, gs1Options);
    return parseDigitalLink(body, gs1Options);
  } catch (error) {
    throw shifted(error, start);
  }
}

function checkProduct(code: TraceCode, productCode: string): void {
  if (code.productCode === productCode) return;
  const what = code.kind === "logistic-unit" ? "a logistic unit (SSCC)" : `product ${code.productCode}`;
  throw new CodeError("CODE_PRODUCT_MISMATCH", `code belongs to ${what}, expected product ${productCode}`, {
    field: code.scheme === "nmpa" ? "nmpa" : "01",
    position: 0,
  });
}

/**
 * The longest code text the API accepts, scanned or registered: a GS1 element string or Digital Link is far shorter,
 * so a longer text is refused before it is parsed.
 */
export const MAX_CODE_LENGTH = 512;

/** Parses and validates whatever a scanner sends; throws CodeError with a stable code and position. */
export function parseCode(scanned: string, options: ParseOptions = NO_OPTIONS): TraceCode {
  let text = scanned;
  while (text.endsWith("\n") || text.endsWith("\r")) text = text.slice(0, -1); // scanner suffix
  if (text.length === 0) throw new CodeError("CODE_EMPTY", "the code is empty", { position: 0 });
  const detected = options.format === undefined ? detectFormat(text) : { format: options.format, start: 0 };
  const code = parseAs(detected.format, text, detected.start, options);
  if (options.productCode !== undefined) checkProduct(code, options.productCode);
  return code;
}

export type FormatOptions = {
  /** Resolver domain (and optional path prefix) for Digital Link URIs. */
  domain?: string;
  /** Prefix of element strings; "]d2" by default, "" for none. */
  symbologyId?: string;
};

/** The formats a code can be printed in: NMPA codes have one, GS1 codes three. */
export function formatsOf(code: TraceCode): CodeFormat[] {
  return code.scheme === "nmpa" ? ["nmpa"] : ["element-string", "hri", "digital-link"];
}

export function formatCode(code: TraceCode, format: CodeFormat, options: FormatOptions = {}): string {
  if (code.scheme === "nmpa") {
    if (format === "nmpa") return code.nmpa;
  } else if (format === "element-string") {
    return toElementString(code, options.symbologyId ?? "]d2");
  } else if (format === "hri") {
    return toHri(code);
  } else if (format === "digital-link") {
    return toDigitalLink(code, options.domain ?? DEFAULT_DIGITAL_LINK_DOMAIN);
  }
  throw new CodeError("CODE_FORMAT_UNSUPPORTED", `a ${code.scheme === "nmpa" ? "NMPA" : "GS1"} code cannot be printed as ${format}`, {
    field: format,
  });
}
