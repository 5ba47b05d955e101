import hre from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { Consortium } from "../contracts/fixtures";
import type { Deployment } from "../../src/indexer";

type JsonRpcServer = { listen(): Promise<{ address: string; port: number }>; close(): Promise<void> };

/** Serves the in-process Hardhat network as JSON-RPC on a free loopback port, as a node would. */
export async function serveChain() {
  const server: JsonRpcServer = await hre.run(TASK_NODE_CREATE_SERVER, {
    hostname: "127.0.0.1",
    port: 0,
    provider: hre.network.provider,
  });
  const { address, port } = await server.listen();
  return { url: `http://${address}:${port}`, close: () => server.close() };
}

export async function deploymentOf(c: Consortium): Promise<Deployment> {
  return {
    chainId: Number(c.chainId),
    contracts: {
      ConsortiumRegistry: await c.registry.getAddress(),
      ProductRegistry: await c.products.getAddress(),
      BatchLedger: await c.batches.getAddress(),
      AggregationLedger: await c.aggregations.getAddress(),
      AlertCases: await c.alertCases.getAddress(),
      CorrectiveActions: await c.capas.getAddress(),
      QualityDuties: await c.qualityDuties.getAddress(),
      SupervisionRecords: await c.supervision.getAddress(),
    },
    relayBundle: await c.relayBundle.getAddress(),
  };
}
