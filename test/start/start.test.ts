import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { afterAll, describe, it } from "vitest";
import { zeroCodeIndexPage } from "../ops/damage";
import { npmStartArgs } from "./attached";

const ROOT = path.resolve(__dirname, "../..");
const START_TIMEOUT_MS = 240_000;

type Started = { child: ChildProcessWithoutNullStreams; stdout: string; apiUrl: string; rpcUrl: string; samples: Map<string, string> };

const children: ChildProcessWithoutNullStreams[] = [];
const dirs: string[] = [];
const holders: Server[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) await stop(child);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  for (const server of holders) server.close();
});

/** What `npm start` runs (package.json's `node … scripts/start.ts`), as a child process. */
function launch(args: string[]): ChildProcessWithoutNullStreams {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "warn" };
  for (const name of Object.keys(env)) if (name.startsWith("TRACE_")) delete env[name];
  const child = spawn(process.execPath, [...npmStartArgs(), ...args], { cwd: ROOT, env });
  children.push(child);
  return child;
}

/** Waits for the start-up summary ("Press Ctrl-C") and reads the URLs and the codes to scan from it. */
function started(child: ChildProcessWithoutNullStreams): Promise<Started> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!stdout.includes("Press Ctrl-C to stop.")) return;
      const apiUrl = /^API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/m.exec(stdout)?.[1];
      const rpcUrl = /^Chain JSON-RPC\s+(http:\/\/127\.0\.0\.1:\d+)/m.exec(stdout)?.[1];
      const samples = new Map(
        [...stdout.matchAll(/^ {2}(\w+)\s+("(?:[^"\\]|\\.)*")/gm)].map((m) => [m[1] as string, JSON.parse(m[2] as string) as string]),
      );
      if (!apiUrl || !rpcUrl) reject(new Error(`no API or chain URL in:\n${stdout}`));
      else resolve({ child, stdout, apiUrl, rpcUrl, samples });
    });
    child.once("exit", (code) => reject(new Error(`npm start exited with ${code} before it was ready:\n${stdout}\n${stderr}`)));
  });
}

/** A port another process answers on, as when something else already runs on 8080; closed after the tests. */
async function holdPort(): Promise<number> {
  const server = createServer((_request, response) => response.end("not the ledger"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  holders.push(server);
  return (server.address() as AddressInfo).port;
}

/** Files and directories under `dir` (and itself) that anyone but their owner may read, with their modes. */
function readableByOthers(dir: string): string[] {
  const entries = [dir, ...readdirSync(dir, { recursive: true }).map((name) => path.join(dir, String(name)))];
  return entries.filter((entry) => (statSync(entry).mode & 0o077) !== 0).map((entry) => `${entry} ${(statSync(entry).mode & 0o777).toString(8)}`);
}

/** Stops the process as Ctrl-C does and waits for it to exit. */
function stop(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.kill("SIGINT");
  });
}

function exited(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

async function scan(apiUrl: string, code: string) {
  const response = await fetch(`${apiUrl}/v1/scans`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ code }),
  });
  expect(response.status).to.equal(200);
  return (await response.json()) as { verdict: string; batch: { id: string; batchNumber: string } | null };
}

async function rpc(url: string, method: string, params: unknown[] = []) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return ((await response.json()) as { result: unknown }).result;
}

const EXPECTED_VERDICTS = {
  genuine: "GENUINE",
  recalled: "RECALLED",
  held: "ON_HOLD",
  dispensed: "ALREADY_DISPENSED",
  unknown: "UNKNOWN_CODE",
  elsewhere: "NOT_ON_LEDGER",
  case: "GENUINE",
} as const;

/** The printed codes' verdicts and batches, and the chain's head: what must not change across a restart. */
async function observe(run: Started) {
  const verdicts: Record<string, { verdict: string; batchId: string | null }> = {};
  for (const kind of Object.keys(EXPECTED_VERDICTS)) {
    const code = run.samples.get(kind);
    expect(code, `the ${kind} code is printed`).to.be.a("string");
    const answer = await scan(run.apiUrl, code as string);
    verdicts[kind] = { verdict: answer.verdict, batchId: answer.batch?.id ?? null };
  }
  const head = (await rpc(run.rpcUrl, "eth_getBlockByNumber", ["latest", false])) as { number: string; hash: string };
  return { verdicts, head };
}

