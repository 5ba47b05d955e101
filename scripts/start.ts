/**
 * `npm start`: the embedded development chain (durable: journaled and replayed), the contracts deployed with
 * Hardhat Ignition, the demo consortium and history on first start, then the indexer and the HTTP API.
 * `npm start -- --rpc URL --deployment FILE` attaches to an existing chain instead. `npm start -- --help`.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, Wallet } from "ethers";
import type { HardhatNetworkHDAccountsConfig, HardhatRuntimeEnvironment } from "hardhat/types";
import { parseStartOptions, StartHelp, StartOptionsError } from "../src/chain/options";
import type { StartOptions } from "../src/chain/options";
import { sampleLines } from "../src/demo/files";
import { StoreLostError, StoreMismatchError } from "../src/ops/continuity";
import { DataDirectoryLockedError, lockDataDirectory } from "../src/ops/data-dir";
import { listenHttp, PortInUseError } from "../src/ops/listen";
import type { ScanSample } from "../src/demo/seed";
import { BackupError, backupStore, restoreStore } from "../src/store/backup";
import { StoreDamagedError } from "../src/store/health";
import type { DeploymentFile } from "../src/indexer/deployment";

const HOST = "127.0.0.1";

async function main(): Promise<void> {
  const options = parseStartOptions(process.argv.slice(2));
  // A backup reads a consistent copy beside a running ledger, so it takes no lock.
  if (options.storeCopy?.kind === "backup") return backUp(options.database, options.storeCopy.file);
  // Before anything is journaled, seeded or indexed: the data directory is this start's alone, and both ports
  // are ours (another process answering the printed URL would give the demo's codes its own verdicts).
  const lock = lockDataDirectory(options.dataDir);
  if (options.storeCopy?.kind === "restore") return restore(options.database, options.storeCopy.file);
  const api = await listen(options.apiPort, "--port or TRACE_API_PORT");
  const chain =
    options.chain.kind === "embedded"
      ? { kind: "embedded" as const, server: await listen(options.chain.rpcPort, "--rpc-port or TRACE_RPC_PORT") }
      : options.chain;
  // Loaded only once the arguments are good: a typo fails at once, not after Hardhat has started.
  const { default: hre } = await import("hardhat");
  // A fresh clone has no artifacts or typechain types yet; this compiles them (solc from npm), or is a no-op.
  await hre.run("compile", { quiet: true });
  // Everything written from here on (journal, deployment file, code trees, demo files) is its owner's only. Not
  // earlier: the compiled artifacts in the repository stay readable as before.
  process.umask(0o077);
  const running = chain.kind === "embedded" ? await runEmbedded(hre, options, chain.server, api) : await runAttached(options, chain, api);
  const stop = async () => {
    await running.stop();
    lock.release();
    process.exit(process.exitCode ?? 0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

async function backUp(database: string, file: string) {
  await backupStore(database, file);
  console.log(`Backed up ${displayed(database)} to ${file}`);
}

async function restore(database: string, file: string) {
  await restoreStore(database, file);
  console.log(`Restored ${displayed(database)} from ${file}; npm start serves it again`);
}

/** A database location for people to read: a PostgreSQL URL without its password. */
function displayed(database: string) {
  return database.startsWith("postgres") ? database.replace(/\/\/[^@]*@/, "//…@") : database;
}

/** Listens on `port`, or explains which setting chooses another when it is taken. */
async function listen(port: number, setting: string): Promise<Server> {
  try {
    return await listenHttp(HOST, port);
  } catch (error) {
    if (error instanceof PortInUseError)
      throw new StartOptionsError(`${error.message}: stop that process, or choose another port with ${setting} (0 picks any free port)`);
    throw error;
  }
}

type Running = { stop(): Promise<void> };

