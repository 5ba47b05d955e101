import { aiAt, aiShape, type AiShape } from "./ai-table";
import { CodeError } from "./errors";
import type { Gs1Date, Gs1Pack, LogisticUnit } from "./types";

/** ASCII 29: ends a variable-length field in a GS1 element string (what a scanner sends for FNC1). */
export const GROUP_SEPARATOR = "\u001d";
const GS = 29;

type AiContent = "check-digit" | "date" | "cset82";
type AiSpec = { name: string; length: number; fixed: boolean; content: AiContent };

/**
 * The Application Identifiers the ledger reads from a medicine pack or logistic unit, and how it checks each beyond
 * its GS1 shape (length and predefined length come from ai-table.ts). Any other AI GS1 defines is read by its
 * shape, checked and reported as ignored; an AI GS1 does not define is refused, so a scanner misread never passes
 * as a valid code. All of these are two digits long.
 */
const READ_AIS: Readonly<Record<string, Pick<AiSpec, "name" | "content">>> = {
  "00": { name: "SSCC", content: "check-digit" },
  "01": { name: "GTIN", content: "check-digit" },
  "10": { name: "batch", content: "cset82" },
  "11": { name: "production date", content: "date" },
  "17": { name: "expiry date", content: "date" },
  "21": { name: "serial", content: "cset82" },
};

const AI_SPECS: Readonly<Record<string, AiSpec>> = Object.fromEntries(
  Object.entries(READ_AIS).map(([ai, read]) => {
    const shape = aiShape(ai) as AiShape;
    return [ai, { ...read, length: shape.max, fixed: shape.predefined }];
  }),
);

export type Gs1Ai = "00" | "01" | "10" | "11" | "17" | "21";

/** One AI's value and where its value starts in the scanned text (for error positions). */
export type Gs1Field = { value: string; position: number };
export type Gs1Fields = Partial<Record<Gs1Ai, Gs1Field>>;

/** What a code's AIs give: the fields the ledger reads, and the other AIs found, in order (read and set aside). */
export type Gs1Reading = { fields: Gs1Fields; ignored: string[] };

export function newReading(): Gs1Reading {
  return { fields: {}, ignored: [] };
}

const KNOWN_AIS = new Map(Object.entries(AI_SPECS));

export function isKnownAi(ai: string): ai is Gs1Ai {
  return KNOWN_AIS.has(ai);
}

export function aiSpec(ai: Gs1Ai): AiSpec {
  return KNOWN_AIS.get(ai) as AiSpec;
}

// GS1 AI encodable character set 82 (General Specifications figure 7.11-1).
const CSET82 = new Uint8Array(128);
for (const c of "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz") {
  CSET82[c.charCodeAt(0)] = 1;
}

export function isCset82(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || CSET82[c] === 0) return false;
  }
  return text.length > 0;
}

/** GS1 mod-10 check digit over all digits but the last (weights 3,1,3,… from the right). */
export function gs1CheckDigit(digitsWithoutCheck: string): number {
  let sum = 0;
  let weight = 3;
  for (let i = digitsWithoutCheck.length - 1; i >= 0; i--) {
    sum += (digitsWithoutCheck.charCodeAt(i) - 48) * weight;
    weight = 4 - weight;
  }
  return (10 - (sum % 10)) % 10;
}

/** Appends the check digit: the way a GTIN or SSCC is minted from its company prefix and reference. */
export function withCheckDigit(digitsWithoutCheck: string): string {
  return digitsWithoutCheck + String(gs1CheckDigit(digitsWithoutCheck));
}

function fail(code: ConstructorParameters<typeof CodeError>[0], message: string, ai: string, position: number): never {
  throw new CodeError(code, message, { field: ai, position });
}

