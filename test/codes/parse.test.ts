import { describe, it } from "vitest";
import { expect } from "chai";
import { CodeError, formatCode, parseCode, withCheckDigit, type Gs1Pack, type ParseOptions } from "../../src/codes";

const GS = "\u001d";
// GTIN and Digital Link from the GS1 Digital Link standard's examples; SSCC from the GS1 General Specifications.
const GTIN = "09506000134352";
const SSCC = "106141412345678908";

function rejection(text: string, options: ParseOptions = {}): CodeError {
  try {
    parseCode(text, options);
  } catch (error) {
    if (error instanceof CodeError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(text)}`);
}

function expectRejected(text: string, code: string, position?: number, field?: string, options: ParseOptions = {}): void {
  const error = rejection(text, options);
  expect(error.code, `${JSON.stringify(text)}: ${error.message}`).to.equal(code);
  if (position !== undefined) expect(error.position, error.message).to.equal(position);
  if (field !== undefined) expect(error.field).to.equal(field);
}

describe("parseCode: GS1 element strings", () => {
  it("reads a DataMatrix transmission with symbology identifier, fixed fields first and a group separator", () => {
    const code = parseCode(`]d201${GTIN}17261231 10ABC123${GS}21SN-001`.replace(" ", "")) as Gs1Pack;
    expect(code).to.deep.equal({
      scheme: "gs1", kind: "pack", key: `(01)${GTIN}(21)SN-001`, productCode: GTIN, gtin: GTIN, serial: "SN-001",
      batch: "ABC123", expiry: { yymmdd: "261231", iso: "2026-12-31" },
    });
  });

  it("accepts AIs in any order, with or without the ]d2 prefix, and gives the same canonical key", () => {
    const keys = [
      `]d22112345${GS}10LOT7${GS}17280600` + `01${GTIN}`,
      `01${GTIN}2112345`,
      `${GS}01${GTIN}10LOT7${GS}2112345`,
      `]d201${GTIN}${GS}2112345${GS}`,
    ].map((text) => parseCode(text).key);
    expect(new Set(keys)).to.deep.equal(new Set([`(01)${GTIN}(21)12345`]));
  });

  it("reads day 00 of an expiry as the last day of the month, leap years included", () => {
    expect((parseCode(`01${GTIN}17280200` + `211`) as Gs1Pack).expiry?.iso).to.equal("2028-02-29");
    expect((parseCode(`01${GTIN}17270200` + `211`) as Gs1Pack).expiry?.iso).to.equal("2027-02-28");
  });

  it("reads an SSCC as a logistic unit that belongs to no product", () => {
    expect(parseCode(`]d200${SSCC}`)).to.deep.equal({ scheme: "gs1", kind: "logistic-unit", key: `(00)${SSCC}`, productCode: null, sscc: SSCC });
  });

  it("rejects with a precise code, field and position", () => {
    expectRejected(`01${GTIN.slice(0, 13)}3` + "211", "CODE_BAD_CHECK_DIGIT", 15, "01");
    expectRejected(`]d200${SSCC.slice(0, 17)}1`, "CODE_BAD_CHECK_DIGIT", 22, "00");
    expectRejected(`]d201${GTIN}99X${GS}211`, "CODE_UNKNOWN_AI", 19, "99");
    expectRejected(`01${GTIN}10LOT`, "CODE_MISSING_SERIAL", undefined, "21");
    expectRejected(`]d22112345`, "CODE_MISSING_GTIN");
    expectRejected(`01${GTIN}17271301` + "211", "CODE_BAD_DATE", 20, "17");
    expectRejected(`01${GTIN}17270230` + "211", "CODE_BAD_DATE", 22, "17");
    expectRejected(`01${GTIN}21${"A".repeat(21)}`, "CODE_FIELD_TOO_LONG", 38, "21");
    expectRejected(`01${GTIN}10${"A".repeat(21)}${GS}211`, "CODE_FIELD_TOO_LONG", 38, "10");
    expectRejected(`]d2010950600013${GS}211`, "CODE_FIELD_TOO_SHORT", 15, "01");
    expectRejected(`]d2010950600013`, "CODE_FIELD_TOO_SHORT", 15, "01");
    expectRejected(`01${GTIN}21AB#C`, "CODE_BAD_CHARACTER", 20, "21");
    expectRejected(`01${GTIN}21${GS}`, "CODE_EMPTY_FIELD", 18, "21");
    expectRejected(`0109506000A34352211`, "CODE_NOT_NUMERIC", 10, "01");
    expectRejected(`01${GTIN}2112${GS}2134`, "CODE_DUPLICATE_AI", undefined, "21");
    expectRejected(`00${SSCC}01${GTIN}`, "CODE_CONFLICTING_AIS", undefined, "01");
    expectRejected(`]E0${GTIN}`, "CODE_BAD_SYMBOLOGY", 0);
    expectRejected("", "CODE_EMPTY", 0);
  });
});

