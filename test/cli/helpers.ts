import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import hre from "hardhat";
import type { HardhatNetworkHDAccountsConfig } from "hardhat/types";
import { HDNodeWallet, Mnemonic } from "ethers";
import { run } from "../../src/cli/main";
import type { CliIo } from "../../src/cli/io";
import type { Deployment } from "../../src/indexer";
import type { AddressInfo } from "node:net";
import { createApp } from "../../src/api/app";
import type { AnyRoute } from "../../src/api/routes";
import { createRelay, relayRoutes } from "../../src/api/relay";
import { deploymentOf } from "../indexer/chain";
import type { ApiHarness } from "../api/harness";

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

/**
 * The harness's API with the relay, listening on loopback for the CLI, and the deployment file the CLI signs for (no
 * rpcUrl: through the API the CLI needs only the chain id and the addresses). `routes` adds routes beside the relay's.
 * `follow()` starts indexing the chain as it grows (after whatever catch-up the test does first); `close()` ends it
 * all: following, the API and its relay, the harness and the work directory.
 */
export async function serveRelayedApi(
  h: ApiHarness,
  work: ReturnType<typeof workDir>,
  routes: AnyRoute[] = [],
): Promise<{ api: string; deployment: string; follow(): void; close(): Promise<void> }> {
  const chainDeployment = await deploymentOf(h.c);
  const relay = createRelay({
    rpcUrl: h.chain.url,
    relayerKey: hardhatAccountKey(1),
    deployment: chainDeployment,
    store: h.store,
    pollIntervalMs: 20,
  });
  const server = createApp(h.services, [...relayRoutes(relay), ...routes]).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const following = new AbortController();
  let followed: Promise<void> | undefined;
  return {
    api: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deployment: writeDeployment(work.file("deployment.json"), chainDeployment),
    follow() {
      followed = h.indexer.follow(following.signal);
    },
    async close() {
      following.abort();
      await followed;
      relay.close();
      await new Promise((resolve) => server.close(resolve));
      await h.close();
      work.remove();
    },
  };
}
