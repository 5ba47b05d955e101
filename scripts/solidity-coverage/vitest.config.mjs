// Vitest for coverage runs: the project's settings, plus the setup file that records Solidity coverage
// (setup files are concatenated, so it runs after test/setup.ts).
import { fileURLToPath } from "node:url";
import { defineConfig, mergeConfig } from "vitest/config";
import base from "../../vitest.config.mts";

export default mergeConfig(
  base,
  defineConfig({
    root: fileURLToPath(new URL("../..", import.meta.url)),
    test: { setupFiles: ["scripts/solidity-coverage/collect.ts"] },
  }),
);
