import { CodeError } from "./errors";
import { aiShape } from "./ai-table";
import { addAnyField, gs1CodeFromReading, newReading, type Gs1ParseOptions, type Gs1Reading } from "./gs1";
import type { Gs1Pack, LogisticUnit } from "./types";

/** GS1's own resolver: the domain printed when the caller names none. */
export const DEFAULT_DIGITAL_LINK_DOMAIN = "https://id.gs1.org";

/** GS1 Digital Link primary keys (the Syntax Dictionary's `dlpkey` AIs); this ledger identifies by 00 and 01. */
const PRIMARY_KEYS: ReadonlySet<string> = new Set([
  "00",
  "01",
  "253",
  "255",
  "401",
  "402",
  "414",
  "415",
  "417",
  "8003",
  "8004",
  "8006",
  "8010",
  "8013",
  "8017",
  "8018",
]);
/** Key qualifiers of a GTIN must follow it in this order in the path (Syntax Dictionary: 01 dlpkey=22,10,21). */
const GTIN_QUALIFIER_RANK: Readonly<Record<string, number>> = { "22": 1, "10": 2, "21": 3 };
/** Keys and key qualifiers travel in the path; every other AI is a data attribute, in the query string. */
const PATH_AIS: ReadonlySet<string> = new Set([...PRIMARY_KEYS, "22", "10", "21", "235", "254", "7040", "8011", "8019", "8020"]);
/** GS1 Digital Link accepts GTIN-8, -12 and -13 in the path; they are the GTIN-14 with leading zeros. */
const GTIN_LENGTHS: readonly number[] = [8, 12, 13, 14];

type Segment = { text: string; position: number };

function isDigits(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return text.length > 0;
}

function badUri(message: string, position: number): CodeError {
  return new CodeError("CODE_BAD_URI", message, { position });
}

function decode(raw: string, position: number): string {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badUri(`malformed percent-encoding in ${JSON.stringify(raw)} at position ${position}`, position);
  }
}

/** Splits the path into segments, remembering where each starts; a trailing slash adds nothing. */
function pathSegments(uri: string, start: number, end: number): Segment[] {
  const segments: Segment[] = [];
  let from = start + 1;
  while (from <= end) {
    const slash = uri.indexOf("/", from);
    const to = slash < 0 || slash > end ? end : slash;
    segments.push({ text: uri.slice(from, to), position: from });
    from = to + 1;
  }
  if (segments.length > 0 && (segments[segments.length - 1] as Segment).text === "") segments.pop();
  return segments;
}

/**
 * Where the AI/value pairs start, found as the GS1 Barcode Syntax Engine does: walking back from the end a pair at
 * a time while each pair starts with an AI, the first primary key met (the rightmost) is the root. What precedes it
 * is the resolver's own prefix, even a segment that reads /01/ (https://example.com/01/shop/01/{GTIN}/21/{serial}).
 */
function primaryKeyIndex(segments: Segment[]): number {
  for (let i = segments.length - 2; i >= 0; i -= 2) {
    const text = (segments[i] as Segment).text;
    if (!isDigits(text) || aiShape(text) === undefined) return -1;
    if (PRIMARY_KEYS.has(text)) return i;
  }
  return -1;
}

function parsePath(segments: Segment[], reading: Gs1Reading): void {
  const keyIndex = primaryKeyIndex(segments);
  if (keyIndex < 0) throw badUri("the path has no /01/{GTIN} or /00/{SSCC}", segments[0]?.position ?? 0);
  const primary = (segments[keyIndex] as Segment).text;
  if (primary !== "01" && primary !== "00") {
    throw badUri(
      `the path's key is (${primary}): this ledger identifies packs by /01/{GTIN} and units by /00/{SSCC}`,
      (segments[keyIndex] as Segment).position,
    );
  }
  let lastRank = 0;
  for (let i = keyIndex; i < segments.length; i += 2) {
    const aiSegment = segments[i] as Segment;
    const valueSegment = segments[i + 1] as Segment;
    const ai = aiSegment.text;
    let value = decode(valueSegment.text, valueSegment.position);
    if (i > keyIndex) lastRank = checkQualifier(primary, ai, lastRank, aiSegment.position);
    if (ai === "01" && GTIN_LENGTHS.includes(value.length)) value = value.padStart(14, "0");
    addAnyField(reading, ai, { value, position: valueSegment.position }, aiSegment.position);
  }
}

