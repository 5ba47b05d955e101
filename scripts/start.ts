import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import hre from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { HDNodeWallet, Wallet, id as hashText } from "ethers";
import type { HardhatNetworkHDAccountsConfig } from "hardhat/types";
import TraceabilityLedger from "../ignition/modules/TraceabilityLedger";
import { Role } from "../src/attestations";
import { createLogger } from "../src/log";
import { startLedgerService } from "../src/service";

const HOST = "127.0.0.1";
const port = Number(process.env.TRACE_RPC_PORT ?? 8545);
const apiPort = Number(process.env.TRACE_API_PORT ?? 8080);
const dataDir = path.resolve(process.env.TRACE_DATA_DIR ?? ".data");

type JsonRpcServer = { listen(): Promise<{ address: string; port: number }>; close(): Promise<void> };

/** Starts the embedded chain on loopback and deploys the ledger with a freshly keyed first regulator. */
async function main() {
  for (const [name, value] of [["TRACE_RPC_PORT", port], ["TRACE_API_PORT", apiPort]] as const) {
    if (!Number.isInteger(value) || value < 1 || value > 65535) {
      throw new Error(`${name} must be a TCP port (1-65535), got "${process.env[name]}"`);
    }
  }
  const server: JsonRpcServer = await hre.run(TASK_NODE_CREATE_SERVER, {
    hostname: HOST,
    port,
    provider: hre.network.provider,
  });
  const listening = await server.listen();
  const regulatorKey = Wallet.createRandom();
  const firstRegulator = {
    regulatorId: 0,
    nonce: 0,
    role: Role.Regulator,
    region: 320000,
    licenceHash: hashText("Jiangsu Medical Products Administration"),
    signingKey: regulatorKey.address,
    name: "江苏省药品监督管理局 Jiangsu Medical Products Administration",
  };
  const startBlock = (await hre.ethers.provider.getBlockNumber()) + 1;
  const { registry, products, batches } = await hre.ignition.deploy(TraceabilityLedger, {
    parameters: { TraceabilityLedger: { firstRegulator } },
  });
  const { chainId } = await hre.ethers.provider.getNetwork();
  const deployment = {
    chainId: Number(chainId),
    rpcUrl: `http://${listening.address}:${listening.port}`,
    startBlock,
    contracts: {
      ConsortiumRegistry: await registry.getAddress(),
      ProductRegistry: await products.getAddress(),
      BatchLedger: await batches.getAddress(),
    },
  };
  await mkdir(dataDir, { recursive: true });
  await writeFile(path.join(dataDir, "deployment.json"), JSON.stringify(deployment, null, 2));
  // Development chain only: the bootstrap regulator's key is written in the clear so the demo can sign with it.
  await writeFile(
    path.join(dataDir, "dev-regulator-key.json"),
    JSON.stringify({ organizationId: 1, address: regulatorKey.address, privateKey: regulatorKey.privateKey }, null, 2),
    { mode: 0o600 },
  );
  const service = await startLedgerService({
    rpcUrl: deployment.rpcUrl,
    deployment,
    database: process.env.TRACE_DATABASE ?? path.join(dataDir, "ledger.sqlite"),
    dataDir,
    host: HOST,
    port: apiPort,
    log: createLogger(),
    relayerKey: devAccountKey(0),
  });
  console.log(`Chain JSON-RPC     ${deployment.rpcUrl} (chain id ${deployment.chainId})`);
  for (const [name, address] of Object.entries(deployment.contracts)) console.log(`${name.padEnd(18)} ${address}`);
  console.log(`Deployment file    ${path.join(dataDir, "deployment.json")}`);
  console.log(`API                ${service.apiUrl}/v1  (docs ${service.apiUrl}/docs, health ${service.apiUrl}/healthz)`);
  console.log("Press Ctrl-C to stop.");
  const stop = () =>
    service
      .stop()
      .then(() => server.close())
      .then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/** A funded account of the embedded chain (Hardhat's development mnemonic), to pay for relayed attestations. */
function devAccountKey(index: number): string {
  const accounts = hre.config.networks.hardhat.accounts as HardhatNetworkHDAccountsConfig;
  return HDNodeWallet.fromPhrase(accounts.mnemonic, accounts.passphrase, `${accounts.path}/${index}`).privateKey;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