function checkDigits(ai: Gs1Ai, field: Gs1Field): void {
  const { value, position } = field;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === GS) fail("CODE_FIELD_TOO_SHORT", `(${ai}) ${aiSpec(ai).name} ends after ${i} of ${aiSpec(ai).length} digits`, ai, position + i);
    if (c < 48 || c > 57)
      fail("CODE_NOT_NUMERIC", `(${ai}) ${aiSpec(ai).name} has a non-digit '${value[i]}' at position ${position + i}`, ai, position + i);
  }
}

function validateCheckDigit(ai: Gs1Ai, field: Gs1Field): void {
  const { value, position } = field;
  const expected = gs1CheckDigit(value.slice(0, -1));
  const last = value.length - 1;
  if (value.charCodeAt(last) - 48 !== expected) {
    fail("CODE_BAD_CHECK_DIGIT", `(${ai}) ${aiSpec(ai).name} ${value} has check digit ${value[last]}, expected ${expected}`, ai, position + last);
  }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** GS1 General Specifications 7.12: a two-digit year lies within 49 years ahead or 50 years behind today. */
function fullYear(yy: number, referenceYear: number): number {
  const century = Math.floor(referenceYear / 100) * 100;
  const difference = yy - (referenceYear % 100);
  if (difference >= 51) return century - 100 + yy;
  if (difference <= -50) return century + 100 + yy;
  return century + yy;
}

function daysIn(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function twoDigits(text: string, at: number): number {
  return (text.charCodeAt(at) - 48) * 10 + text.charCodeAt(at + 1) - 48;
}

function toGs1Date(ai: Gs1Ai, field: Gs1Field, referenceYear: number): Gs1Date {
  const { value, position } = field;
  const yy = twoDigits(value, 0);
  const month = twoDigits(value, 2);
  const day = twoDigits(value, 4);
  if (month < 1 || month > 12) fail("CODE_BAD_DATE", `(${ai}) ${aiSpec(ai).name} ${value} has month ${pad2(month)}`, ai, position + 2);
  const year = fullYear(yy, referenceYear);
  const lastDay = daysIn(year, month);
  if (day > lastDay) fail("CODE_BAD_DATE", `(${ai}) ${aiSpec(ai).name} ${value}: ${year}-${pad2(month)} has no day ${day}`, ai, position + 4);
  return { yymmdd: value, iso: `${year}-${pad2(month)}-${pad2(day === 0 ? lastDay : day)}` };
}

function validateVariable(ai: Gs1Ai, field: Gs1Field): void {
  const { value, position } = field;
  const spec = aiSpec(ai);
  if (value.length === 0) fail("CODE_EMPTY_FIELD", `(${ai}) ${spec.name} is empty`, ai, position);
  if (value.length > spec.length) {
    fail(
      "CODE_FIELD_TOO_LONG",
      `(${ai}) ${spec.name} is ${value.length} characters long, at most ${spec.length} allowed`,
      ai,
      position + spec.length,
    );
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || CSET82[c] === 0) {
      fail(
        "CODE_BAD_CHARACTER",
        `(${ai}) ${spec.name} has character ${JSON.stringify(value[i])} outside the GS1 character set at position ${position + i}`,
        ai,
        position + i,
      );
    }
  }
}

/** Validates one AI value whose length is already known to be right for fixed-length AIs. */
export function validateField(ai: Gs1Ai, field: Gs1Field): void {
  const spec = aiSpec(ai);
  if (!spec.fixed) return validateVariable(ai, field);
  if (field.value.length > spec.length) {
    fail(
      "CODE_FIELD_TOO_LONG",
      `(${ai}) ${spec.name} has ${field.value.length} digits, exactly ${spec.length} expected`,
      ai,
      field.position + spec.length,
    );
  }
  checkDigits(ai, field);
  if (field.value.length < spec.length) {
    fail("CODE_FIELD_TOO_SHORT", `(${ai}) ${spec.name} has ${field.value.length} of ${spec.length} digits`, ai, field.position + field.value.length);
  }
  if (spec.content === "check-digit") validateCheckDigit(ai, field);
}

export function addField(fields: Gs1Fields, ai: Gs1Ai, field: Gs1Field, aiPosition: number): void {
  if (fields[ai] !== undefined) fail("CODE_DUPLICATE_AI", `(${ai}) ${aiSpec(ai).name} appears twice`, ai, aiPosition);
  validateField(ai, field);
  fields[ai] = field;
}

/** Checks a value against the shape GS1 gives its AI: length, and each component's character set. */
function validateShape(ai: string, shape: AiShape, field: Gs1Field): void {
  const { value, position } = field;
  if (value.length === 0) fail("CODE_EMPTY_FIELD", `(${ai}) is empty`, ai, position);
  if (value.length > shape.max)
    fail("CODE_FIELD_TOO_LONG", `(${ai}) is ${value.length} characters long, at most ${shape.max} allowed`, ai, position + shape.max);
  let at = 0;
  for (const part of shape.components) {
    // Only the last component varies in length, so each fixed one takes its length and the last the rest.
    const end = Math.min(value.length, part.min === part.max ? at + part.max : value.length);
    for (let i = at; i < end; i++) {
      // A predefined-length value is cut at its length: FNC1 inside it means it ended early.
      if (value.charCodeAt(i) === GS) fail("CODE_FIELD_TOO_SHORT", `(${ai}) ends after ${i} of ${shape.min} characters`, ai, position + i);
      if (!inCharset(part.charset, value.charCodeAt(i))) {
        const code = part.charset === "N" ? "CODE_NOT_NUMERIC" : "CODE_BAD_CHARACTER";
        fail(
          code,
          `(${ai}) has ${JSON.stringify(value[i])} at position ${position + i}, where ${CHARSET_NAMES[part.charset]} belong`,
          ai,
          position + i,
        );
      }
    }
    at = end;
  }
  if (value.length < shape.min)
    fail("CODE_FIELD_TOO_SHORT", `(${ai}) has ${value.length} of at least ${shape.min} characters`, ai, position + value.length);
}

const CHARSET_NAMES = {
  N: "digits",
  X: "characters of the GS1 character set 82",
  Y: "characters of the GS1 character set 39",
  Z: "characters of the GS1 character set 64",
};

function inCharset(charset: AiShape["components"][number]["charset"], c: number): boolean {
  if (charset === "N") return c >= 48 && c <= 57;
  if (charset === "X") return c < 128 && CSET82[c] === 1;
  if (charset === "Y") return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 35 || c === 45 || c === 47;
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95 || c === 61;
}

/** Adds any AI's value: one the ledger reads is validated as such, any other by its GS1 shape and set aside. */
export function addAnyField(reading: Gs1Reading, ai: string, field: Gs1Field, aiPosition: number): void {
  if (isKnownAi(ai)) return addField(reading.fields, ai, field, aiPosition);
  const shape = aiShape(ai);
  if (shape === undefined) throw unknownAi(ai, aiPosition);
  if (reading.ignored.includes(ai)) fail("CODE_DUPLICATE_AI", `(${ai}) appears twice`, ai, aiPosition);
  validateShape(ai, shape, field);
  reading.ignored.push(ai);
}

export type Gs1ParseOptions = { referenceYear?: number };

const CURRENT_YEAR = new Date().getUTCFullYear();

/** Turns validated AI fields into a pack or a logistic unit, enforcing which AIs must go together. */
export function gs1CodeFromReading({ fields, ignored }: Gs1Reading, options: Gs1ParseOptions = {}): Gs1Pack | LogisticUnit {
  const code = gs1CodeFromFields(fields, options);
  if (ignored.length > 0) code.ignoredAis = ignored;
  return code;
}

function gs1CodeFromFields(fields: Gs1Fields, options: Gs1ParseOptions): Gs1Pack | LogisticUnit {
  const sscc = fields["00"];
  const gtin = fields["01"];
  if (sscc !== undefined) {
    const other = (["01", "10", "11", "17", "21"] as const).find((ai) => fields[ai] !== undefined);
    if (other !== undefined) {
      fail(
        "CODE_CONFLICTING_AIS",
        `(00) SSCC identifies a logistic unit and cannot carry (${other}) ${aiSpec(other).name}`,
        other,
        (fields[other] as Gs1Field).position,
      );
    }
    return { scheme: "gs1", kind: "logistic-unit", key: ssccKey(sscc.value), productCode: null, sscc: sscc.value };
  }
  if (gtin === undefined) {
    const orphan = (["21", "10", "17", "11"] as const).find((ai) => fields[ai] !== undefined);
    const position = orphan === undefined ? 0 : (fields[orphan] as Gs1Field).position;
    fail("CODE_MISSING_GTIN", "no (01) GTIN or (00) SSCC: the code identifies nothing", "01", position);
  }
  const serial = fields["21"];
  if (serial === undefined)
    fail("CODE_MISSING_SERIAL", `(01) GTIN ${gtin.value} has no (21) serial: a pack cannot be traced without one`, "21", gtin.position);
  return packFromFields(gtin.value, serial.value, fields, options.referenceYear ?? CURRENT_YEAR);
}

function packFromFields(gtin: string, serial: string, fields: Gs1Fields, referenceYear: number): Gs1Pack {
  const pack: Gs1Pack = { scheme: "gs1", kind: "pack", key: sgtinKey(gtin, serial), productCode: gtin, gtin, serial };
  if (fields["10"] !== undefined) pack.batch = fields["10"].value;
  if (fields["17"] !== undefined) pack.expiry = toGs1Date("17", fields["17"], referenceYear);
  if (fields["11"] !== undefined) pack.productionDate = toGs1Date("11", fields["11"], referenceYear);
  return pack;
}

/** Validates a GS1 date field on its own (for an import's expected expiry, for instance). */
export function parseGs1Date(ai: "11" | "17", yymmdd: string, referenceYear = CURRENT_YEAR): Gs1Date {
  const field = { value: yymmdd, position: 0 };
  validateField(ai, field);
  return toGs1Date(ai, field, referenceYear);
}

// ---- element strings (what a DataMatrix scanner sends) ----

/** Parses AIs from `start` on; variable-length values end at a group separator or at the end of the text. */
export function parseElementString(text: string, start: number, options: Gs1ParseOptions = {}): Gs1Pack | LogisticUnit {
  const reading = newReading();
  let pos = start;
  while (pos < text.length) {
    if (text.charCodeAt(pos) === GS) {
      pos++; // FNC1 after a fixed-length field, or trailing: harmless
      continue;
    }
    const ai = aiAt(text, pos);
    if (ai === undefined) throw unknownAi(text.slice(pos, pos + 2), pos);
    const shape = aiShape(ai) as AiShape;
    const valueStart = pos + ai.length;
    let valueEnd: number;
    // Only AIs of predefined length may run straight into the next AI; every other value ends at FNC1 or the end.
    if (shape.predefined) {
      valueEnd = Math.min(valueStart + shape.max, text.length);
      pos = valueEnd;
    } else {
      const separator = text.indexOf(GROUP_SEPARATOR, valueStart);
      valueEnd = separator < 0 ? text.length : separator;
      pos = separator < 0 ? text.length : separator + 1;
    }
    addAnyField(reading, ai, { value: text.slice(valueStart, valueEnd), position: valueStart }, valueStart - ai.length);
  }
  return gs1CodeFromReading(reading, options);
}

/** An AI that GS1 does not define: the text cannot be split into fields after it. */
function unknownAi(ai: string, position: number): CodeError {
  return new CodeError(
    "CODE_UNKNOWN_AI",
    `unknown Application Identifier (${ai}) at position ${position}: GS1 defines no AI starting with these digits`,
    { field: ai, position },
  );
}

const PRINT_ORDER: readonly Gs1Ai[] = ["00", "01", "11", "17", "10", "21"];

export function gs1Fields(code: Gs1Pack | LogisticUnit): Array<[Gs1Ai, string]> {
  const values: Partial<Record<Gs1Ai, string>> =
    code.kind === "logistic-unit"
      ? { "00": code.sscc }
      : { "01": code.gtin, "11": code.productionDate?.yymmdd, "17": code.expiry?.yymmdd, "10": code.batch, "21": code.serial };
  const present: Array<[Gs1Ai, string]> = [];
  for (const ai of PRINT_ORDER) {
    const value = values[ai];
    if (value !== undefined) present.push([ai, value]);
  }
  return present;
}

/** Fixed-length AIs first, so only variable-length ones need a group separator (the usual encoder layout). */
export function toElementString(code: Gs1Pack | LogisticUnit, symbologyId = "]d2"): string {
  const fields = gs1Fields(code);
  let text = symbologyId;
  fields.forEach(([ai, value], i) => {
    text += ai + value;
    if (!aiSpec(ai).fixed && i < fields.length - 1) text += GROUP_SEPARATOR;
  });
  return text;
}

// ---- human-readable interpretation, "(01)09506000134352(21)ABC" ----

/**
 * In the bracketed form a literal "(" inside a value is written "\(" (the GS1 Barcode Syntax Engine's
 * convention), because CSET 82 allows parentheses in batches and serials and the plain form would be ambiguous.
 */
function escapeHri(value: string): string {
  return value.includes("(") ? value.replace(/\(/g, "\\(") : value;
}

export function toHri(code: Gs1Pack | LogisticUnit): string {
  return gs1Fields(code)
    .map(([ai, value]) => `(${ai})${escapeHri(value)}`)
    .join("");
}

/** Length of an AI token "(" digits{2,4} ")" at `pos`, or 0 when there is none. */
function aiTokenLength(text: string, pos: number): number {
  if (text.charCodeAt(pos) !== 40) return 0;
  let i = pos + 1;
  while (i < text.length && i - pos <= 5) {
    const c = text.charCodeAt(i);
    if (c === 41) return i - pos - 1 >= 2 ? i - pos + 1 : 0;
    if (c < 48 || c > 57) return 0;
    i++;
  }
  return 0;
}

/** Where the next unescaped AI token starts, or the end of the text. */
function nextAiToken(text: string, from: number): number {
  for (let open = text.indexOf("(", from); open >= 0; open = text.indexOf("(", open + 1)) {
    if (text.charCodeAt(open - 1) !== 92 && aiTokenLength(text, open) > 0) return open;
  }
  return text.length;
}

export function parseHri(text: string, options: Gs1ParseOptions = {}): Gs1Pack | LogisticUnit {
  const reading = newReading();
  let pos = 0;
  while (pos < text.length) {
    const tokenLength = aiTokenLength(text, pos);
    if (tokenLength === 0) {
      throw new CodeError("CODE_BAD_HRI", `expected an Application Identifier in parentheses at position ${pos}`, { position: pos });
    }
    const ai = text.slice(pos + 1, pos + tokenLength - 1);
    if (aiShape(ai) === undefined) throw unknownAi(ai, pos + 1);
    const valueStart = pos + tokenLength;
    pos = nextAiToken(text, valueStart);
    const raw = text.slice(valueStart, pos);
    const value = raw.includes("\\(") ? raw.replace(/\\\(/g, "(") : raw;
    addAnyField(reading, ai, { value, position: valueStart }, valueStart - tokenLength);
  }
  return gs1CodeFromReading(reading, options);
}

// ---- canonical keys ----

/**
 * The canonical key of a GS1 pack is its bracketed GTIN + serial. Parentheses make it impossible to confuse with
 * a 20-digit NMPA code (an unbracketed "01…21xx" with a 2-character serial would be 20 digits too).
 */
export function sgtinKey(gtin: string, serial: string): string {
  return `(01)${gtin}(21)${escapeHri(serial)}`;
}

export function ssccKey(sscc: string): string {
  return `(00)${sscc}`;
}