function checkQualifier(primary: "01" | "00", ai: string, lastRank: number, position: number): number {
  const rank = primary === "01" ? GTIN_QUALIFIER_RANK[ai] : undefined;
  if (rank === undefined) {
    throw new CodeError(
      "CODE_MISPLACED_AI",
      `(${ai}) cannot follow /${primary}/ in the path${PATH_AIS.has(ai) ? "" : "; it belongs in the query string"}`,
      { field: ai, position },
    );
  }
  if (rank <= lastRank) {
    throw new CodeError("CODE_BAD_PATH_ORDER", `(${ai}) is out of order in the path: the order is /01/{GTIN}/22/{CPV}/10/{batch}/21/{serial}`, {
      field: ai,
      position,
    });
  }
  return rank;
}

function parseQuery(uri: string, start: number, end: number, reading: Gs1Reading): void {
  let from = start;
  while (from < end) {
    const amp = uri.indexOf("&", from);
    const to = amp < 0 || amp > end ? end : amp;
    const equals = uri.indexOf("=", from);
    const name = uri.slice(from, equals < 0 || equals > to ? to : equals);
    if (isDigits(name)) {
      if (aiShape(name) === undefined)
        throw new CodeError("CODE_UNKNOWN_AI", `unknown Application Identifier ${name} in the query at position ${from}: GS1 defines no such AI`, {
          field: name,
          position: from,
        });
      if (PATH_AIS.has(name))
        throw new CodeError("CODE_MISPLACED_AI", `(${name}) must be in the path, not in the query`, { field: name, position: from });
      const valueStart = equals < 0 || equals > to ? to : equals + 1;
      addAnyField(reading, name, { value: decode(uri.slice(valueStart, to), valueStart), position: valueStart }, from);
    }
    // Non-numeric parameters (linkType, context, …) steer the resolver and are not part of the code.
    from = to + 1;
  }
}

/** Parses `https://any.domain[/prefix]/01/{gtin}[/10/{batch}]/21/{serial}[?17=YYMMDD]` or `…/00/{sscc}`. */
export function parseDigitalLink(uri: string, options: Gs1ParseOptions = {}): Gs1Pack | LogisticUnit {
  const schemeEnd = uri.indexOf("://");
  const scheme = schemeEnd < 0 ? "" : uri.slice(0, schemeEnd).toLowerCase();
  if (scheme !== "https" && scheme !== "http") throw badUri("a GS1 Digital Link starts with https:// or http://", 0);
  const pathStart = uri.indexOf("/", schemeEnd + 3);
  if (pathStart <= schemeEnd + 3) throw badUri("the URI has no domain or no path", schemeEnd + 3);
  const hash = uri.indexOf("#", pathStart);
  const end = hash < 0 ? uri.length : hash;
  const question = uri.indexOf("?", pathStart);
  const pathEnd = question < 0 || question > end ? end : question;
  const reading = newReading();
  parsePath(pathSegments(uri, pathStart, pathEnd), reading);
  if (pathEnd < end) parseQuery(uri, pathEnd + 1, end, reading);
  return gs1CodeFromReading(reading, options);
}

/** Percent-encodes everything but RFC 3986 unreserved characters, as GS1 Digital Link requires for CSET 82. */
function encodeValue(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function toDigitalLink(code: Gs1Pack | LogisticUnit, domain = DEFAULT_DIGITAL_LINK_DOMAIN): string {
  const base = domain.endsWith("/") ? domain.slice(0, -1) : domain;
  if (code.kind === "logistic-unit") return `${base}/00/${code.sscc}`;
  let uri = `${base}/01/${code.gtin}`;
  if (code.batch !== undefined) uri += `/10/${encodeValue(code.batch)}`;
  uri += `/21/${encodeValue(code.serial)}`;
  const query: string[] = [];
  if (code.expiry !== undefined) query.push(`17=${code.expiry.yymmdd}`);
  if (code.productionDate !== undefined) query.push(`11=${code.productionDate.yymmdd}`);
  return query.length === 0 ? uri : `${uri}?${query.join("&")}`;
}
