import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Deployment } from "../../src/indexer";
import { adminQuery, writerLockHolder } from "../indexer/stores";

const ROOT = path.resolve(__dirname, "../..");

/** node's arguments for `npm start` as package.json has them (its flags too), for tests to run it as a child. */
export function npmStartArgs(): string[] {
  const scripts = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts;
  const [node, ...args] = scripts.start.split(" ");
  if (node !== "node") throw new Error(`npm start runs ${node}, not node`);
  return args;
}

/** An API server started as `npm start -- --rpc … --deployment … --no-demo`, as its own process. */
export type AttachedService = {
  child: ChildProcessWithoutNullStreams;
  /** The API's URL, once the server says it is ready; rejected if it exits before. */
  ready: Promise<string>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
};

/**
 * Servers of one deployment over one database, each with its own data directory and the shared API secret, as an
 * operator runs several API servers; `close()` stops every server still running and removes the directories.
 */
export function attachedServers(options: { rpcUrl: string; deployment: Deployment; database: string; args?: string[] }) {
  const root = mkdtempSync(path.join(tmpdir(), "trace-attached-"));
  const deploymentFile = path.join(root, "deployment.json");
  writeFileSync(deploymentFile, JSON.stringify(options.deployment));
  const secret = randomBytes(32).toString("hex");
  const started: AttachedService[] = [];

  /** Starts a server; its `ready` resolves once it serves. */
  function launch(): AttachedService {
    const dataDir = mkdtempSync(path.join(root, "server-"));
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "warn" };
    for (const name of Object.keys(env)) if (name.startsWith("TRACE_")) delete env[name];
    env.TRACE_API_SECRET = secret;
    const args = [
      "--rpc",
      options.rpcUrl,
      "--deployment",
      deploymentFile,
      "--database",
      options.database,
      "--data-dir",
      dataDir,
      "--port",
      "0",
      "--no-demo",
      ...(options.args ?? []),
    ];
    const child = spawn(process.execPath, [...npmStartArgs(), ...args], { cwd: ROOT, env });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    const ready = new Promise<string>((resolve, reject) => {
      child.stdout.on("data", () => {
        const url = /^API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/m.exec(output)?.[1];
        if (url && output.includes("Press Ctrl-C to stop.")) resolve(url);
      });
      void exited.then(({ code, signal }) => reject(new Error(`the server exited (${code ?? signal}) before it was ready:\n${output}`)));
    });
    // A server killed before it was ready is no unhandled rejection; a test that waits for it is told.
    ready.catch(() => undefined);
    const service = { child, ready, output: () => output, exited, alive: () => child.exitCode === null && child.signalCode === null };
    started.push(service);
    return service;
  }

  return {
    launch,
    /** Starts a server and waits until it serves. */
    async start() {
      const service = launch();
      return { ...service, apiUrl: await service.ready };
    },
    async close() {
      for (const service of started) {
        if (service.alive()) service.child.kill("SIGKILL");
        await service.exited;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Ends every connection to `database` from the server side, as a failover or `pg_terminate_backend` does. */
export async function terminateBackends(database: string): Promise<number> {
  const name = new URL(database).pathname.slice(1);
  return (await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name])).length;
}

/** The pid of the process whose session holds `database`'s writer lock (the session is named after it). */
export async function writerPid(database: string): Promise<number | undefined> {
  const pid = /^trace writer pid (\d+) /.exec((await writerLockHolder(database))?.application_name ?? "")?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/** Signs in to a running server as the holder of `key`, as a client does, and returns the bearer token. */
export async function signIn(apiUrl: string, key: { address: string; signMessage(text: string): Promise<string> }): Promise<string> {
  const challenge = (await post(apiUrl, "/v1/auth/challenge", { key: key.address })) as { challenge: string; text: string };
  const signature = await key.signMessage(challenge.text);
  return ((await post(apiUrl, "/v1/auth/token", { key: key.address, challenge: challenge.challenge, signature })) as { token: string }).token;
}

async function post(apiUrl: string, route: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${apiUrl}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${route} answered ${response.status}: ${await response.text()}`);
  return response.json();
}