async function runEmbedded(hre: HardhatRuntimeEnvironment, options: StartOptions, rpcServer: Server, apiServer: Server): Promise<Running> {
  const { startEmbeddedChain } = await import("../src/chain/embedded");
  const { deployLedger, writeDeployment } = await import("../src/chain/deploy");
  const { readDeployment } = await import("../src/indexer/deployment");
  const chain = await startEmbeddedChain({ hre, dataDir: options.dataDir, server: rpcServer });
  // Ignition and hre.ethers take the network's provider when first used: they must write through the journal.
  hre.network.provider = chain.provider;
  const deploymentFile = path.join(options.dataDir, "deployment.json");
  const regulatorFile = path.join(options.dataDir, "dev-regulator-key.json");
  let deployment: DeploymentFile;
  if (chain.fresh) {
    // A new chain: whatever an earlier chain left in the data directory describes contracts that are gone.
    rmSync(path.join(options.dataDir, "demo"), { recursive: true, force: true });
    const regulatorKey = Wallet.createRandom();
    deployment = await deployLedger(hre, {
      rpcUrl: chain.url,
      firstRegulator: {
        name: "江苏省药品监督管理局 Jiangsu Medical Products Administration",
        region: 320000,
        licence: "Jiangsu Medical Products Administration",
        signingKey: regulatorKey.address,
      },
    });
    // Development chain only: the bootstrap regulator's key is kept in the clear so the demo can sign with it.
    writeFileSync(regulatorFile, JSON.stringify({ organizationId: 1, address: regulatorKey.address, privateKey: regulatorKey.privateKey }, null, 2), {
      mode: 0o600,
    });
  } else {
    if (!existsSync(deploymentFile)) {
      throw new Error(
        `the chain in ${path.join(options.dataDir, "chain")} was restored, but ${deploymentFile} is missing (the first start stopped before deploying); move ${path.join(options.dataDir, "chain")} aside to start over`,
      );
    }
    // The journal restored the same contracts; only the RPC port may have changed.
    deployment = { ...(await readDeployment(deploymentFile)), rpcUrl: chain.url };
  }
  await writeDeployment(deploymentFile, deployment);
  const relayerKey = devAccountKey(hre, 0);
  const { service, samples } = await serve(options, deployment, chain.url, apiServer, relayerKey, () => readRegulatorKey(regulatorFile));
  console.log(
    chain.fresh
      ? `Chain JSON-RPC     ${chain.url} (chain id ${chain.chainId}, new; journal ${path.join(options.dataDir, "chain", "journal")})`
      : `Chain JSON-RPC     ${chain.url} (chain id ${chain.chainId}, restored ${chain.replayed.blocks} blocks from ${path.join(options.dataDir, "chain", "journal")}${chain.replayed.truncatedTail ? "; dropped a half-written last entry" : ""})`,
  );
  printWhere(options, deployment, deploymentFile, service, samples);
  return {
    async stop() {
      await service.stop();
      await chain.close();
    },
  };
}

async function runAttached(options: StartOptions, chain: { rpcUrl: string; deploymentFile: string }, apiServer: Server): Promise<Running> {
  const { readDeployment } = await import("../src/indexer/deployment");
  const deployment = { ...(await readDeployment(chain.deploymentFile)), rpcUrl: chain.rpcUrl };
  const relayerKey = process.env.TRACE_RELAYER_KEY;
  if (options.demo && !relayerKey)
    throw new Error("--demo on an existing chain needs TRACE_RELAYER_KEY, the private key of a funded account to pay for the demo's transactions");
  const regulatorFile = path.join(options.dataDir, "dev-regulator-key.json");
  const { service, samples } = await serve(options, deployment, chain.rpcUrl, apiServer, relayerKey, () => readRegulatorKey(regulatorFile));
  console.log(`Chain JSON-RPC     ${chain.rpcUrl} (chain id ${deployment.chainId}, attached)`);
  printWhere(options, deployment, chain.deploymentFile, service, samples);
  if (!relayerKey) console.log("Relay              off (set TRACE_RELAYER_KEY to a funded account's key to relay signed attestations)");
  return service;
}

type Service = Awaited<ReturnType<typeof import("../src/service").startLedgerService>>;

/**
 * Seeds the demo when asked and not done yet, then runs the indexer and API and registers the demo's codes
 * (again, if the database was rebuilt).
 */
