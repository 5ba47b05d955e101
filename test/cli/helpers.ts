import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import hre from "hardhat";
import type { HardhatNetworkHDAccountsConfig } from "hardhat/types";
import { HDNodeWallet, Mnemonic } from "ethers";
import { run } from "../../src/cli/main";
import type { CliIo } from "../../src/cli/io";
import type { Deployment } from "../../src/indexer";

export type CliResult = { status: number; stdout: string; stderr: string };

/** Runs the CLI in-process with its own environment (no terminal: no prompts, no progress bars). */
export async function trace(env: Record<string, string | undefined>, ...argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (text) => out.push(text), err: (text) => err.push(text), interactive: false, env };
  const status = await run(["node", "trace", ...argv], io);
  return { status, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** The parsed --json answer of a command that must succeed. */
export function answerOf(result: CliResult): Record<string, any> {
  if (result.status !== 0) throw new Error(`exit ${result.status}: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, any>;
}

/** The --json error of a command that must fail with `status`. */
export function errorOf(result: CliResult, status: number): { code: string; message: string; field?: string } {
  if (result.status !== status) throw new Error(`expected exit ${status}, got ${result.status}: ${result.stdout}${result.stderr}`);
  return (JSON.parse(result.stderr) as { error: { code: string; message: string; field?: string } }).error;
}

/** A funded account of the Hardhat network, by index (0 is the fixtures' deployer). */
export function hardhatAccountKey(index: number): string {
  const accounts = hre.config.networks.hardhat.accounts as HardhatNetworkHDAccountsConfig;
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(accounts.mnemonic), `${accounts.path}/${index}`).privateKey;
}

export function workDir(): { dir: string; file(name: string): string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trace-cli-"));
  return { dir, file: (name) => path.join(dir, name), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function writeDeployment(file: string, deployment: Deployment, rpcUrl?: string): string {
  fs.writeFileSync(file, JSON.stringify({ ...deployment, rpcUrl }));
  return file;
}
