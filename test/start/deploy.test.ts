import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { setTimeout as pause } from "node:timers/promises";
import path from "node:path";
import { expect } from "chai";
import { Wallet } from "ethers";
import type { HDNodeWallet } from "ethers";
import { afterAll, beforeAll, describe, it } from "vitest";
import { readDeployment } from "../../src/indexer/deployment";
import { BatchLedger__factory, ConsortiumRegistry__factory } from "../../typechain-types";
import { NODE_KINDS, startNode } from "../nodes";
import type { TestNode } from "../nodes";
import { attachedServers, signIn } from "./attached";

const ROOT = path.resolve(__dirname, "../..");
const DEPLOYER_KEY = Wallet.createRandom().privateKey;
const cleanup: (() => unknown)[] = [];

afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** Runs `npm run deploy` (`node --import tsx scripts/deploy.ts`) with the given arguments and environment. */
function deploy(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(base)) if (name.startsWith("TRACE_")) delete base[name];
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/deploy.ts", ...args], { cwd: ROOT, env: { ...base, ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

describe.each(NODE_KINDS)("npm run deploy and npm start --rpc on %s", (kind) => {
  let node: TestNode;
  let regulator: HDNodeWallet;
  let deployment: Awaited<ReturnType<typeof readDeployment>> | undefined;
  let deployedHead: number;

  beforeAll(async () => {
    node = await startNode(kind);
    cleanup.push(() => node.close());
  });

  it("deploys to a network named by URL and deployer key and writes the deployment file the indexer reads", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "trace-deploy-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const deploymentId = `test-${process.pid}-${Date.now()}-${kind}`;
    cleanup.push(() => rmSync(path.join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true }));
    const deployer = Wallet.createRandom();
    // anvil runs with free gas, as a QBFT network does: there the deployer holds no ether at all.
    if (kind === "hardhat") await node.relayer.sendTransaction({ to: deployer.address, value: 10n ** 18n });
    regulator = Wallet.createRandom();
    const out = path.join(dir, "deployment.json");
    const headBefore = await node.provider.getBlockNumber();

    const result = await deploy(
      [
        "--regulator-address",
        regulator.address,
        "--regulator-region",
        "330000",
        "--undo-window-days",
        "7",
        "--out",
        out,
        "--deployment-id",
        deploymentId,
      ],
      { TRACE_DEPLOY_RPC_URL: node.url, TRACE_DEPLOYER_KEY: deployer.privateKey },
    );
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain(`Deployment file    ${out}`);

    deployment = await readDeployment(out);
    expect(deployment.chainId).to.equal(31337);
    expect(deployment.rpcUrl).to.equal(node.url);
    expect(deployment.startBlock).to.equal(headBefore + 1);
    for (const address of Object.values(deployment.contracts)) expect(await node.provider.getCode(address)).to.not.equal("0x");
    const registry = ConsortiumRegistry__factory.connect(deployment.contracts.ConsortiumRegistry, node.provider);
    const first = await registry.organization(1);
    expect(first.role).to.equal(5n); // regulator
    expect(first.region).to.equal(330000n);
    expect((await registry.signingKey(regulator.address)).organizationId).to.equal(1n);
    expect(await BatchLedger__factory.connect(deployment.contracts.BatchLedger, node.provider).undoWindow()).to.equal(7n * 24n * 3600n);
    // The relay's bundle (a document's attestations for several contracts in one transaction) is deployed with them.
    expect(JSON.parse(readFileSync(out, "utf8"))).to.have.keys(["chainId", "rpcUrl", "startBlock", "contracts", "relayBundle"]);
    expect(await node.provider.getCode(deployment.relayBundle!)).to.not.equal("0x");
    deployedHead = await node.provider.getBlockNumber();
  });

  it("serves that deployment with npm start -- --rpc URL --deployment FILE, indexed from the node", async () => {
    expect(deployment, "the deployment of the test before").to.not.equal(undefined);
    const dir = mkdtempSync(path.join(tmpdir(), "trace-attached-db-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const servers = attachedServers({ rpcUrl: node.url, deployment: deployment!, database: path.join(dir, "ledger.sqlite") });
    cleanup.push(() => servers.close());
    const { apiUrl } = await servers.start();
    let health: { indexedBlock: number | null; chainId: number | null };
    for (;;) {
      health = (await (await fetch(`${apiUrl}/healthz`)).json()) as typeof health;
      if (health.indexedBlock !== null && health.indexedBlock >= deployedHead) break;
      await pause(50);
    }
    expect(health.chainId).to.equal(31337);

    const token = await signIn(apiUrl, regulator);
    const response = await fetch(`${apiUrl}/v1/organizations/1`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).to.equal(200);
    const organization = (await response.json()) as { role: string; region: number };
    expect([organization.role, organization.region]).to.deep.equal(["REGULATOR", 330000]);
  });
});

describe("npm run deploy's arguments", () => {
  it("refuses a missing network, key or regulator with a message naming it, before deploying", async () => {
    const regulator = Wallet.createRandom().address;
    const cases: { args: string[]; env: Record<string, string>; message: string }[] = [
      { args: ["--regulator-address", regulator], env: {}, message: "TRACE_DEPLOY_RPC_URL must be the JSON-RPC URL" },
      {
        args: ["--regulator-address", regulator],
        env: { TRACE_DEPLOY_RPC_URL: "http://127.0.0.1:1", TRACE_DEPLOYER_KEY: "0x12" },
        message: "TRACE_DEPLOYER_KEY must be the private key",
      },
      {
        args: ["--regulator-address", "0x1234"],
        env: { TRACE_DEPLOY_RPC_URL: "http://127.0.0.1:1", TRACE_DEPLOYER_KEY: DEPLOYER_KEY },
        message: "--regulator-address must be an Ethereum address",
      },
      {
        args: [],
        env: { TRACE_DEPLOY_RPC_URL: "http://127.0.0.1:1", TRACE_DEPLOYER_KEY: DEPLOYER_KEY },
        message: "required option '--regulator-address <address>' not specified",
      },
      {
        args: ["--regulator-address", regulator, "--undo-window-days", "ten"],
        env: { TRACE_DEPLOY_RPC_URL: "http://127.0.0.1:1", TRACE_DEPLOYER_KEY: DEPLOYER_KEY },
        message: '--undo-window-days must be a whole number of days from 0 to 3650, got "ten"',
      },
    ];
    const results = await Promise.all(cases.map((c) => deploy(c.args, c.env)));
    results.forEach((result, i) => {
      expect(result.code, cases[i]!.message).to.equal(2);
      expect(result.stderr).to.contain(cases[i]!.message);
    });
  });
});
