/**
 * The project's Hardhat config, for a coverage run: the sources that scripts/coverage.ts instrumented are compiled
 * (optimizer off, as solidity-coverage requires) into a separate artifacts folder, so the normal build is never
 * touched, and the in-process network accepts the larger instrumented contracts. Test processes load it through
 * HARDHAT_CONFIG; scripts/solidity-coverage/collect.ts then records which instrumented lines and branches ran.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { subtask } from "hardhat/config";
import {
  TASK_COMPILE_SOLIDITY_GET_COMPILATION_JOB_FOR_FILE,
  TASK_COMPILE_SOLIDITY_GET_COMPILER_INPUT,
  TASK_COMPILE_SOLIDITY_LOG_COMPILATION_ERRORS,
} from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import type { CompilerInput } from "hardhat/types";
import baseConfig from "../../hardhat.config";
import { COVERAGE_BUILD, INSTRUMENTED_SOURCES, PROJECT_ROOT } from "./paths";

subtask(TASK_COMPILE_SOLIDITY_GET_COMPILER_INPUT).setAction(async (_args, _hre, runSuper) => {
  const input = (await runSuper()) as CompilerInput;
  const instrumented = JSON.parse(readFileSync(INSTRUMENTED_SOURCES, "utf8")) as Record<string, string>;
  for (const [sourceName, source] of Object.entries(input.sources)) {
    const replacement = instrumented[sourceName];
    if (replacement !== undefined) source.content = replacement;
  }
  return input;
});

subtask(TASK_COMPILE_SOLIDITY_GET_COMPILATION_JOB_FOR_FILE).setAction(async (_args, _hre, runSuper) => {
  // A compilation job (or, for a file that cannot be compiled, the reason why).
  const job = (await runSuper()) as { solidityConfig?: { settings?: unknown } };
  if (typeof job === "object" && job.solidityConfig) {
    const settings = (job.solidityConfig.settings ??= {}) as {
      optimizer?: { enabled?: boolean };
      metadata?: { useLiteralContent?: boolean };
    };
    // The optimizer would remove the instrumentation's no-op calls; literal sources would bloat the metadata.
    settings.optimizer = { ...settings.optimizer, enabled: false };
    settings.metadata = { ...settings.metadata, useLiteralContent: false };
  }
  return job;
});

// The instrumented build warns about what instrumentation adds (code size, unused values): not the project's.
subtask(TASK_COMPILE_SOLIDITY_LOG_COMPILATION_ERRORS).setAction(async (_args, _hre, runSuper) => {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    await runSuper();
  } finally {
    console.warn = warn;
  }
});

const config: HardhatUserConfig = {
  ...baseConfig,
  paths: {
    ...baseConfig.paths,
    root: PROJECT_ROOT,
    artifacts: path.join(COVERAGE_BUILD, "artifacts"),
    cache: path.join(COVERAGE_BUILD, "cache"),
  },
  networks: {
    ...baseConfig.networks,
    hardhat: {
      ...baseConfig.networks?.hardhat,
      // Instrumented, unoptimized contracts are larger than the 24 KiB limit and cost more gas.
      allowUnlimitedContractSize: true,
      blockGasLimit: 0x1fffffffffffff,
      initialBaseFeePerGas: 0,
    },
  },
  // Tests use the typechain types only as types; the instrumented build needs none of its own.
  typechain: { ...baseConfig.typechain, outDir: path.join(COVERAGE_BUILD, "typechain-types"), dontOverrideCompile: true },
};

export default config;