async function serve(
  options: StartOptions,
  deployment: DeploymentFile,
  rpcUrl: string,
  apiServer: Server,
  relayerKey: string | undefined,
  regulatorKey: () => Wallet,
) {
  const { startLedgerService } = await import("../src/service");
  const { createLogger } = await import("../src/log");
  const { keepDemoReasons, readDemo, registerDemoCases, registerDemoCodes, uploadDemoDocuments, writeDemo } = await import("../src/demo/files");
  let demo = options.demo ? readDemo(options.dataDir) : undefined;
  if (options.demo && !demo) {
    const { seedDemo } = await import("../src/demo/seed");
    const provider = new JsonRpcProvider(rpcUrl, deployment.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    try {
      await checkUnseeded(provider, deployment, options.dataDir);
      const latest = await provider.getBlock("latest");
      console.log("Seeding the demo consortium and history …");
      const seed = await seedDemo({
        deployment,
        relayer: new Wallet(relayerKey as string, provider),
        regulatorKey: regulatorKey(),
        now: latest?.timestamp ?? Math.floor(Date.now() / 1000),
      });
      writeDemo(options.dataDir, seed);
      demo = seed;
    } finally {
      provider.destroy();
    }
  }
  const service = await startLedgerService({
    rpcUrl,
    deployment,
    database: options.database,
    dataDir: options.dataDir,
    server: apiServer,
    publicRateLimit: options.publicRateLimit,
    maxRange: options.maxRange,
    verification: options.verification,
    acceptLostStore: options.acceptLostStore,
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    log: createLogger(),
    ...(relayerKey ? { relayerKey } : {}),
  });
  if (demo) {
    await registerDemoCodes(service.services.codes, demo.batches, service.services.now());
    await registerDemoCases(service.services, demo.batches);
    await keepDemoReasons(service.services, demo.reasons);
    if (service.services.documents) await uploadDemoDocuments(service.services.documents, demo.documents);
  }
  return { service, samples: demo?.samples };
}

/** The demo assumes a ledger with only its bootstrap regulator: a half-seeded one cannot be finished. */
async function checkUnseeded(provider: JsonRpcProvider, deployment: DeploymentFile, dataDir: string) {
  const { ConsortiumRegistry__factory } = await import("../typechain-types");
  const organizations = await ConsortiumRegistry__factory.connect(deployment.contracts.ConsortiumRegistry, provider).organizationCount();
  if (organizations !== 1n) {
    throw new Error(
      `the demo seeds a ledger that has only its first regulator, but this one has ${organizations} organizations and no ${path.join(dataDir, "demo", "organizations.json")} ` +
        `(an earlier start stopped while seeding?); start with --no-demo, or move ${path.join(dataDir, "chain")} aside to start a new chain`,
    );
  }
}

function readRegulatorKey(file: string): Wallet {
  if (!existsSync(file)) throw new Error(`the demo signs as the bootstrap regulator, whose key ${file} is missing`);
  return new Wallet((JSON.parse(readFileSync(file, "utf8")) as { privateKey: string }).privateKey);
}

function printWhere(options: StartOptions, deployment: DeploymentFile, deploymentFile: string, service: Service, samples: ScanSample[] | undefined) {
  for (const [name, address] of Object.entries(deployment.contracts)) console.log(`${name.padEnd(18)} ${address}`);
  console.log(`Deployment file    ${deploymentFile}`);
  console.log(`Database           ${displayed(options.database)}`);
  console.log(`API                ${service.apiUrl}/v1  (docs ${service.apiUrl}/docs, health ${service.apiUrl}/healthz, web ${service.apiUrl}/)`);
  if (samples) {
    console.log(`Demo keys          ${path.join(options.dataDir, "demo", "organizations.json")} (development only)`);
    console.log(`Codes to scan      POST ${service.apiUrl}/v1/scans {"code": …}; \\u001d is the GS1 group separator`);
    for (const line of sampleLines(samples)) console.log(line);
  }
  console.log("Press Ctrl-C to stop.");
}

/** A funded account of the embedded chain (Hardhat's development mnemonic), to pay for relayed attestations. */
function devAccountKey(hre: HardhatRuntimeEnvironment, index: number): string {
  const accounts = hre.config.networks.hardhat.accounts as HardhatNetworkHDAccountsConfig;
  return HDNodeWallet.fromPhrase(accounts.mnemonic, accounts.passphrase, `${accounts.path}/${index}`).privateKey;
}

const RESTORE = 'restore the store\'s last backup (npm start -- --restore FILE; README "Operations")';
const REBUILD =
  "without a backup, start with --accept-lost-store: the chain is indexed again and the registered codes come back from the data directory, " +
  "but subscriptions, alerts, recall progress reports and scan observations are lost";

/** Why the ledger refuses to run, and what the operator does about it; undefined for an unexpected failure. */
function refusal(error: unknown): string | undefined {
  if (error instanceof DataDirectoryLockedError) return `${error.message}; stop it first, or give this start another --data-dir (TRACE_DATA_DIR)`;
  if (error instanceof StoreDamagedError)
    return `${error.message}. Stop serving from it: ${RESTORE}; or move ${error.location} aside and, ${REBUILD}`;
  if (error instanceof StoreLostError) return `${error.message}. To get them back, ${RESTORE}; or, ${REBUILD}`;
  if (error instanceof StoreMismatchError) {
    return `${error.message}. Give the --database this data directory was used with, or ${RESTORE}; if this store is the right one, delete ${path.join(error.dataDir, "store-id")}`;
  }
  if (error instanceof BackupError) return error.message;
  return undefined;
}

main().catch((error: unknown) => {
  if (error instanceof StartHelp) {
    console.log(error.message);
    process.exit(0);
  }
  if (error instanceof StartOptionsError) {
    console.error(`npm start: ${error.message}\nSee: npm start -- --help`);
    process.exit(2);
  }
  const refused = refusal(error);
  if (refused) {
    console.error(`npm start: ${refused}`);
    process.exit(2);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
