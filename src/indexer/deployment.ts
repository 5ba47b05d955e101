import { readFile } from "node:fs/promises";
import { isAddress } from "ethers";
import type { Deployment } from "./decode";
import { LEDGER_CONTRACTS } from "../ledger";

/** A deployment file: where the ledger's contracts live (written by `npm start` or an Ignition deployment). */
export type DeploymentFile = Deployment & { rpcUrl?: string; startBlock?: number };

/** Reads and checks a deployment file; a bad one stops with a message naming the file and the field. */
export async function readDeployment(file: string): Promise<DeploymentFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new Error(`cannot read deployment file ${file}: ${(error as Error).message}`);
  }
  const value = parsed as Partial<DeploymentFile>;
  if (!Number.isInteger(value.chainId)) throw new Error(`deployment file ${file}: chainId must be an integer`);
  for (const name of LEDGER_CONTRACTS) {
    const address = value.contracts?.[name];
    if (typeof address !== "string" || !isAddress(address)) {
      throw new Error(`deployment file ${file}: contracts.${name} must be a contract address`);
    }
  }
  if (value.relayBundle !== undefined && !(typeof value.relayBundle === "string" && isAddress(value.relayBundle))) {
    throw new Error(`deployment file ${file}: relayBundle must be a contract address`);
  }
  if (value.startBlock !== undefined && !(Number.isInteger(value.startBlock) && value.startBlock >= 0)) {
    throw new Error(`deployment file ${file}: startBlock must be a block number`);
  }
  return value as DeploymentFile;
}
