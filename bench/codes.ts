/**
 * Traceability codes benchmark: parse+validate rate, batch generation and commitment (1M and 10M codes, through
 * the real CLI), and proof latency from a stored 10M-code tree. Writes the "## Traceability codes" section of
 * BENCHMARKS.md. Set BENCH_CODES_MAX=1000000 to skip the 10M batch.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatCode, generatePacks, openTree, parseCode, type CodeFormat } from "../src/codes";
import { writeBenchmarkSection } from "./benchmarks-file";

const COMMAND = "npm run bench:codes";
const ROOT = path.resolve(__dirname, "..");
const SECTION = "## Traceability codes";
const KEY = Buffer.alloc(16, 42);
const largest = Number(process.env.BENCH_CODES_MAX ?? 10_000_000);

type Row = { what: string; figure: string; target: string; verdict: string };
const rows: Row[] = [];

function record(what: string, figure: string, target = "", met?: boolean): void {
  rows.push({ what, figure, target, verdict: met === undefined ? "" : met ? "met" : "MISSED" });
  console.log(`${what}: ${figure}${target ? ` (target ${target})` : ""}`);
}

function sampleTexts(count: number): Record<CodeFormat, string[]> {
  const nmpa = [...generatePacks({ scheme: "nmpa", productCode: "8123456", key: KEY, firstIndex: 0, count })];
  const gs1 = [
    ...generatePacks({ scheme: "gs1", productCode: "09506000134352", key: KEY, firstIndex: 0, count, batch: "B2025-07", expiry: "281231" }),
  ];
  return {
    nmpa: nmpa.map((p) => p.key),
    "element-string": gs1.map((p) => formatCode(p, "element-string")),
    hri: gs1.map((p) => formatCode(p, "hri")),
    "digital-link": gs1.map((p) => formatCode(p, "digital-link")),
  };
}

/** Best of three timed passes after a warm-up pass, in codes per second. */
function parseRate(texts: string[]): number {
  for (const text of texts) parseCode(text);
  let best = 0;
  for (let run = 0; run < 3; run++) {
    const start = process.hrtime.bigint();
    for (const text of texts) parseCode(text);
    best = Math.max(best, texts.length / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  return best;
}

function benchParsing(): void {
  const samples = sampleTexts(250_000);
  const mixed = samples.nmpa.flatMap((text, i) => [text, samples["element-string"][i], samples.hri[i], samples["digital-link"][i]] as string[]);
  const target = 500_000;
  for (const [format, texts] of Object.entries(samples)) {
    const rate = parseRate(texts);
    record(`parse + validate, ${format}`, `${Math.round(rate).toLocaleString("en")} codes/s`, `≥ ${target.toLocaleString("en")}/s`, rate >= target);
  }
  const rate = parseRate(mixed);
  record(
    "parse + validate, equal mix of the four formats",
    `${Math.round(rate).toLocaleString("en")} codes/s`,
    `≥ ${target.toLocaleString("en")}/s`,
    rate >= target,
  );
}

function cliGenerate(dir: string, count: number, product: string): { seconds: number; root: string } {
  const args = [
    "bin/trace.js",
    "codes",
    "generate",
    "--product",
    product,
    "--count",
    String(count),
    "--out",
    path.join(dir, `${count}.txt`),
    "--state",
    path.join(dir, `${count}.state.json`),
    "--json",
  ];
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 20 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`generate failed: ${result.stderr}`);
  return { seconds, root: (JSON.parse(result.stdout) as { root: string }).root };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

/** Scan → proof: parse the code, find its leaf in the stored tree, read the sibling path. */
function benchProofs(dir: string, count: number): void {
  const codesFile = path.join(dir, `${count}.txt`);
  const all = fs.readFileSync(codesFile, "utf8").split("\n");
  const step = Math.max(1, Math.floor(all.length / 10_000));
  const sample = all.filter((line, i) => line !== "" && i % step === 0);
  const tree = openTree(path.join(dir, `${count}.tree`));
  const latencies: number[] = [];
  for (const text of sample) {
    const start = process.hrtime.bigint();
    tree.proof(parseCode(text).key);
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  tree.close();
  latencies.sort((a, b) => a - b);
  const p99 = percentile(latencies, 0.99);
  record(
    `proof for a code of the ${count.toLocaleString("en")}-code batch (stored tree, ${sample.length.toLocaleString("en")} codes)`,
    `p50 ${percentile(latencies, 0.5).toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, max ${(latencies.at(-1) as number).toFixed(3)} ms`,
    "≤ 2 ms",
    p99 <= 2,
  );
  const treeBytes = fs.statSync(path.join(dir, `${count}.tree`)).size;
  record(`stored tree size, ${count.toLocaleString("en")} codes`, `${(treeBytes / 2 ** 20).toFixed(0)} MiB`);
}

function benchBatches(dir: string): void {
  for (const count of [1_000_000, 10_000_000].filter((c) => c <= largest)) {
    const { seconds } = cliGenerate(dir, count, "8123456");
    const target = count === 1_000_000 ? "≤ 15 s" : "";
    record(
      `generate + commit (root) + store ${count.toLocaleString("en")} NMPA codes, \`trace codes generate\``,
      `${seconds.toFixed(1)} s`,
      target,
      count === 1_000_000 ? seconds <= 15 : undefined,
    );
    if (count === largest) benchProofs(dir, count);
  }
}

function writeSection(): void {
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const table = [
    "| measurement | figure | target | |",
    "| --- | --- | --- | --- |",
    ...rows.map((r) => `| ${r.what} | ${r.figure} | ${r.target} | ${r.verdict} |`),
  ];
  const section = [
    SECTION,
    "",
    `Command: \`${COMMAND}\` (bench/codes.ts), ${new Date().toISOString().slice(0, 10)}, on ${machine}.`,
    "Parse rates are the best of three passes over 250,000 codes per format after a warm-up pass; batch timings spawn the real CLI (process start included); proof latency covers parse + leaf lookup + sibling reads.",
    "",
    ...table,
    "",
  ].join("\n");
  writeBenchmarkSection(section);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-codes-"));
try {
  benchParsing();
  benchBatches(dir);
  writeSection();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
