import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import hre from "hardhat";
import type { Deployment } from "../../src/indexer";
import { createStore } from "../../src/store";
import type { Store } from "../../src/store";
import { deployConsortium } from "../contracts/fixtures";
import { deploymentOf, serveChain } from "./chain";
import { largeHistory } from "./history";
import { dumpDiff, dumpTables, rowCounts } from "./dump";
import { createPostgresDatabase, STORE_KINDS } from "./stores";
import type { StoreKind } from "./stores";

/**
 * Crash safety: the indexer process is killed (SIGKILL) at random points of a backfill of thousands of events and
 * restarted each time; the database it ends with must equal, row for row and table for table, a clean run's.
 */
const ROOT = path.resolve(__dirname, "../..");
const MAIN = path.join(ROOT, "src/indexer/main.ts");
/** Small ranges: many transactions, so kills land between and inside them. */
const MAX_RANGE = 4;
const KILLS = 4;
const send = (method: string, params: unknown[] = []) => hre.network.provider.send(method, params) as Promise<unknown>;

type Exit = { code: number | null; signal: NodeJS.Signals | null; stderr: string };

/** Starts `node -r tsx/cjs src/indexer/main.ts --once ...` as its own process. */
function startIndexer(deploymentFile: string, rpcUrl: string, database: string) {
  const child = spawn(
    process.execPath,
    ["-r", "tsx/cjs", MAIN, "--once", "--deployment", deploymentFile, "--rpc", rpcUrl, "--db", database, "--max-range", String(MAX_RANGE)],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LOG_LEVEL: "warn" } },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stderr })));
  return { child, exited };
}

/** A database location of each kind, and how to drop it. */
async function freshLocation(kind: StoreKind, dir: string): Promise<{ location: string; drop(): Promise<void> }> {
  if (kind === "sqlite") return { location: path.join(dir, `trace_crash_${randomBytes(6).toString("hex")}.sqlite`), drop: async () => {} };
  const database = await createPostgresDatabase("trace_crash");
  return { location: database.url, drop: database.drop };
}

/** The checkpoint's block, or -1 before the indexer has made its tables or committed a range. */
async function checkpointOf(store: Store): Promise<number> {
  try {
    const row = await store.db.selectFrom("sync_state").select("block_number").executeTakeFirst();
    return row ? row.block_number : -1;
  } catch {
    return -1;
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("indexer killed during a backfill", () => {
  let chain: Awaited<ReturnType<typeof serveChain>>;
  let dir: string;
  let deploymentFile: string;
  let deployment: Deployment;
  let head: number;

  beforeAll(async () => {
    chain = await serveChain();
    const c = await deployConsortium();
    deployment = await deploymentOf(c);
    await largeHistory(c);
    head = Number(await send("eth_blockNumber"));
    dir = await mkdtemp(path.join(tmpdir(), "trace-crash-"));
    deploymentFile = path.join(dir, "deployment.json");
    await writeFile(deploymentFile, JSON.stringify(deployment));
  });
  afterAll(async () => {
    await chain?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe.each(STORE_KINDS)("on %s", (kind) => {
    it("resumes from its checkpoint after each SIGKILL and ends with exactly a clean run's database", async () => {
      const killed = await freshLocation(kind, dir);
      const clean = await freshLocation(kind, dir);
      const observer = createStore(killed.location);
      const checkpoints: number[] = [];
      try {
        // Kill points: random blocks of the backfill, spread over it, each then a random few milliseconds more.
        // The clean run goes on meanwhile, on its own database.
        const cleanRun = startIndexer(deploymentFile, chain.url, clean.location).exited;
        const targets = Array.from({ length: KILLS }, (_, i) => Math.floor(((i + Math.random()) / KILLS) * head * 0.9));
        for (const target of targets) {
          const run = startIndexer(deploymentFile, chain.url, killed.location);
          let finished: Exit | undefined;
          void run.exited.then((exit) => (finished = exit));
          while (!finished && (await checkpointOf(observer)) < target) await pause(10);
          if (!finished) {
            await pause(Math.random() * 20);
            run.child.kill("SIGKILL");
          }
          const exit = await run.exited;
          const reached = await checkpointOf(observer);
          if (exit.signal !== "SIGKILL") expect(exit.code, exit.stderr).to.equal(0);
          // A restart never loses what an earlier run committed.
          expect(reached, `checkpoints so far ${checkpoints.join(", ")}`).to.be.at.least(checkpoints.at(-1) ?? -1);
          checkpoints.push(reached);
        }
        expect(
          checkpoints.some((block) => block > 0 && block < head),
          `checkpoints ${checkpoints.join(", ")}`,
        ).to.equal(true);

        const last = await startIndexer(deploymentFile, chain.url, killed.location).exited;
        expect(last.code, last.stderr).to.equal(0);
        const cleanExit = await cleanRun;
        expect(cleanExit.code, cleanExit.stderr).to.equal(0);

        const reference = createStore(clean.location);
        try {
          const [afterKills, expected] = [await dumpTables(observer.db), await dumpTables(reference.db)];
          expect(expected.ledger_events!.length).to.be.greaterThan(2_000);
          expect(rowCounts(afterKills)).to.deep.equal(rowCounts(expected));
          expect(dumpDiff(afterKills, expected)).to.deep.equal({});
          expect(afterKills.sync_state).to.deep.equal(expected.sync_state);
          expect(expected.sync_state![0]!.block_number).to.equal(head);
        } finally {
          await reference.close();
        }
      } finally {
        await observer.close();
        await killed.drop();
        await clean.drop();
      }
    });
  });
});