describe("npm start", () => {
  it(
    "seeds the demo, answers the printed codes' scans, and after Ctrl-C and a restart answers the same without seeding again; one start per data directory, backup and restore, a damaged store refused",
    async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), "trace-start-"));
      dirs.push(dataDir);
      const args = ["--data-dir", dataDir, "--port", "0", "--rpc-port", "0"];

      const first = await started(launch(args));
      expect(first.stdout).to.contain("new; journal");
      const before = await observe(first);
      for (const [kind, verdict] of Object.entries(EXPECTED_VERDICTS)) expect(before.verdicts[kind]?.verdict, kind).to.equal(verdict);
      expect(before.verdicts.genuine?.batchId).to.equal(before.verdicts.dispensed?.batchId);
      expect(before.verdicts.unknown?.batchId).to.equal(null);

      const organizationsFile = path.join(dataDir, "demo", "organizations.json");
      expect(statSync(organizationsFile).mode & 0o777).to.equal(0o600);
      const organizations = JSON.parse(readFileSync(organizationsFile, "utf8")) as Record<string, unknown>[];
      expect(organizations.map((o) => o.role)).to.have.members([
        "REGULATOR",
        "REGULATOR",
        "MAH",
        "CMO",
        "DISTRIBUTOR",
        "DISTRIBUTOR",
        "DISTRIBUTOR",
        "DISPENSER",
        "LABORATORY",
      ]);
      for (const organization of organizations) {
        expect(Object.keys(organization).sort()).to.deep.equal(["address", "name", "organizationId", "privateKey", "region", "role"]);
      }
      expect(new Set(organizations.map((o) => o.region))).to.deep.equal(new Set([320000, 330000, 310000]));
      const deployment = readFileSync(path.join(dataDir, "deployment.json"), "utf8");
      expect(readableByOthers(dataDir)).to.deep.equal([]);
      expect(readdirSync(path.join(dataDir, "trees")).some((name) => name.endsWith(".codes"))).to.equal(true);

      // A second start on the same data directory would run a second indexer over the same store.
      const twice = await exited(launch(["--data-dir", dataDir, "--port", "0", "--rpc-port", "0"]));
      expect(twice.code).to.equal(2);
      expect(twice.stderr).to.contain(`the data directory ${dataDir} is in use by another start of the ledger (pid ${first.child.pid})`);
      expect(await observe(first)).to.deep.equal(before);

      // A backup needs no lock: it copies the store beside the running ledger.
      const backup = path.join(dataDir, "ledger.backup");
      const backedUp = await exited(launch(["--data-dir", dataDir, "--backup", backup]));
      expect(backedUp.code, backedUp.stderr).to.equal(0);
      expect(statSync(backup).mode & 0o777).to.equal(0o600);
      expect(await stop(first.child)).to.equal(0);

      // What an earlier version left readable by others is made private on the next start.
      for (const entry of [dataDir, path.join(dataDir, "trees")]) chmodSync(entry, 0o755);
      for (const entry of ["ledger.sqlite", "deployment.json", path.join("chain", "journal")]) chmodSync(path.join(dataDir, entry), 0o644);
      // A crash mid-write leaves half a line at the end of the journal; the restart must shrug it off.
      appendFileSync(path.join(dataDir, "chain", "journal"), '{"method":"eth_sendRawTransaction","params":["0x02f9');
      const second = await started(launch(args));
      expect(second.stdout).to.contain("dropped a half-written last entry");
      expect(second.stdout).not.to.contain("Seeding");
      const after = await observe(second);
      expect(after.verdicts).to.deep.equal(before.verdicts);
      expect(after.head).to.deep.equal(before.head);
      expect(JSON.parse(readFileSync(organizationsFile, "utf8"))).to.deep.equal(organizations);
      expect(readableByOthers(dataDir)).to.deep.equal([]);
      expect(JSON.parse(readFileSync(path.join(dataDir, "deployment.json"), "utf8")).contracts).to.deep.equal(JSON.parse(deployment).contracts);

      // A killed start leaves no lock behind: the restore takes the data directory at once. The backup taken while
      // the first start served gives the same answers.
      second.child.kill("SIGKILL");
      await exited(second.child);
      const restored = await exited(launch(["--data-dir", dataDir, "--restore", backup]));
      expect(restored.code, restored.stderr).to.equal(0);
      expect(restored.stdout).to.contain(`Restored ${path.join(dataDir, "ledger.sqlite")} from ${backup}`);
      const third = await started(launch(args));
      expect(await observe(third)).to.deep.equal(before);
      expect(await stop(third.child)).to.equal(0);

      // A damaged store: no start, and a message naming the file and what to do.
      zeroCodeIndexPage(path.join(dataDir, "ledger.sqlite"));
      const damaged = await exited(launch(args));
      expect(damaged.code).to.equal(2);
      expect(damaged.stdout).not.to.contain("Press Ctrl-C");
      expect(damaged.stderr).to.contain(`npm start: the store ${path.join(dataDir, "ledger.sqlite")} is damaged (`);
      expect(damaged.stderr).to.contain("restore the store's last backup (npm start -- --restore FILE");
    },
    2 * START_TIMEOUT_MS,
  );

  it("refuses bad arguments with a message naming them and a non-zero exit, before starting anything", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "trace-start-args-"));
    dirs.push(dataDir);
    const cases = [
      { args: ["--port", "80808"], message: "--port must be a TCP port" },
      { args: ["--rpc", "http://127.0.0.1:8545"], message: "--rpc attaches to an existing chain: give its --deployment file too" },
      { args: ["--colour"], message: "unknown option '--colour'" },
    ];
    const results = await Promise.all(cases.map(({ args }) => exited(launch([...args, "--data-dir", dataDir]))));
    results.forEach((result, i) => {
      expect(result.code, cases[i]!.args.join(" ")).to.equal(2);
      expect(result.stderr).to.contain(cases[i]!.message);
    });
    expect(existsSync(path.join(dataDir, "chain"))).to.equal(false);
  });

  it("stops before journaling or seeding anything when the API or chain port is taken, naming the port and how to change it", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "trace-start-port-"));
    dirs.push(dataDir);
    const port = await holdPort();
    const api = await exited(launch(["--data-dir", dataDir, "--port", String(port), "--rpc-port", "0"]));
    expect(api.code).to.equal(2);
    expect(api.stderr).to.contain(
      `port ${port} on 127.0.0.1 is already in use by another process: stop that process, or choose another port with --port or TRACE_API_PORT`,
    );
    const chain = await exited(launch(["--data-dir", dataDir, "--port", "0", "--rpc-port", String(port)]));
    expect(chain.code).to.equal(2);
    expect(chain.stderr).to.contain(
      `port ${port} on 127.0.0.1 is already in use by another process: stop that process, or choose another port with --rpc-port or TRACE_RPC_PORT`,
    );
    for (const result of [api, chain]) {
      expect(result.stdout).not.to.contain("Seeding");
      expect(result.stderr).not.to.match(/^\s+at /m);
    }
    expect(existsSync(path.join(dataDir, "chain"))).to.equal(false);
    expect(existsSync(path.join(dataDir, "demo"))).to.equal(false);
  });
});
