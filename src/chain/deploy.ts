import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { id as hashText } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import TraceabilityLedger from "../../ignition/modules/TraceabilityLedger";
import { DEFAULT_UNDO_WINDOW, Role } from "../ledger";
import type { DeploymentFile } from "../indexer/deployment";

/** The regulator the deployment bootstraps as organization 1; it onboards everyone else. */
export type FirstRegulator = { name: string; region: number; licence: string; signingKey: string };

export type DeployOptions = {
  firstRegulator: FirstRegulator;
  /** The JSON-RPC URL written into the deployment file for the indexer and API. */
  rpcUrl: string;
  /** Ignition's deployment id: on a real network its journal in ignition/deployments/<id> makes a retry resume. */
  deploymentId?: string;
  /** Blocks Ignition waits for after each transaction (QBFT blocks are final at once: 1). */
  requiredConfirmations?: number;
  /** Seconds a dispensing, sample or export may be undone by its setter (DEFAULT_UNDO_WINDOW when absent). */
  undoWindow?: number;
};

/**
 * Deploys the ledger's contracts with Hardhat Ignition on `hre`'s network and returns the deployment file's
 * content: chain id, RPC URL, the first block that can hold a ledger event, and the contract addresses.
 */
export async function deployLedger(hre: HardhatRuntimeEnvironment, options: DeployOptions): Promise<DeploymentFile> {
  const { firstRegulator } = options;
  const provider = hre.network.provider;
  const startBlock = Number(await provider.request({ method: "eth_blockNumber" })) + 1;
  const { registry, products, qualityDuties, batches, aggregations, alertCases, correctiveActions, supervision, relayBundle } =
    await hre.ignition.deploy(TraceabilityLedger, {
      parameters: {
        TraceabilityLedger: {
          firstRegulator: {
            regulatorId: 0,
            nonce: 0,
            role: Role.Regulator,
            region: firstRegulator.region,
            licenceHash: hashText(firstRegulator.licence),
            signingKey: firstRegulator.signingKey,
            name: firstRegulator.name,
          },
          undoWindow: options.undoWindow ?? DEFAULT_UNDO_WINDOW,
        },
      },
      ...(options.deploymentId ? { deploymentId: options.deploymentId } : {}),
      ...(options.requiredConfirmations ? { config: { requiredConfirmations: options.requiredConfirmations } } : {}),
    });
  return {
    chainId: Number(await provider.request({ method: "eth_chainId" })),
    rpcUrl: options.rpcUrl,
    startBlock,
    contracts: {
      ConsortiumRegistry: await registry.getAddress(),
      ProductRegistry: await products.getAddress(),
      BatchLedger: await batches.getAddress(),
      AggregationLedger: await aggregations.getAddress(),
      AlertCases: await alertCases.getAddress(),
      CorrectiveActions: await correctiveActions.getAddress(),
      QualityDuties: await qualityDuties.getAddress(),
      SupervisionRecords: await supervision.getAddress(),
    },
    relayBundle: await relayBundle.getAddress(),
  };
}

/** Writes a deployment file atomically, so a reader never sees half of one. */
export async function writeDeployment(file: string, deployment: DeploymentFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const pending = `${file}.${process.pid}.tmp`;
  await writeFile(pending, `${JSON.stringify(deployment, null, 2)}\n`);
  await rename(pending, file);
}
