import path from "node:path";
import { Command, CommanderError } from "commander";

/** What `npm start` runs: an embedded chain it deploys to, or an existing chain it attaches to. */
export type StartOptions = {
  dataDir: string;
  /** SQLite file or postgres:// URL. */
  database: string;
  apiPort: number;
  /** Seed the demo consortium and history on a ledger that has none. */
  demo: boolean;
  /** Anonymous requests per minute per client address on the API's public endpoints. */
  publicRateLimit: number;
  /** Largest block range the indexer asks the node for at once (the indexer's default when absent). */
  maxRange?: number;
  /** How the indexer verifies signatures: "full" before writing (default), or "deferred" behind the head. */
  verification: "full" | "deferred";
  /** The API's address as partners reach it (EPCIS identifiers are under it); the listening address when absent. */
  publicUrl?: string;
  chain: { kind: "embedded"; rpcPort: number } | { kind: "attached"; rpcUrl: string; deploymentFile: string };
  /** Serve from an empty store that replaces a lost one (see LedgerServiceOptions.acceptLostStore). */
  acceptLostStore: boolean;
  /** Instead of running: copy the store to a backup file, or replace it with one. */
  storeCopy?: { kind: "backup" | "restore"; file: string };
};

/** A bad argument or setting: printed with the usage hint, exit status 2. */
export class StartOptionsError extends Error {
  override name = "StartOptionsError";
}

/** `--help` was asked for: the text to print, exit status 0. */
export class StartHelp extends Error {
  override name = "StartHelp";
}

function port(setting: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(value) || value > 65535) {
    throw new StartOptionsError(`${setting} must be a TCP port from 0 (any free port) to 65535, got ${JSON.stringify(text)}`);
  }
  return value;
}

function requestsPerMinute(setting: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new StartOptionsError(`${setting} must be a number of requests per minute (1 or more), got ${JSON.stringify(text)}`);
  }
  return value;
}

function blockCount(setting: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new StartOptionsError(`${setting} must be a whole number of blocks, at least 1, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** An http(s) URL with no query or fragment, kept without a trailing slash so identifiers can be appended. */
function publicUrl(setting: string, text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.search !== "" || url.hash !== "") {
    throw new StartOptionsError(`${setting} must be the API's public http(s) URL such as https://trace.example.cn, got ${JSON.stringify(text)}`);
  }
  return url.href.replace(/\/+$/, "");
}

function rpcUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new StartOptionsError(`--rpc must be a JSON-RPC URL such as http://10.0.0.5:8545, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new StartOptionsError(`--rpc must be an http:// or https:// JSON-RPC URL, got ${JSON.stringify(text)}`);
  }
  return text;
}

/**
 * A SQLite file or a postgres:// URL. Any other URL scheme (mysql://, sqlite://…) is refused: taken as a file
 * path, it would quietly become a new, empty SQLite file in a folder named after the scheme.
 */
function databaseLocation(setting: string, text: string): string {
  if (text.trim() === "") throw new StartOptionsError(`${setting} must be a SQLite file or a postgres:// URL`);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1];
  if (scheme !== undefined && !/^postgres(ql)?$/.test(scheme)) {
    throw new StartOptionsError(
      `${setting} must be a SQLite file or a postgres:// URL; ${scheme}:// databases are not supported, got ${JSON.stringify(text)}`,
    );
  }
  return text;
}

function program() {
  return new Command("npm start --")
    .description("Runs the ledger: an embedded development chain (or an existing one), the indexer and the HTTP API.")
    .option("--data-dir <dir>", "deployment file, chain journal, database, code trees, demo keys (env TRACE_DATA_DIR, default .data)")
    .option("--port <port>", "the API's port, 0 for any free port (env TRACE_API_PORT, default 8080)")
    .option("--rpc-port <port>", "the embedded chain's JSON-RPC port, 0 for any free port (env TRACE_RPC_PORT, default 8545)")
    .option("--database <db>", "a SQLite file or a postgres:// URL (env TRACE_DATABASE, default <data-dir>/ledger.sqlite)")
    .option("--rpc <url>", "attach to this chain's JSON-RPC instead of starting one (needs --deployment)")
    .option("--deployment <file>", "the deployment file of the contracts on the --rpc chain (npm run deploy writes one)")
    .option("--public-rate-limit <n>", "anonymous requests per minute per client address (env TRACE_PUBLIC_RATE_LIMIT, default 600)")
    .option(
      "--public-url <url>",
      "the API's address as partners reach it; EPCIS identifiers are under it (env TRACE_PUBLIC_URL, default the listening address)",
    )
    .option("--max-range <blocks>", "largest block range the indexer asks the node for at once (env TRACE_MAX_RANGE, default 2000)")
    .option(
      "--verify <mode>",
      "full: verify every signature before its event is indexed (default); deferred: index at once, verify behind the head (env TRACE_VERIFY)",
    )
    .option("--backup <file>", "copy the store to FILE (a new file) and exit; safe while the ledger runs")
    .option("--restore <file>", "replace the store with the backup FILE and exit; stop the ledger first")
    .option("--accept-lost-store", "the store was lost and there is no backup: index the chain again and re-register codes from the data directory")
    .option("--demo", "seed the demo consortium and history (the default on the embedded chain)")
    .option("--no-demo", "start without the demo data")
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
}