describe("parseCode: human-readable form", () => {
  it("reads the bracketed form on the pack's label", () => {
    const code = parseCode(`(01)${GTIN}(17)261231(10)ABC123(21)SN-001`);
    expect(code.key).to.equal(`(01)${GTIN}(21)SN-001`);
  });

  it("escapes a parenthesis inside a value so the form stays unambiguous", () => {
    const code = parseCode(`(01)${GTIN}(21)A\\(12)B(10)L(1`) as Gs1Pack;
    expect(code.serial).to.equal("A(12)B");
    expect(code.batch).to.equal("L(1");
    expect(formatCode(code, "hri")).to.equal(`(01)${GTIN}(10)L\\(1(21)A\\(12)B`);
  });

  it("rejects text outside brackets, unknown AIs and bad values", () => {
    expectRejected(`(01)${GTIN}(21)A#`, "CODE_BAD_CHARACTER", 23, "21");
    expectRejected(`(01)${GTIN}(21`, "CODE_FIELD_TOO_LONG", 18, "01");
    expectRejected(`(01${GTIN}(21)1`, "CODE_BAD_HRI", 0);
    expectRejected(`(01)${GTIN}(7003)2601011200(21)1`, "CODE_UNKNOWN_AI", 19, "7003");
    expectRejected(`(01)${GTIN}(21)1(11)260230`, "CODE_BAD_DATE", 31, "11");
  });
});

describe("parseCode: GS1 Digital Link", () => {
  it("reads the standard's example with a path prefix, percent-encoding and query attributes", () => {
    const code = parseCode(`https://example.com/products/eu/01/${GTIN}/10/AB%2F1/21/12345?17=280630&linkType=gs1:pip`) as Gs1Pack;
    expect(code).to.deep.include({ key: `(01)${GTIN}(21)12345`, batch: "AB/1", serial: "12345" });
    expect(code.expiry?.iso).to.equal("2028-06-30");
  });

  it("pads GTIN-13 to GTIN-14 and reads an SSCC", () => {
    expect(parseCode(`https://id.gs1.org/01/${GTIN.slice(1)}/21/X`).key).to.equal(`(01)${GTIN}(21)X`);
    expect(parseCode(`HTTPS://id.gs1.org/00/${SSCC}`).key).to.equal(`(00)${SSCC}`);
  });

  it("rejects qualifiers out of order, attributes in the path, unknown AIs and broken URIs", () => {
    expectRejected(`https://d.example/01/${GTIN}/21/1/10/L`, "CODE_BAD_PATH_ORDER", 41, "10");
    expectRejected(`https://d.example/01/${GTIN}/17/280101/21/1`, "CODE_MISPLACED_AI", 36, "17");
    expectRejected(`https://d.example/01/${GTIN}?21=1`, "CODE_MISPLACED_AI", 36, "21");
    expectRejected(`https://d.example/01/${GTIN}/21/1?99=1`, "CODE_UNKNOWN_AI", 41, "99");
    expectRejected(`https://d.example/01/${GTIN}/21/%E0%A4%A`, "CODE_BAD_URI", 39);
    expectRejected(`https://d.example/gtin/${GTIN}`, "CODE_BAD_URI");
    expectRejected(`https://d.example/01/${GTIN}`, "CODE_MISSING_SERIAL");
    expectRejected(`https://d.example/01/${GTIN}/21/${"9".repeat(21)}`, "CODE_FIELD_TOO_LONG", 59, "21");
    expectRejected(`]Q1https://d.example/01/${GTIN}/21/A%20B`, "CODE_BAD_CHARACTER", 43, "21");
  });
});

describe("parseCode: NMPA drug traceability codes", () => {
  it("reads 20 digits whose first 7 are the drug identification code", () => {
    expect(parseCode("81234560000012345678")).to.deep.equal({ scheme: "nmpa", kind: "pack", key: "81234560000012345678", productCode: "8123456", nmpa: "81234560000012345678" });
    expect(parseCode("]C081234560000012345678\r\n").key).to.equal("81234560000012345678");
  });

  it("rejects a wrong length, a non-digit and another product's code", () => {
    expectRejected("8123456000001234567", "CODE_BAD_LENGTH", 19, "nmpa");
    expectRejected("812345600000123456789", "CODE_BAD_LENGTH", 20, "nmpa");
    expectRejected("81234560000O12345678", "CODE_NOT_NUMERIC", 11, "nmpa");
    expectRejected("]d181234560000O12345678", "CODE_NOT_NUMERIC", 14, "nmpa");
    expectRejected("81234560000012345678", "CODE_PRODUCT_MISMATCH", 0, "nmpa", { productCode: "8123457" });
    expectRejected(`01${GTIN}211`, "CODE_PRODUCT_MISMATCH", 0, "01", { productCode: withCheckDigit("0950600013436") });
  });

  it("reads a bare 20-character GS1 element string only when told the format", () => {
    const text = `01${GTIN}2112`;
    expect(parseCode(text).scheme).to.equal("nmpa");
    expect(parseCode(text, { format: "element-string" }).key).to.equal(`(01)${GTIN}(21)12`);
    expect(parseCode(`]d2${text}`).key).to.equal(`(01)${GTIN}(21)12`);
  });
});

describe("formatCode", () => {
  it("prints a GS1 pack in every format and refuses formats a scheme does not have", () => {
    const code = parseCode(`(01)${GTIN}(17)261231(10)A B(21)X/1`.replace(" ", "")) as Gs1Pack;
    expect(formatCode(code, "element-string")).to.equal(`]d201${GTIN}1726123110AB${GS}21X/1`);
    expect(formatCode(code, "element-string", { symbologyId: "" })).to.equal(`01${GTIN}1726123110AB${GS}21X/1`);
    expect(formatCode(code, "digital-link", { domain: "https://trace.example.cn/" })).to.equal(`https://trace.example.cn/01/${GTIN}/10/AB/21/X%2F1?17=261231`);
    expect(() => formatCode(code, "nmpa")).to.throw().with.property("code", "CODE_FORMAT_UNSUPPORTED");
    expect(() => formatCode(parseCode("81234560000012345678"), "digital-link")).to.throw().with.property("code", "CODE_FORMAT_UNSUPPORTED");
  });
});
