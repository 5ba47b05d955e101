import { describe, it } from "vitest";
import { expect } from "chai";
import { CodeError, formatCode, parseCode, withCheckDigit, type Gs1Pack, type ParseOptions } from "../../src/codes";
import { aiShape } from "../../src/codes/ai-table";

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
      scheme: "gs1",
      kind: "pack",
      key: `(01)${GTIN}(21)SN-001`,
      productCode: GTIN,
      gtin: GTIN,
      serial: "SN-001",
      batch: "ABC123",
      expiry: { yymmdd: "261231", iso: "2026-12-31" },
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
    expectRejected(`]d201${GTIN}23X${GS}211`, "CODE_UNKNOWN_AI", 19, "23");
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

describe("parseCode: AIs the ledger does not read", () => {
  const EXTRA = `7003${"2712311200"}${GS}240ADD-1${GS}714NHRN-42${GS}3103000525` + `22CPV7${GS}`;

  it("reads a pack carrying (7003), (240), (714) NHRN, (3103) and (22), and names them as ignored", () => {
    const code = parseCode(`]d201${GTIN}17271231${EXTRA}10L1${GS}21S1`) as Gs1Pack;
    expect(code).to.deep.equal({
      scheme: "gs1",
      kind: "pack",
      key: `(01)${GTIN}(21)S1`,
      productCode: GTIN,
      gtin: GTIN,
      serial: "S1",
      batch: "L1",
      expiry: { yymmdd: "271231", iso: "2027-12-31" },
      ignoredAis: ["7003", "240", "714", "3103", "22"],
    });
    expect(formatCode(code, "hri"), "printed with the fields the ledger reads").to.equal(`(01)${GTIN}(17)271231(10)L1(21)S1`);
    const hri = parseCode(`(01)${GTIN}(7003)2712311200(240)ADD-1(714)NHRN-42(3103)000525(22)CPV7(21)S1`) as Gs1Pack;
    expect([hri.key, hri.ignoredAis]).to.deep.equal([`(01)${GTIN}(21)S1`, ["7003", "240", "714", "3103", "22"]]);
  });

  it("knows which AIs have a predefined length (no FNC1 after them) and which end at FNC1", () => {
    // (3103) is of predefined length: the next AI follows without a separator.
    expect((parseCode(`01${GTIN}310300052521S1`) as Gs1Pack).ignoredAis).to.deep.equal(["3103"]);
    // (7003) is ten digits but not of predefined length: without FNC1 it runs into (21), and is too long.
    expectRejected(`01${GTIN}7003271231120021S1`, "CODE_FIELD_TOO_LONG", 30, "7003");
  });

  it("checks an ignored AI's value against its GS1 shape, with its code, field and position", () => {
    expectRejected(`01${GTIN}7003271231120${GS}21S1`, "CODE_FIELD_TOO_SHORT", 29, "7003");
    expectRejected(`01${GTIN}70032712311X00${GS}21S1`, "CODE_NOT_NUMERIC", 27, "7003");
    expectRejected(`01${GTIN}240${"A".repeat(31)}${GS}21S1`, "CODE_FIELD_TOO_LONG", 49, "240");
    expectRejected(`01${GTIN}714NH#N${GS}21S1`, "CODE_BAD_CHARACTER", 21, "714");
    expectRejected(`01${GTIN}240A${GS}240B${GS}21S1`, "CODE_DUPLICATE_AI", 21, "240");
    expectRejected(`01${GTIN}240${GS}21S1`, "CODE_EMPTY_FIELD", 19, "240");
    expectRejected(`01${GTIN}31030005${GS}21S1`, "CODE_FIELD_TOO_SHORT", 24, "3103");
    expectRejected(`(01)${GTIN}(3103)00A525(21)S1`, "CODE_NOT_NUMERIC", 26, "3103");
  });

  it("has every AI of the GS1 Syntax Dictionary, none the start of another", () => {
    for (const ai of ["00", "01", "10", "17", "21", "22", "240", "714", "3103", "7003", "8200", "91", "99"])
      expect(aiShape(ai), ai).to.not.equal(undefined);
    for (const ai of ["23", "3106", "716", "9"]) expect(aiShape(ai), ai).to.equal(undefined);
    expect([aiShape("7003")?.predefined, aiShape("7003")?.min, aiShape("7003")?.max]).to.deep.equal([false, 10, 10]);
    expect([aiShape("3103")?.predefined, aiShape("3103")?.max]).to.deep.equal([true, 6]);
    expect([aiShape("714")?.predefined, aiShape("714")?.min, aiShape("714")?.max]).to.deep.equal([false, 1, 20]);
    for (let n = 0; n < 10_000; n++) {
      const text = String(n).padStart(4, "0");
      const defined = [2, 3, 4].filter((length) => aiShape(text.slice(0, length)) !== undefined);
      expect(defined.length, `${text}: ${defined}`).to.be.at.most(1);
    }
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
    expectRejected(`(01)${GTIN}(2300)X(21)1`, "CODE_UNKNOWN_AI", 19, "2300");
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

  it("takes the rightmost key when the resolver's own path prefix contains /01/ or /00/, as the GS1 syntax engine does", () => {
    for (const prefix of ["/01/shop", "/00/x", "/products/01/09506000134352", "/01/01/01"]) {
      const code = parseCode(`https://resolver.example${prefix}/01/${GTIN}/10/L1/21/S1?17=271231`) as Gs1Pack;
      expect([prefix, code.key, code.batch, code.expiry?.iso]).to.deep.equal([prefix, `(01)${GTIN}(21)S1`, "L1", "2027-12-31"]);
    }
    expect(parseCode(`https://resolver.example/01/x/00/${SSCC}`).key).to.equal(`(00)${SSCC}`);
  });

  it("reads the (22) qualifier in the path and data attributes in the query, naming those it ignores", () => {
    const code = parseCode(`https://d.example/01/${GTIN}/22/V1/10/L1/21/S1?17=271231&7003=2712311200&3103=000525&linkType=gs1:pip`) as Gs1Pack;
    expect([code.key, code.batch, code.ignoredAis]).to.deep.equal([`(01)${GTIN}(21)S1`, "L1", ["22", "7003", "3103"]]);
    expectRejected(`https://d.example/01/${GTIN}/10/L1/22/V1/21/S1`, "CODE_BAD_PATH_ORDER", 42, "22");
    expectRejected(`https://d.example/01/${GTIN}/21/S1?22=V1`, "CODE_MISPLACED_AI", 42, "22");
    expectRejected(`https://d.example/01/${GTIN}/21/S1?7003=27123112`, "CODE_FIELD_TOO_SHORT", 55, "7003");
    expectRejected(`https://d.example/414/${"9".repeat(12)}8`, "CODE_BAD_URI", 18);
  });

  it("rejects qualifiers out of order, attributes in the path, unknown AIs and broken URIs", () => {
    expectRejected(`https://d.example/01/${GTIN}/21/1/10/L`, "CODE_BAD_PATH_ORDER", 41, "10");
    expectRejected(`https://d.example/01/${GTIN}/17/280101/21/1`, "CODE_MISPLACED_AI", 36, "17");
    expectRejected(`https://d.example/01/${GTIN}?21=1`, "CODE_MISPLACED_AI", 36, "21");
    expectRejected(`https://d.example/01/${GTIN}/21/1?23=1`, "CODE_UNKNOWN_AI", 41, "23");
    expectRejected(`https://d.example/01/${GTIN}/21/%E0%A4%A`, "CODE_BAD_URI", 39);
    expectRejected(`https://d.example/gtin/${GTIN}`, "CODE_BAD_URI");
    expectRejected(`https://d.example/01/${GTIN}`, "CODE_MISSING_SERIAL");
    expectRejected(`https://d.example/01/${GTIN}/21/${"9".repeat(21)}`, "CODE_FIELD_TOO_LONG", 59, "21");
    expectRejected(`]Q1https://d.example/01/${GTIN}/21/A%20B`, "CODE_BAD_CHARACTER", 43, "21");
  });
});

describe("parseCode: NMPA drug traceability codes", () => {
  it("reads 20 digits whose first 7 are the drug identification code", () => {
    expect(parseCode("81234560000012345678")).to.deep.equal({
      scheme: "nmpa",
      kind: "pack",
      key: "81234560000012345678",
      productCode: "8123456",
      nmpa: "81234560000012345678",
    });
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

  it("says to check the digits where the structure shows a mistyped code (it carries no check digit to tell more)", () => {
    const message = (text: string) => rejection(text).message;
    expect(message("8123456000001234567")).to.equal("an NMPA traceability code has 20 digits, this has 19: check the digits (1 missing)");
    expect(message("812345600000123456789")).to.equal("an NMPA traceability code has 20 digits, this has 21: check the digits (1 too many)");
    expect(message("81234560000O12345678")).to.equal('an NMPA traceability code is 20 digits; "O" at position 11: check the digits');
    expectRejected("8123 4560 0000 1234 5678", "CODE_NOT_NUMERIC", 4, "nmpa");
    expect(message("8123-4560-0000-1234-5678")).to.equal(
      'an NMPA traceability code is 20 digits; "-" at position 4: type the 20 digits without spaces or hyphens',
    );
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
    expect(formatCode(code, "digital-link", { domain: "https://trace.example.cn/" })).to.equal(
      `https://trace.example.cn/01/${GTIN}/10/AB/21/X%2F1?17=261231`,
    );
    expect(() => formatCode(code, "nmpa"))
      .to.throw()
      .with.property("code", "CODE_FORMAT_UNSUPPORTED");
    expect(() => formatCode(parseCode("81234560000012345678"), "digital-link"))
      .to.throw()
      .with.property("code", "CODE_FORMAT_UNSUPPORTED");
  });
});
