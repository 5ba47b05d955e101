/**
 * The benchmark's node: Hardhat's network served as JSON-RPC on a loopback port, in its own process so the
 * indexer under measurement does not share an event loop with the node (as with a real Besu or GoQuorum node).
 * Started by bench/indexer.ts (node --require hardhat/register, as `hardhat run` does) with BENCH_NODE_PORT set;
 * stops on SIGTERM.
 * Unlike `hardhat node` it logs nothing per request, so the node spends its time answering.
 */
import hre from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { EIP1193Provider } from "hardhat/types";

type JsonRpcServer = { listen(): Promise<{ address: string; port: number }>; close(): Promise<void> };

/**
 * The Hardhat network without Solidity stack traces: given no artifacts, Hardhat does not hand the contracts' build
 * info to its EDR runtime, which then keeps no execution traces (a real node keeps none either), and mining the
 * benchmark's large multicall transactions is several times faster. Falls back to the usual provider if Hardhat's
 * internals move.
 */
async function untracedProvider(): Promise<EIP1193Provider> {
  if (process.env.BENCH_NODE_TRACING === "1") return hre.network.provider;
  try {
    // Hardhat's internals are CommonJS and untyped; required only when the bench replaces the traced provider.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createProvider } = require("hardhat/internal/core/providers/construction") as {
      createProvider(config: unknown, network: string, artifacts?: unknown): Promise<EIP1193Provider>;
    };
    return await createProvider(hre.config, "hardhat", undefined);
  } catch {
    return hre.network.provider;
  }
}

async function main() {
  const server: JsonRpcServer = await hre.run(TASK_NODE_CREATE_SERVER, {
    hostname: "127.0.0.1",
    port: Number(process.env.BENCH_NODE_PORT ?? 0),
    provider: await untracedProvider(),
  });
  const { address, port } = await server.listen();
  console.log(`listening http://${address}:${port}`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await server.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
