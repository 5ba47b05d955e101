import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    // Chromium and PostgreSQL: a missing one fails the run at once, saying which.
    globalSetup: ["test/prerequisites.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Contract suites share one in-process Hardhat network per worker; two cores, so two forks.
    pool: "forks",
    maxWorkers: 2,
  },
});
