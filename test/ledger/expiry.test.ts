import { describe, it } from "vitest";
import { expect } from "chai";
import { parseCode, type Gs1Pack } from "../../src/codes";
import { chinaTime } from "../../src/ledger/china-time";
import { describeExpiry, endOfChinaDay, expiryDate, isEndOfChinaDay, isExpired, parseExpiry, printedExpiryMismatch } from "../../src/ledger/expiry";
import { expiryOf } from "../../src/demo/seed";

const GTIN = "09506000134352";
const DAY = 86_400;

describe("expiry: a date-only expiry is the end of that day in China", () => {
  it("reads 2027-12-31 as 23:59:59+08:00 that day, 15:59:59 UTC", () => {
    const expiresAt = endOfChinaDay("2027-12-31");
    expect(chinaTime(expiresAt)).to.equal("2027-12-31T23:59:59.000+08:00");
    expect(new Date(expiresAt * 1000).toISOString()).to.equal("2027-12-31T15:59:59.000Z");
    expect(expiryDate(expiresAt)).to.equal("2027-12-31");
    expect(isEndOfChinaDay(expiresAt)).to.equal(true);
    expect(isEndOfChinaDay(expiresAt + 1)).to.equal(false);
  });

  it("is valid through its last second and expired from the next one", () => {
    const expiresAt = endOfChinaDay("2027-12-31");
    expect(isExpired(expiresAt, expiresAt)).to.equal(false);
    expect(isExpired(expiresAt, expiresAt + 1)).to.equal(true);
  });

  it("parses a typed expiry: a date, a date-time (China time unless it says otherwise) or unix seconds", () => {
    expect(parseExpiry("2027-12-31")).to.equal(endOfChinaDay("2027-12-31"));
    expect(parseExpiry("2027-12-31T12:00")).to.equal(Date.parse("2027-12-31T04:00:00Z") / 1000);
    expect(parseExpiry("2027-12-31T12:00:00Z")).to.equal(Date.parse("2027-12-31T12:00:00Z") / 1000);
    expect(parseExpiry("1830268799")).to.equal(1830268799);
    for (const bad of ["2027-02-30", "2027-13-01", "31/12/2027", "tomorrow", ""]) expect(parseExpiry(bad), bad).to.equal(undefined);
  });

  it("describes an end-of-day expiry by its date and any other by its moment", () => {
    expect(describeExpiry(endOfChinaDay("2028-02-29"))).to.equal("2028-02-29");
    expect(describeExpiry(endOfChinaDay("2028-02-29") + 1)).to.equal("2028-03-01T00:00:00.000+08:00");
  });

  it("answers the same when asked again, and refuses a non-date every time (a refusal is not remembered)", () => {
    for (let i = 0; i < 2; i++) {
      expect(endOfChinaDay("2027-12-31")).to.equal(Date.parse("2027-12-31T15:59:59Z") / 1000);
      expect(describeExpiry(endOfChinaDay("2027-12-31") - DAY)).to.equal("2027-12-30");
      expect(() => endOfChinaDay("2027-02-30")).to.throw(RangeError, "is not a calendar date");
    }
  });

  it("matches a pack's (17) with the batch's expiry, day 00 being the month's last day", () => {
    const expiry = (yymmdd: string) => (parseCode(`(01)${GTIN}(17)${yymmdd}(21)S1`, { referenceYear: 2026 }) as Gs1Pack).expiry!.iso;
    expect(printedExpiryMismatch(expiry("271231"), endOfChinaDay("2027-12-31"))).to.equal(undefined);
    expect(printedExpiryMismatch(expiry("280200"), endOfChinaDay("2028-02-29"))).to.equal(undefined);
    expect(printedExpiryMismatch(expiry("271231"), endOfChinaDay("2027-12-31") - 86_400 + 1)).to.equal(
      "the pack shows expiry 2027-12-31 (end of that day, China time), but the batch expires 2027-12-31T00:00:00.000+08:00",
    );
    expect(printedExpiryMismatch(expiry("271231"), endOfChinaDay("2028-01-01"))).to.equal(
      "the pack shows expiry 2027-12-31 (end of that day, China time), but the batch expires 2028-01-01",
    );
  });

  it("refuses a non-date as a printed expiry", () => {
    expect(() => endOfChinaDay("2027-02-29")).to.throw(RangeError, /not a calendar date/);
  });

  it("gives every demo batch the expiry its packs print, whatever the hour it was made", () => {
    const start = Date.parse("2025-01-01T00:00:00+08:00") / 1000;
    for (let manufacturedAt = start; manufacturedAt < start + 400 * DAY; manufacturedAt += 7 * 3600 + 13) {
      const { yymmdd, expiresAt } = expiryOf(manufacturedAt);
      const printed = (parseCode(`(01)${GTIN}(17)${yymmdd}(21)S1`, { referenceYear: 2026 }) as Gs1Pack).expiry!.iso;
      expect([yymmdd, printedExpiryMismatch(printed, expiresAt)]).to.deep.equal([yymmdd, undefined]);
      expect(expiryDate(expiresAt)).to.equal(printed);
    }
  });
});
