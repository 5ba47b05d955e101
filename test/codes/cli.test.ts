import { afterAll, describe, it } from "vitest";
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const TRACE = path.resolve(__dirname, "../../bin/trace.js");
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "codes-cli-"));
afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

function trace(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [TRACE, ...args], { cwd: workDir, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function json(args: string[]): Record<string, unknown> {
  const result = trace(...args, "--json");
  expect(result.status, result.stderr).to.equal(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

function errorOf(result: { status: number | null; stderr: string }): {
  code: string;
  position?: number;
  lines?: Array<{ line: number; code: string }>;
} {
  expect(result.status).to.equal(2);
  return (JSON.parse(result.stderr) as { error: { code: string } }).error;
}

describe("trace codes (spawned CLI)", () => {
  it("generates a batch, proves one of its codes from the stored tree and verifies the proof", () => {
    const generated = json([
      "codes",
      "generate",
      "--product",
      "09506000134352",
      "--count",
      "500",
      "--out",
      "batch.txt",
      "--print",
      "digital-link",
      "--batch",
      "B7",
      "--expiry",
      "281231",
    ]);
    expect(generated).to.include({ count: 500, tree: "batch.tree", firstSerialIndex: 0 });
    const codes = fs.readFileSync(path.join(workDir, "batch.txt"), "utf8").trim().split("\n");
    expect(codes).to.have.length(500);
    expect(codes[0]).to.match(/^https:\/\/id\.gs1\.org\/01\/09506000134352\/10\/B7\/21\/[0-9A-Z]{12}\?17=281231$/);

    const proved = json(["codes", "prove", codes[42] as string, "--tree", "batch.tree"]);
    expect(proved.root).to.equal(generated.root);
    const proof = (proved.proof as string[]).join(",");
    const verified = trace("codes", "verify", codes[42] as string, proof, generated.root as string);
    expect(verified.status).to.equal(0);
    expect(verified.stdout).to.match(/^VALID/);
    expect(trace("codes", "verify", codes[43] as string, proof, generated.root as string).status).to.equal(1);

    expect(json(["codes", "root", "batch.tree"])).to.deep.equal({ root: generated.root, count: 500 });
    expect(json(["codes", "root", "batch.txt"])).to.include({ root: generated.root, count: 500 });
    const again = json(["codes", "generate", "--product", "09506000134352", "--count", "10", "--out", "batch2.txt"]);
    expect(again.firstSerialIndex).to.equal(500);
  });

  it("imports a file all or nothing, listing each bad line", () => {
    fs.writeFileSync(path.join(workDir, "good.txt"), "81234560000000000001\n81234560000000000002\n");
    expect(json(["codes", "import", "good.txt", "--tree", "good.tree"])).to.include({ count: 2, product: "8123456" });
    fs.writeFileSync(path.join(workDir, "bad.txt"), "81234560000000000001\n8123456000000000000X\n81234570000000000003\n");
    const failure = errorOf(trace("codes", "import", "bad.txt", "--tree", "bad.tree", "--json"));
    expect(failure.code).to.equal("CODE_IMPORT_FAILED");
    expect(failure.lines?.map(({ line, code }) => [line, code])).to.deep.equal([
      [2, "CODE_NOT_NUMERIC"],
      [3, "CODE_PRODUCT_MISMATCH"],
    ]);
    expect(fs.existsSync(path.join(workDir, "bad.tree"))).to.equal(false);
    const text = trace("codes", "import", "bad.txt", "--tree", "bad.tree");
    expect(text.stderr).to.contain("line 2: CODE_NOT_NUMERIC");
  });

  it("parses a scanned code into its key, product and every format", () => {
    const parsed = json(["codes", "parse", "]d2010950600013435217281231" + "10L1\u001d21SN1"]);
    expect(parsed).to.include({
      key: "(01)09506000134352(21)SN1",
      productCode: "09506000134352",
      batch: "L1",
      hri: "(01)09506000134352(17)281231(10)L1(21)SN1",
    });
    expect(trace("codes", "parse", "81234560000000000001").stdout).to.match(/productCode:\s+8123456/);
  });

  it("fails with exit status 2 and a precise error for bad input and bad usage", () => {
    expect(errorOf(trace("codes", "parse", "(01)09506000134353(21)1", "--json"))).to.include({ code: "CODE_BAD_CHECK_DIGIT", position: 17 });
    const human = trace("codes", "parse", "8123456000000000000");
    expect(human.status).to.equal(2);
    expect(human.stderr).to.match(/^error CODE_BAD_LENGTH field nmpa position 19: /);
    expect(errorOf(trace("codes", "prove", "81234560000000000009", "--tree", "good.tree", "--json")).code).to.equal("CODE_NOT_IN_BATCH");
    expect(errorOf(trace("codes", "verify", "81234560000000000001", "0x12", "0x" + "0".repeat(64), "--json")).code).to.equal("CODE_BAD_PROOF");
    const usage = trace("codes", "generate", "--product", "8123456", "--count", "-3", "--out", "x.txt");
    expect(usage.status).to.equal(2);
    expect(usage.stderr).to.contain("expected a positive integer");
  });
});
