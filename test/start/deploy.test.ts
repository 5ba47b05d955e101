import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import { expect } from "chai";
import { Wallet } from "ethers";
import { afterAll, describe, it } from "vitest";
import { readDeployment } from "../../src/indexer/deployment";
import { ConsortiumRegistry__factory } from "../../typechain-types";
import { serveChain } from "../indexer/chain";

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

describe("npm run deploy", () => {
  it("deploys to a network named by URL and deployer key and writes the deployment file the indexer reads", async () => {
    const chain = await serveChain();
    cleanup.push(() => chain.close());
    const dir = mkdtempSync(path.join(tmpdir(), "trace-deploy-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const deploymentId = `test-${process.pid}-${Date.now()}`;
    cleanup.push(() => rmSync(path.join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true }));
    const [funder] = await hre.ethers.getSigners();
    await (await funder!.sendTransaction({ to: new Wallet(DEPLOYER_KEY).address, value: 10n ** 18n })).wait();
    const regulator = Wallet.createRandom();
    const out = path.join(dir, "deployment.json");
    const headBefore = await hre.ethers.provider.getBlockNumber();

    const result = await deploy(
      ["--regulator-address", regulator.address, "--regulator-region", "330000", "--out", out, "--deployment-id", deploymentId],
      { TRACE_DEPLOY_RPC_URL: chain.url, TRACE_DEPLOYER_KEY: DEPLOYER_KEY },
    );
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain(`Deployment file    ${out}`);

    const deployment = await readDeployment(out);
    expect(deployment.chainId).to.equal(31337);
    expect(deployment.rpcUrl).to.equal(chain.url);
    expect(deployment.startBlock).to.equal(headBefore + 1);
    for (const address of Object.values(deployment.contracts)) expect(await hre.ethers.provider.getCode(address)).to.not.equal("0x");
    const registry = ConsortiumRegistry__factory.connect(deployment.contracts.ConsortiumRegistry, hre.ethers.provider);
    const first = await registry.organization(1);
    expect(first.role).to.equal(5n); // regulator
    expect(first.region).to.equal(330000n);
    expect((await registry.signingKey(regulator.address)).organizationId).to.equal(1n);
    expect(JSON.parse(readFileSync(out, "utf8"))).to.have.keys(["chainId", "rpcUrl", "startBlock", "contracts"]);
  });

  it("refuses a missing network, key or regulator with a message naming it, before deploying", async () => {
    const regulator = Wallet.createRandom().address;
    const cases: { args: string[]; env: Record<string, string>; message: string }[] = [
      { args: ["--regulator-address", regulator], env: {}, message: "TRACE_DEPLOY_RPC_URL must be the JSON-RPC URL" },
      { args: ["--regulator-address", regulator], env: { TRACE_DEPLOY_RPC_URL: "http://127.0.0.1:1", TRACE_DEPLOYER_KEY: "0x12" }, message: "TRACE_DEPLOYER_KEY must be the private key" },
      { args: ["--regulator-address", "0x1234"], env: { TRACE_DEPLOY_RPC_URL: "http://127.0.0.1:1", TRACE_DEPLOYER_KEY: DEPLOYER_KEY }, message: "--regulator-address must be an Ethereum address" },
      { args: [], env: { TRACE_DEPLOY_RPC_URL: "http://127.0.0.1:1", TRACE_DEPLOYER_KEY: DEPLOYER_KEY }, message: "required option '--regulator-address <address>' not specified" },
    ];
    const results = await Promise.all(cases.map((c) => deploy(c.args, c.env)));
    results.forEach((result, i) => {
      expect(result.code, cases[i]!.message).to.equal(2);
      expect(result.stderr).to.contain(cases[i]!.message);
    });
  });
});
