import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-ethers";
import "@nomicfoundation/hardhat-chai-matchers";
import "@nomicfoundation/hardhat-ignition-ethers";
import "@typechain/hardhat";
import "solidity-coverage";

// The machine is offline: Hardhat cannot download solc, so compile with the pinned npm `solc` (wasm).
const solcPackage = require("solc/package.json") as { version: string };
const SOLC_VERSION = solcPackage.version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD).setAction(async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper(args);
  const solc = require("solc") as { version(): string };
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      // Besu and GoQuorum QBFT networks run the Paris (London + PoS opcodes) EVM; no Cancun opcodes.
      evmVersion: "paris",
      optimizer: { enabled: true, runs: 1000 },
      viaIR: true,
    },
  },
  networks: {
    hardhat: { hardfork: "merge" },
    // `npm run deploy`: a real network (e.g. Besu QBFT) named by URL, paid for by the deployer's key.
    ...(process.env.TRACE_DEPLOY_RPC_URL
      ? {
          deploy: {
            url: process.env.TRACE_DEPLOY_RPC_URL,
            accounts: process.env.TRACE_DEPLOYER_KEY ? [process.env.TRACE_DEPLOYER_KEY] : [],
            // Ignition pays a zero fee when the chain's base fee is zero (Besu's zeroBaseFee) and asks
            // eth_gasPrice on a chain without one (Besu's free gas, min-gas-price 0): no fee setting needed.
          },
        }
      : {}),
  },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  paths: { tests: "test/contracts" },
};

export default config;
