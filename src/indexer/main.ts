import { Command, InvalidArgumentError } from "commander";
import { createLogger } from "../log";
import type { Logger } from "../log";
import { createStore } from "../store";
import { readDeployment } from "./deployment";
import { createIndexer } from "./indexer";
import type { VerificationMode } from "./indexer";
import { createRpcSource } from "./sync";
import { writerElection } from "./writer";

export type IndexerRun = {
  /** JSON-RPC URL of a node; defaults to the deployment file's rpcUrl. */
  rpcUrl?: string;
  deploymentFile: string;
  /** A SQLite file, `:memory:`, or a postgres:// URL. */
  database: string;
  /** Keep following new blocks after catching up. */
  follow: boolean;
  /** Largest block range asked of the node at once (the indexer's default when absent). */
  maxRange?: number;
  /** How signatures are verified (IndexerOptions.verification; full when absent). */
  verification?: VerificationMode;
  log: Logger;
};

/**
 * Indexes the deployment's events into the database, then follows the chain until SIGINT/SIGTERM if asked. Only
 * the holder of the database's writer lock writes: while another indexer or service holds it, this one waits.
 */
export async function runIndexer(run: IndexerRun): Promise<void> {
  const deployment = await readDeployment(run.deploymentFile);
  const rpcUrl = run.rpcUrl ?? deployment.rpcUrl;
  if (!rpcUrl) throw new Error("no RPC URL: pass --rpc or put rpcUrl in the deployment file");
  const store = createStore(run.database, {
    onConnectionLost: (error) => run.log.warn({ err: error }, "database connection lost; reconnecting on the next query"),
  });
  const source = createRpcSource(rpcUrl);
  try {
    await store.migrate();
    const stop = new AbortController();
    if (run.follow) {
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
    }
    await writerElection({ store, log: run.log }).run(async (writerStore, signal) => {
      const indexer = createIndexer({
        source,
        store: writerStore,
        deployment,
        log: run.log,
        maxRange: run.maxRange,
        showProgress: true,
        verification: run.verification,
      });
      if (run.follow) return indexer.follow(signal);
      const reached = await indexer.catchUp();
      await indexer.verifyBehind();
      run.log.info({ block: reached.number }, "indexed up to the chain head");
    }, stop.signal);
  } finally {
    source.close();
    await store.close();
  }
}

function parseVerification(value: string): VerificationMode {
  if (value !== "full" && value !== "deferred") throw new InvalidArgumentError("--verify must be full or deferred");
  return value;
}

function parseBlockCount(value: string): number {
  const blocks = Number(value);
  if (!Number.isInteger(blocks) || blocks < 1) {
    throw new InvalidArgumentError("--max-range must be a whole number of blocks, at least 1");
  }
  return blocks;
}

if (require.main === module) {
  const program = new Command("trace-indexer")
    .description("follow the ledger's contracts into a database")
    .requiredOption("--deployment <file>", "deployment file (contract addresses, chain id)")
    .option("--rpc <url>", "JSON-RPC URL of a node (default: the deployment file's rpcUrl)")
    .option("--db <location>", "SQLite file, :memory: or postgres:// URL", ".data/ledger.sqlite")
    .option("--once", "index up to the head and exit instead of following", false)
    .option("--max-range <blocks>", "largest block range asked of the node at once", parseBlockCount)
    .option(
      "--verify <mode>",
      "full: verify every signature before indexing its event; deferred: index at once, verify behind the head",
      parseVerification,
      "full",
    )
    .action(async (options: { deployment: string; rpc?: string; db: string; once: boolean; maxRange?: number; verify: VerificationMode }) => {
      const log = createLogger();
      await runIndexer({
        rpcUrl: options.rpc,
        deploymentFile: options.deployment,
        database: options.db,
        follow: !options.once,
        maxRange: options.maxRange,
        verification: options.verify,
        log,
      }).catch((error: unknown) => {
        log.error({ err: (error as Error).message }, "indexer stopped");
        process.exitCode = 1;
      });
    });
  void program.parseAsync(process.argv);
}
