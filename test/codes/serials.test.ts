import { afterAll, describe, it } from "vitest";
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  formatCode,
  formatsOf,
  generatePacks,
  parseCode,
  reserveSerials,
  serialCapacity,
  GUESS_ODDS,
  type SerialBatchOptions,
} from "../../src/codes";

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "codes-serials-"));
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

const KEY = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex");
const nmpa = (firstIndex: number, count: number): SerialBatchOptions => ({ scheme: "nmpa", productCode: "8123456", key: KEY, firstIndex, count });

describe("generatePacks", () => {
  it("gives distinct serials that are not in index order and are reproducible from the key", () => {
    const keys = [...generatePacks(nmpa(0, 50_000))].map((pack) => pack.key);
    expect(new Set(keys).size).to.equal(50_000);
    expect(keys.every((key) => key.startsWith("8123456") && key.length === 20)).to.equal(true);
    const ascending = keys.filter((key, i) => i > 0 && key > (keys[i - 1] as string)).length;
    expect(ascending).to.be.within(23_000, 27_000); // a random order: about half the neighbours ascend
    expect([...generatePacks(nmpa(49_990, 10))].map((p) => p.key)).to.deep.equal(keys.slice(49_990));
    expect([...generatePacks({ ...nmpa(0, 10), key: Buffer.alloc(16, 1) })].map((p) => p.key)).to.not.deep.equal(keys.slice(0, 10));
  });

  it("never repeats a serial across consecutive reservations of the same product", () => {
    const first = [...generatePacks(nmpa(0, 20_000))].map((p) => p.key);
    const second = [...generatePacks(nmpa(20_000, 20_000))].map((p) => p.key);
    expect(new Set([...first, ...second]).size).to.equal(40_000);
  });

  it("prints GS1 packs with 12-character serials that round-trip through every format", () => {
    const packs = [
      ...generatePacks({ scheme: "gs1", productCode: "09506000134352", key: KEY, firstIndex: 7, count: 300, batch: "LOT-1", expiry: "281200" }),
    ];
    for (const pack of packs) {
      expect(pack.kind === "pack" && pack.scheme === "gs1" && pack.serial).to.match(/^[0-9A-HJKMNP-TV-Z]{12}$/);
      for (const format of formatsOf(pack)) expect(parseCode(formatCode(pack, format))).to.deep.equal(pack);
    }
  });

  it("refuses to issue more than 1/10,000 of the serial space, so a guess hits with probability below 1/10,000", () => {
    expect(serialCapacity("nmpa")).to.equal(1e13 / GUESS_ODDS);
    expect(() => [...generatePacks(nmpa(serialCapacity("nmpa") - 5, 6))])
      .to.throw()
      .with.property("code", "CODE_SERIAL_SPACE_EXHAUSTED");
    expect(() => [...generatePacks({ ...nmpa(0, 1), productCode: "812345" })])
      .to.throw()
      .with.property("code", "CODE_BAD_LENGTH");
    expect(() => [...generatePacks({ ...nmpa(0, 1), scheme: "gs1", productCode: "09506000134353" })])
      .to.throw()
      .with.property("code", "CODE_BAD_CHECK_DIGIT");
  });
});

describe("reserveSerials", () => {
  it("creates a secret key on first use and hands out consecutive, never overlapping ranges", () => {
    const file = path.join(workDir, "8123456.json");
    const first = reserveSerials(file, "nmpa", "8123456", 100);
    const second = reserveSerials(file, "nmpa", "8123456", 50);
    expect(first.firstIndex).to.equal(0);
    expect(second.firstIndex).to.equal(100);
    expect(second.key.equals(first.key)).to.equal(true);
    expect(fs.statSync(file).mode & 0o077).to.equal(0);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).to.include({ nextIndex: 150, productCode: "8123456" });
  });

  it("refuses a state file of another product or a damaged one", () => {
    const file = path.join(workDir, "other.json");
    reserveSerials(file, "nmpa", "8123456", 1);
    expect(() => reserveSerials(file, "nmpa", "8123457", 1))
      .to.throw()
      .with.property("code", "CODE_BAD_SERIAL_STATE");
    fs.writeFileSync(file, JSON.stringify({ version: 1, key: "zz", nextIndex: 0 }));
    expect(() => reserveSerials(file, "nmpa", "8123456", 1))
      .to.throw()
      .with.property("code", "CODE_BAD_SERIAL_STATE");
  });
});
