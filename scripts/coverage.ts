/**
 * Solidity line and branch coverage of contracts/ under the vitest suite: `npm run coverage [-- vitest args]`.
 *
 * `hardhat coverage` only runs mocha, so this drives solidity-coverage's API itself:
 *  1. instrument contracts/ (not contracts/test/, which holds test-only harnesses);
 *  2. compile the instrumented sources, optimizer off, into cache/coverage/ with scripts/solidity-coverage/hardhat.config.ts
 *     (the normal artifacts/ and typechain-types/ are left alone);
 *  3. run vitest (default: test/contracts but the property test) with HARDHAT_CONFIG pointing at that config, so every test process
 *     deploys the instrumented contracts; scripts/solidity-coverage/collect.ts attaches solidity-coverage's collector to
 *     each process's in-process network and writes the hits it saw;
 *  4. add up the hits and write the istanbul report to coverage/ (html, lcov, json) and a summary to stdout.
 *
 * Tracing every EVM step is slow; a property test named on the command line runs fewer sequences (FC_RUNS,
 * default 40). COVERAGE_MIN=95 makes the command fail below that line or branch coverage.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { COVERAGE_BUILD, HARDHAT_CONFIG, HITS_DIR, INSTRUMENTATION_DATA, INSTRUMENTED_SOURCES, PROJECT_ROOT } from "./solidity-coverage/paths";

type Instrumentation = Record<string, { hits: number }>;
type Target = { canonicalPath: string; relativePath: string; source: string };
type CoverageApi = {
  instrument(targets: Target[]): Target[];
  getInstrumentationData(): Instrumentation;
  instrumenter: { instrumentationData: Instrumentation };
  report(folder?: string): Promise<void>;
};
type Totals = Record<"lines" | "branches" | "statements" | "functions", { total: number; covered: number; pct: number }>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const API = require("solidity-coverage/lib/api") as new (config: object, hardfork?: string) => CoverageApi;

const CONTRACTS = path.join(PROJECT_ROOT, "contracts");
const SKIPPED = [path.join(CONTRACTS, "test")];
const REPORT_DIR = path.join(PROJECT_ROOT, "coverage");
/**
 * The contract tests, without the property test: under step tracing its per-step reads of the whole ledger take
 * seconds each, and every path it drives is also driven by the example-based tests (include it by naming it).
 */
const DEFAULT_TESTS = ["test/contracts", "--exclude", "test/contracts/invariants.test.ts"];

function solidityFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return SKIPPED.includes(full) ? [] : solidityFiles(full);
    return entry.name.endsWith(".sol") ? [full] : [];
  });
}

/** Runs one of the project's installed command-line tools. */
function run(tool: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const command = path.join(PROJECT_ROOT, "node_modules", ".bin", tool);
  const result = spawnSync(command, args, { cwd: PROJECT_ROOT, env, stdio: "inherit" });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

async function main() {
  const vitestArgs = process.argv.slice(2);
  rmSync(COVERAGE_BUILD, { recursive: true, force: true });
  mkdirSync(HITS_DIR, { recursive: true });

  // 1. Instrument.
  const api = new API({ cwd: PROJECT_ROOT, istanbulFolder: REPORT_DIR, istanbulReporter: ["html", "lcov", "json", "json-summary", "text"] }, "merge");
  const targets = solidityFiles(CONTRACTS).map((canonicalPath) => ({
    canonicalPath,
    relativePath: path.relative(PROJECT_ROOT, canonicalPath),
    source: readFileSync(canonicalPath, "utf8"),
  }));
  const instrumented = api.instrument(targets);
  // Hardhat names sources by their path from the project root, with forward slashes.
  const sources = Object.fromEntries(instrumented.map((t) => [t.relativePath.split(path.sep).join("/"), t.source]));
  writeFileSync(INSTRUMENTED_SOURCES, JSON.stringify(sources));
  writeFileSync(INSTRUMENTATION_DATA, JSON.stringify(api.getInstrumentationData()));

  // 2. Compile the instrumented sources into cache/coverage/artifacts.
  console.log(`\ncoverage: compiling ${instrumented.length} instrumented contracts`);
  if (run("hardhat", ["compile", "--config", HARDHAT_CONFIG, "--quiet"]) !== 0) {
    throw new Error("coverage: the instrumented contracts did not compile");
  }

  // 3. Run the tests against them.
  console.log("coverage: running the tests against the instrumented contracts");
  const testStatus = run(
    "vitest",
    ["run", "--config", "scripts/solidity-coverage/vitest.config.mjs", ...(vitestArgs.length > 0 ? vitestArgs : DEFAULT_TESTS)],
    { ...process.env, HARDHAT_CONFIG, FC_RUNS: process.env.FC_RUNS ?? "40" },
  );

  // 4. Add up every process's hits and report.
  const data = api.instrumenter.instrumentationData;
  const hitFiles = readdirSync(HITS_DIR);
  for (const file of hitFiles) {
    const hits = JSON.parse(readFileSync(path.join(HITS_DIR, file), "utf8")) as Record<string, number>;
    for (const [hash, count] of Object.entries(hits)) {
      const entry = data[hash];
      if (entry) entry.hits += count;
    }
  }
  if (hitFiles.length === 0) throw new Error("coverage: no test process reported any hits");
  await api.report(REPORT_DIR);

  const summary = JSON.parse(readFileSync(path.join(REPORT_DIR, "coverage-summary.json"), "utf8")) as Record<string, Totals>;
  const total = summary.total;
  const line = (name: keyof Totals) => `${total[name].pct.toFixed(2)} % (${total[name].covered}/${total[name].total})`;
  console.log(
    [
      "",
      "Solidity coverage of contracts/ (contracts/test/ excluded):",
      `  lines      ${line("lines")}`,
      `  branches   ${line("branches")}`,
      `  statements ${line("statements")}`,
      `  functions  ${line("functions")}`,
      `report: coverage/index.html, coverage/lcov.info, coverage/coverage-final.json`,
    ].join("\n"),
  );

  let status = testStatus;
  if (testStatus !== 0) console.error("coverage: some tests failed (the figures above count what ran)");
  const minimum = process.env.COVERAGE_MIN === undefined ? undefined : Number(process.env.COVERAGE_MIN);
  if (minimum !== undefined && (total.lines.pct < minimum || total.branches.pct < minimum)) {
    console.error(`coverage: line or branch coverage is below COVERAGE_MIN=${minimum} %`);
    status = 1;
  }
  process.exitCode = status;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
