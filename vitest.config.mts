import { defineConfig } from "vitest/config";
import { BaseSequencer } from "vitest/node";
import type { TestSpecification } from "vitest/node";

/**
 * The files that take longest, longest first (measured on two cores). Started first, they run beside the many short
 * files rather than after them, so neither fork is left finishing a long file alone; without vitest's cache of
 * durations (a fresh clone, CI) the largest files would go first, and these are not all large.
 */
const LONGEST_FIRST = [
  "api/fuzz",
  "contracts/invariants",
  "indexer/fast-verify",
  "start/start",
  "start/several-servers",
  "indexer/crash",
  "start/journal",
  "api/codes-upload",
  "indexer/node-failures",
  "web/pages",
  "indexer/reorg",
  "codes/cli",
  "indexer/apply",
  "cli/keys",
  "start/postgres-lost",
  "start/deploy",
  "indexer/verification",
].map((name) => `/test/${name}.test.ts`);

/** Vitest's order (cached durations, else file size) with LONGEST_FIRST ahead of every other file. */
class LongestFirst extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (file: TestSpecification) => {
      const place = LONGEST_FIRST.findIndex((name) => file.moduleId.endsWith(name));
      return place < 0 ? LONGEST_FIRST.length : place;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    // Chromium and PostgreSQL: a missing one fails the run at once, saying which.
    globalSetup: ["test/prerequisites.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores, so two forks. Each runs its files one after another in one process (no isolation): starting a
    // process, loading Hardhat, ethers and the sources and creating the network cost about 1.5 s of CPU per file, a
    // third of the suite. test/setup.ts resets the shared Hardhat network before each file.
    pool: "forks",
    maxWorkers: 2,
    isolate: false,
    sequence: { sequencer: LongestFirst },
  },
});
