import { describe, it } from "vitest";
import { expect } from "chai";
import fc from "fast-check";
import { CodeError, formatCode, formatsOf, parseCode, withCheckDigit, type Gs1Pack, type LogisticUnit, type TraceCode } from "../../src/codes";

const RUNS = { numRuns: 300 };
const GS = "\u001d";
const CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
const REFERENCE_YEAR = 2025;

const digits = (length: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: length, maxLength: length });
const cset82 = fc.string({ unit: fc.constantFrom(...CSET82), minLength: 1, maxLength: 20 });
const gtin = digits(13).map(withCheckDigit);
const sscc = digits(17).map(withCheckDigit);

/** YYMMDD with a real date (day 00 allowed), read against REFERENCE_YEAR's century window. */
const gs1Date = fc.date({ min: new Date("1976-01-01T00:00:00Z"), max: new Date("2074-12-31T00:00:00Z"), noInvalidDate: true }).chain((date) =>
  fc.boolean().map((monthOnly) => {
    const yymmdd = date.toISOString().slice(2, 10).replace(/-/g, "");
    return monthOnly ? `${yymmdd.slice(0, 4)}00` : yymmdd;
  }),
);

const gs1Pack: fc.Arbitrary<Gs1Pack> = fc
  .record({
    gtin,
    serial: cset82,
    batch: fc.option(cset82, { nil: undefined }),
    expiry: fc.option(gs1Date, { nil: undefined }),
    productionDate: fc.option(gs1Date, { nil: undefined }),
  })
  .map(({ gtin: g, serial, batch, expiry, productionDate }) => {
    let text = `(01)${g}(21)${serial.replace(/\(/g, "\\(")}`;
    if (batch !== undefined) text += `(10)${batch.replace(/\(/g, "\\(")}`;
    if (expiry !== undefined) text += `(17)${expiry}`;
    if (productionDate !== undefined) text += `(11)${productionDate}`;
    return parseCode(text, { referenceYear: REFERENCE_YEAR }) as Gs1Pack;
  });

const logisticUnit = sscc.map((s) => parseCode(`(00)${s}`) as LogisticUnit);
const nmpaCode = fc.tuple(digits(7), digits(13)).map(([product, pack]) => parseCode(product + pack));
const anyCode: fc.Arbitrary<TraceCode> = fc.oneof(gs1Pack, logisticUnit, nmpaCode);

describe("round trips", () => {
  it("every code prints in each of its formats and parses back to the same code", () => {
    fc.assert(
      fc.property(anyCode, (code) => {
        for (const format of formatsOf(code)) {
          const printed = formatCode(code, format);
          expect(parseCode(printed, { referenceYear: REFERENCE_YEAR }), `${format}: ${JSON.stringify(printed)}`).to.deep.equal(code);
        }
      }),
      RUNS,
    );
  });

  it("a GS1 pack's canonical key ignores batch and dates, which stay in the parsed result", () => {
    fc.assert(
      fc.property(gs1Pack, (pack) => {
        const bare = parseCode(`(01)${pack.gtin}(21)${pack.serial.replace(/\(/g, "\\(")}`);
        expect(bare.key).to.equal(pack.key);
        expect(pack.key).to.match(/^\(01\)\d{14}\(21\)/);
      }),
      RUNS,
    );
  });
});

/** AIs the ledger does not read, with values of their GS1 shape: fixed (3103, predefined; 7003, not) and variable. */
const extraAi = fc.oneof(
  digits(6).map((value) => ["3103", value] as const),
  digits(10).map((value) => ["7003", value] as const),
  cset82.map((value) => ["240", value] as const),
  cset82.map((value) => ["714", value] as const),
  cset82.map((value) => ["22", value] as const),
);

describe("extra AIs", () => {
  it("a pack carrying extra AIs anywhere in its element string reads as the same pack, naming them in order", () => {
    fc.assert(
      fc.property(gs1Pack, fc.uniqueArray(extraAi, { selector: ([ai]) => ai, maxLength: 5 }), fc.nat(), (pack, extras, at) => {
        const fields = formatCode(pack, "element-string", { symbologyId: "" }).split(GS);
        // Every field ends at FNC1 here, so any order is valid; extras go in at one place, in their order.
        const where = at % (fields.length + 1);
        const text = [...fields.slice(0, where), ...extras.map(([ai, value]) => ai + value), ...fields.slice(where)].join(GS);
        const expected = extras.length === 0 ? pack : { ...pack, ignoredAis: extras.map(([ai]) => ai) };
        expect(parseCode(`]d2${text}`, { referenceYear: REFERENCE_YEAR }), JSON.stringify(text)).to.deep.equal(expected);
      }),
      RUNS,
    );
  });
});

/** Where the check-digited field (GTIN or SSCC) sits in a printed code. */
function checkedFieldRange(code: Gs1Pack | LogisticUnit, printed: string): [number, number] {
  const value = code.kind === "pack" ? code.gtin : code.sscc;
  const start = printed.indexOf(value);
  return [start, start + value.length];
}

const corruption = fc.record({ index: fc.nat(), replacement: fc.constantFrom(...CSET82, "#", "?", " ") });

describe("corruptions of a check-digited field", () => {
  it("changing any one GTIN or SSCC character is rejected in every format; a changed digit as a bad check digit", () => {
    fc.assert(
      fc.property(fc.oneof(gs1Pack, logisticUnit), corruption, (code, { index, replacement }) => {
        for (const format of formatsOf(code)) {
          const printed = formatCode(code, format);
          const [start, end] = checkedFieldRange(code, printed);
          const at = start + (index % (end - start));
          if (printed[at] === replacement) continue;
          const corrupted = printed.slice(0, at) + replacement + printed.slice(at + 1);
          let rejection: unknown;
          try {
            parseCode(corrupted, { referenceYear: REFERENCE_YEAR });
          } catch (error) {
            rejection = error;
          }
          expect(rejection, `${format}: ${JSON.stringify(corrupted)} was accepted`).to.be.instanceOf(CodeError);
          if (/[0-9]/.test(replacement)) expect((rejection as CodeError).code).to.equal("CODE_BAD_CHECK_DIGIT");
        }
      }),
      RUNS,
    );
  });
});
