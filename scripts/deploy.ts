/**
 * `npm run deploy`: deploys the ledger's contracts with Hardhat Ignition to the network at TRACE_DEPLOY_RPC_URL,
 * paid for by TRACE_DEPLOYER_KEY, and writes the deployment file the indexer and API read
 * (`npm start -- --rpc URL --deployment FILE`). `npm run deploy -- --help`.
 */
import path from "node:path";
import { Command, CommanderError } from "commander";
import { isAddress } from "ethers";

type DeployArguments = {
  regulatorAddress: string;
  regulatorName: string;
  regulatorRegion: string;
  regulatorLicence: string;
  out: string;
  deploymentId?: string;
  undoWindowDays: string;
};

function program() {
  return new Command("npm run deploy --")
    .description("Deploys the ledger with Hardhat Ignition to TRACE_DEPLOY_RPC_URL, paid by TRACE_DEPLOYER_KEY, and writes the deployment file.")
    .requiredOption("--regulator-address <address>", "signing key (address) of the first regulator, who onboards everyone else")
    .option("--regulator-name <name>", "the first regulator's name", "江苏省药品监督管理局 Jiangsu Medical Products Administration")
    .option("--regulator-region <code>", "its province (administrative division code)", "320000")
    .option("--regulator-licence <text>", "the text whose hash is recorded as its licence", "Jiangsu Medical Products Administration")
    .option("--out <file>", "the deployment file to write", path.join(process.env.TRACE_DATA_DIR ?? ".data", "deployment.json"))
    .option("--undo-window-days <days>", "days within which an organization may undo its own dispensing, sample or export", "10")
    .option("--deployment-id <id>", "Ignition's deployment id (its journal in ignition/deployments/<id> lets a rerun resume)")
    .exitOverride()
    .configureOutput({ writeOut: (text) => process.stdout.write(text), writeErr: () => undefined });
}

/** Checks every argument and variable before Hardhat is loaded; a bad one exits 2 with a message naming it. */
function parse(argv: string[]): DeployArguments {
  const command = program();
  command.parse(argv, { from: "user" });
  const args = command.opts<DeployArguments>();
  const rpcUrl = process.env.TRACE_DEPLOY_RPC_URL;
  if (!rpcUrl || !/^https?:\/\//.test(rpcUrl))
    throw new UsageError("TRACE_DEPLOY_RPC_URL must be the JSON-RPC URL (http:// or https://) of a node of the network to deploy to");
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(process.env.TRACE_DEPLOYER_KEY ?? "")) {
    throw new UsageError("TRACE_DEPLOYER_KEY must be the private key (64 hex digits) of a funded account of that network");
  }
  if (!isAddress(args.regulatorAddress))
    throw new UsageError(`--regulator-address must be an Ethereum address, got ${JSON.stringify(args.regulatorAddress)}`);
  if (!/^\d{6}$/.test(args.regulatorRegion))
    throw new UsageError(
      `--regulator-region must be a 6-digit administrative division code such as 320000, got ${JSON.stringify(args.regulatorRegion)}`,
    );
  if (!/^\d+$/.test(args.undoWindowDays) || Number(args.undoWindowDays) > 3650) {
    throw new UsageError(`--undo-window-days must be a whole number of days from 0 to 3650, got ${JSON.stringify(args.undoWindowDays)}`);
  }
  return args;
}

class UsageError extends Error {}

async function main() {
  const args = parse(process.argv.slice(2));
  process.env.HARDHAT_NETWORK = "deploy"; // the network hardhat.config.ts defines from TRACE_DEPLOY_RPC_URL
  const { default: hre } = await import("hardhat");
  await hre.run("compile", { quiet: true });
  const { deployLedger, writeDeployment } = await import("../src/chain/deploy");
  const deployment = await deployLedger(hre, {
    rpcUrl: process.env.TRACE_DEPLOY_RPC_URL as string,
    firstRegulator: {
      name: args.regulatorName,
      region: Number(args.regulatorRegion),
      licence: args.regulatorLicence,
      signingKey: args.regulatorAddress,
    },
    ...(args.deploymentId ? { deploymentId: args.deploymentId } : {}),
    undoWindow: Number(args.undoWindowDays) * 24 * 3600,
    // QBFT blocks are final when sealed: waiting for more confirmations adds time, not safety.
    requiredConfirmations: 1,
  });
  const out = path.resolve(args.out);
  await writeDeployment(out, deployment);
  for (const [name, address] of Object.entries(deployment.contracts)) console.log(`${name.padEnd(18)} ${address}`);
  console.log(`Deployment file    ${out} (chain id ${deployment.chainId}, start block ${deployment.startBlock})`);
}

main().catch((error: unknown) => {
  if (error instanceof CommanderError && error.exitCode === 0) process.exit(0); // --help
  if (error instanceof CommanderError || error instanceof UsageError) {
    console.error(`npm run deploy: ${error.message.replace(/^error: /, "")}\nSee: npm run deploy -- --help`);
    process.exit(2);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
