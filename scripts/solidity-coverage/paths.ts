import path from "node:path";

/** Where a coverage run keeps its instrumented build and the hits each test process records (git-ignored). */
export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
export const COVERAGE_BUILD = path.join(PROJECT_ROOT, "cache", "coverage");
export const INSTRUMENTED_SOURCES = path.join(COVERAGE_BUILD, "instrumented-sources.json");
export const INSTRUMENTATION_DATA = path.join(COVERAGE_BUILD, "instrumentation.json");
export const HITS_DIR = path.join(COVERAGE_BUILD, "hits");
export const HARDHAT_CONFIG = path.join(PROJECT_ROOT, "scripts", "solidity-coverage", "hardhat.config.ts");
