/**
 * anvil (Foundry's node, from the npm package @foundry-rs/anvil-linux-amd64: a binary shipped in the registry
 * package) as a second node implementation beside Hardhat's network: the indexer, `npm run deploy` and `npm start`
 * are tested against both. It runs as QBFT networks do: gas is free (gas price, base fee and priority fee zero).
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { setTimeout as pause } from "node:timers/promises";

/** The first of anvil's development accounts (its default mnemonic), funded and unlocked for eth_sendTransaction. */
export const ANVIL_ACCOUNT = {
  address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
  privateKey: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
};

export type AnvilNode = { url: string; pid: number; child: ChildProcess; close(): Promise<void> };

const READY_TRIES = 200;
const LAUNCH_TRIES = 5;

/** The anvil binary the npm package ships. */
export function anvilBinary(): string {
  return path.join(path.dirname(require.resolve("@foundry-rs/anvil-linux-amd64/package.json")), "bin", "anvil");
}

/** A loopback port free at this moment (anvil, told port 0, would not say which it took while --silent). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
    });
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Starts anvil on 127.0.0.1 (chain id 31337, the Paris EVM the contracts are compiled for, zero gas price) and waits
 * until it answers. If another process took the port in between, anvil exits and is started again on another;
 * unless `port` is given (a node restarted where it was), which is then tried alone.
 */
export async function startAnvil(extraArgs: string[] = [], port?: number): Promise<AnvilNode> {
  for (let launch = 0; launch < (port === undefined ? LAUNCH_TRIES : 1); launch++) {
    const tried = port ?? (await freePort());
    const args = ["--host", "127.0.0.1", "--port", String(tried), "--chain-id", "31337", "--hardfork", "paris"];
    args.push("--gas-price", "0", "--base-fee", "0", "--disable-min-priority-fee", "--silent", ...extraArgs);
    const child = spawn(anvilBinary(), args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const url = `http://127.0.0.1:${tried}`;
    for (let i = 0; i < READY_TRIES && child.exitCode === null; i++) {
      if (await answers(url)) return { url, pid: child.pid!, child, close: () => stopAnvil(child, exited) };
      await pause(25);
    }
    await stopAnvil(child, exited);
    if (!/address already in use|Address in use/i.test(stderr)) throw new Error(`anvil did not start: ${stderr.trim() || "no answer"}`);
  }
  throw new Error(port === undefined ? `anvil found no free port in ${LAUNCH_TRIES} tries` : `anvil could not take port ${port}`);
}

/** Ends this anvil (by its pid) and waits for it to exit. */
async function stopAnvil(child: ChildProcess, exited: Promise<void>) {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  process.kill(child.pid, "SIGTERM");
  await Promise.race([exited, pause(5_000)]);
  if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
  await exited;
}