/**
 * Reads `npm start`'s arguments, with the TRACE_* environment variables as defaults, and checks them all before
 * anything starts: a bad one is a StartOptionsError naming the argument or variable.
 */
export function parseStartOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): StartOptions {
  const command = program();
  try {
    command.parse(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.help") throw new StartHelp(command.helpInformation());
      throw new StartOptionsError(error.message.replace(/^error: /, ""));
    }
    throw error;
  }
  const raw = command.opts<{
    dataDir?: string;
    port?: string;
    rpcPort?: string;
    database?: string;
    rpc?: string;
    deployment?: string;
    demo?: boolean;
    publicRateLimit?: string;
    maxRange?: string;
    verify?: string;
    backup?: string;
    restore?: string;
    acceptLostStore?: boolean;
    publicUrl?: string;
  }>();
  /** An argument wins over its environment variable; the name of whichever was used goes in error messages. */
  const setting = (value: string | undefined, flag: string, variable: string, fallback: string) =>
    value !== undefined
      ? { name: flag, value }
      : env[variable] !== undefined
        ? { name: variable, value: env[variable] as string }
        : { name: flag, value: fallback };
  const api = setting(raw.port, "--port", "TRACE_API_PORT", "8080");
  const rpcPort = setting(raw.rpcPort, "--rpc-port", "TRACE_RPC_PORT", "8545");
  const dir = setting(raw.dataDir, "--data-dir", "TRACE_DATA_DIR", ".data");
  if (dir.value.trim() === "") throw new StartOptionsError(`${dir.name} must name a directory`);
  if (raw.deployment !== undefined && raw.rpc === undefined)
    throw new StartOptionsError("--deployment names the contracts of an existing chain: give its --rpc URL too");
  if (raw.rpc !== undefined && raw.deployment === undefined)
    throw new StartOptionsError("--rpc attaches to an existing chain: give its --deployment file too (npm run deploy writes one)");
  if (raw.backup !== undefined && raw.restore !== undefined) throw new StartOptionsError("--backup and --restore: give one of them");
  if (raw.rpc !== undefined && raw.rpcPort !== undefined)
    throw new StartOptionsError("--rpc-port is the embedded chain's port; with --rpc no chain is started");
  const dataDir = path.resolve(dir.value);
  const chain: StartOptions["chain"] =
    raw.rpc !== undefined
      ? { kind: "attached", rpcUrl: rpcUrl(raw.rpc), deploymentFile: path.resolve(raw.deployment as string) }
      : { kind: "embedded", rpcPort: port(rpcPort.name, rpcPort.value) };
  const database = setting(raw.database, "--database", "TRACE_DATABASE", path.join(dataDir, "ledger.sqlite"));
  // A pharmacy chain's stores may all reach the API from one address: raise the limit rather than sign them in.
  const rateLimit = setting(raw.publicRateLimit, "--public-rate-limit", "TRACE_PUBLIC_RATE_LIMIT", "600");
  const maxRange = setting(raw.maxRange, "--max-range", "TRACE_MAX_RANGE", "");
  const publicAt = setting(raw.publicUrl, "--public-url", "TRACE_PUBLIC_URL", "");
  const verify = setting(raw.verify, "--verify", "TRACE_VERIFY", "full");
  if (verify.value !== "full" && verify.value !== "deferred")
    throw new StartOptionsError(`${verify.name} must be full or deferred, got ${JSON.stringify(verify.value)}`);
  return {
    dataDir,
    database: databaseLocation(database.name, database.value),
    ...(maxRange.value === "" ? {} : { maxRange: blockCount(maxRange.name, maxRange.value) }),
    ...(publicAt.value === "" ? {} : { publicUrl: publicUrl(publicAt.name, publicAt.value) }),
    apiPort: port(api.name, api.value),
    demo: raw.demo ?? chain.kind === "embedded",
    publicRateLimit: requestsPerMinute(rateLimit.name, rateLimit.value),
    verification: verify.value,
    chain,
    acceptLostStore: raw.acceptLostStore ?? false,
    ...(raw.backup !== undefined ? { storeCopy: { kind: "backup" as const, file: path.resolve(raw.backup) } } : {}),
    ...(raw.restore !== undefined ? { storeCopy: { kind: "restore" as const, file: path.resolve(raw.restore) } } : {}),
  };
}
