import { afterAll, describe, it } from "vitest";
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildCodeTree, formatCode, generatePacks, ImportError, importCodes, openTree, type Gs1Pack, type ImportOptions } from "../../src/codes";

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "codes-import-"));
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

const GTIN = "09506000134352";
const KEY = Buffer.alloc(16, 9);
const packs = [...generatePacks({ scheme: "gs1", productCode: GTIN, key: KEY, firstIndex: 0, count: 40, batch: "L1", expiry: "281231" })];
const formats = ["element-string", "hri", "digital-link"] as const;
const printed = packs.map((pack, i) => formatCode(pack, formats[i % 3] as (typeof formats)[number]));

function write(name: string, lines: string[]): string {
  const file = path.join(workDir, name);
  fs.writeFileSync(file, `${lines.join("\r\n")}\n`);
  return file;
}

async function importFailure(file: string, options: ImportOptions): Promise<ImportError> {
  try {
    await importCodes(file, options);
  } catch (error) {
    if (error instanceof ImportError) return error;
    throw error;
  }
  throw new Error("import succeeded");
}

describe("importCodes", () => {
  it("imports one code per line in mixed formats and commits them like an in-memory tree", async () => {
    const file = write("mixed.txt", ["", ...printed, ""]);
    const summary = await importCodes(file, { treePath: path.join(workDir, "mixed.tree"), productCode: GTIN, batch: "L1", expiry: "281231" });
    expect(summary).to.include({ leafCount: 40, productCode: GTIN, root: (await buildCodeTree(packs.map((p) => p.key))).root });
    const stored = openTree(summary.path);
    expect(stored.has(packs[5]?.key as string)).to.equal(true);
    stored.close();
  });

  it("reads the code column of a CSV with a header, quoted fields included", async () => {
    const rows = packs.slice(0, 5).map((pack, i) => `${i},"${formatCode(pack, "digital-link").replace(/"/g, '""')}",box ${i}`);
    const summary = await importCodes(write("codes.csv", ["\uFEFFrow,code,note", ...rows]), { treePath: path.join(workDir, "csv.tree") });
    expect(summary.leafCount).to.equal(5);
  });

  it("reports every bad line with its reason and imports nothing", async () => {
    const lines = [
      ...printed.slice(0, 10),
      `]d201${GTIN}10L1`,
      "(01)09506000134352(21)X(10)L2",
      printed[3] as string,
      "81234560000012345678",
      `(00)106141412345678908`,
      `(01)${GTIN}(17)290101(21)Y`,
    ];
    const treePath = path.join(workDir, "bad.tree");
    const failure = await importFailure(write("bad.txt", lines), { treePath });
    expect(failure.code).to.equal("CODE_IMPORT_FAILED");
    expect(failure.lines.map(({ line, code }) => [line, code])).to.deep.equal([
      [11, "CODE_MISSING_SERIAL"],
      [12, "CODE_BATCH_MISMATCH"],
      [14, "CODE_PRODUCT_MISMATCH"],
      [15, "CODE_NOT_A_PACK"],
      [16, "CODE_EXPIRY_MISMATCH"],
    ]);
    expect(fs.readdirSync(workDir).filter((f) => f.startsWith("bad.tree"))).to.deep.equal([]);
  });

  it("takes (17) day 00 as the month's last day, and refuses a (17) that is not the batch's expiry, naming the code", async () => {
    const monthEnd = formatCode({ ...(packs[0] as Gs1Pack), expiry: { yymmdd: "281200", iso: "2028-12-31" } }, "hri");
    const summary = await importCodes(write("day00.txt", [monthEnd, ...printed.slice(1, 4)]), {
      treePath: path.join(workDir, "day00.tree"),
      expiry: "281231",
    });
    expect(summary.leafCount).to.equal(4);

    const lastSecond = Date.parse("2028-12-31T23:59:59+08:00") / 1000;
    expect(
      (await importCodes(write("batch.txt", printed.slice(0, 4)), { treePath: path.join(workDir, "batch.tree"), expiresAt: lastSecond })).leafCount,
    ).to.equal(4);
    const failure = await importFailure(write("late.txt", printed.slice(0, 2)), {
      treePath: path.join(workDir, "late.tree"),
      expiresAt: lastSecond + 1,
    });
    expect(failure.lines.map(({ line, code, message }) => [line, code, message])).to.deep.equal(
      [1, 2].map((line) => [
        line,
        "CODE_EXPIRY_MISMATCH",
        `${packs[line - 1]!.key} (17) 281231: the pack shows expiry 2028-12-31 (end of that day, China time), but the batch expires 2029-01-01T00:00:00.000+08:00`,
      ]),
    );
    expect(fs.existsSync(path.join(workDir, "late.tree"))).to.equal(false);
  });

  it("names the lines that repeat a pack already imported, whatever format they use", async () => {
    const again = formatCode(packs[2]!, "hri");
    const failure = await importFailure(write("dup.txt", [...printed, again]), { treePath: path.join(workDir, "dup.tree"), spillThreshold: 8 });
    expect(failure.lines).to.deep.equal([{ line: 41, text: again, code: "CODE_DUPLICATE", message: "same pack as line 3" }]);
    expect(fs.readdirSync(workDir).filter((f) => f.startsWith("dup.tree"))).to.deep.equal([]);
  });

  it("refuses an empty file", async () => {
    await importCodes(write("empty.txt", ["", ""]), { treePath: path.join(workDir, "empty.tree") }).then(
      () => expect.fail("imported nothing"),
      (error) => expect(error.code).to.equal("CODE_EMPTY_BATCH"),
    );
  });
});
