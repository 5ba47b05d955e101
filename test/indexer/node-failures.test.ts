import { afterEach, beforeAll, beforeEach, describe, it } from "vitest";
import { expect } from "chai";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as pause } from "node:timers/promises";
import { JsonRpcProvider, Wallet } from "ethers";
import hre from "hardhat";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import { createIndexer, createRpcSource, RangeTooLargeError } from "../../src/indexer";
import type { ChainSource, Deployment } from "../../src/indexer";
import { silentLogger } from "../../src/log";
import type { Store } from "../../src/store";
import { deployConsortium, handOver, releasedBatch } from "../contracts/fixtures";
import type { Consortium } from "../contracts/fixtures";
import { ANVIL_ACCOUNT, startAnvil } from "../anvil";
import type { AnvilNode } from "../anvil";
import { MinedSigner } from "../nodes";
import { capturingLogger, LEVEL } from "./capture";
import type { LogLine } from "./capture";
import { deploymentOf, serveChain } from "./chain";
import { dumpDiff, dumpTables, MODEL_TABLES } from "./dump";
import { freshStore, STORE_KINDS } from "./stores";
import { syntheticConsortium } from "./synthetic";
import type { SyntheticConsortium } from "./synthetic";

/**
 * A node that does not answer is retried with a doubling delay; a node that refuses a log range for its size gets
 * smaller ranges. Either way every event ends up in the store, exactly as with a well-behaved node.
 */
type Method = "chainId" | "head" | "block" | "logs";

/** `source`, except that the listed calls of each method (numbered from 1) fail as if the node were unreachable. */
function unreliable(source: ChainSource, failing: Partial<Record<Method, number[]>>): ChainSource {
  const calls: Record<Method, number> = { chainId: 0, head: 0, block: 0, logs: 0 };
  const refuse = (method: Method) => {
    calls[method] += 1;
    if (failing[method]?.includes(calls[method])) throw new Error(`connect ECONNREFUSED (${method} call ${calls[method]})`);
  };
  return {
    chainId: async () => (refuse("chainId"), source.chainId()),
    head: async () => (refuse("head"), source.head()),
    block: async (number) => (refuse("block"), source.block(number)),
    logs: async (filter) => (refuse("logs"), source.logs(filter)),
    close: () => source.close(),
  };
}

const retries = (lines: LogLine[], what: RegExp) =>
  lines.filter((line) => line.level === LEVEL.warn && what.test(line.msg)).map((line) => [line.attempt, line.retryInMs]);

describe.each(STORE_KINDS)("an unreliable node on %s", (kind) => {
  let store: Store;
  let s: SyntheticConsortium;

  beforeEach(async () => {
    store = await freshStore(kind);
    s = await syntheticConsortium();
    const batchId = await s.releasedBatch("B-001", 100);
    s.ledger.mine(5);
    await s.ledger.handOver(s.cmo, s.distributor, batchId, 30);
    s.ledger.mine(70);
    await s.ledger.handOver(s.distributor, s.dispenser, batchId, 10);
  });
  afterEach(async () => {
    await store.close();
  });

  /** What a clean index of the synthetic chain holds, with the same range size. */
  async function cleanIndex(maxRange: number, tables?: readonly string[]) {
    const clean = await freshStore(kind);
    try {
      await createIndexer({ source: s.ledger.source(), store: clean, deployment: s.ledger.deployment, log: silentLogger(), maxRange }).catchUp();
      return await dumpTables(clean.db, tables);
    } finally {
      await clean.close();
    }
  }

  it("retries each failed call with a doubling delay and ends with what a clean run holds", async () => {
    const { log, lines } = capturingLogger();
    const source = unreliable(s.ledger.source(), { chainId: [1, 2], logs: [2, 3, 4], block: [3] });
    const reached = await createIndexer({ source, store, deployment: s.ledger.deployment, log, maxRange: 6 }).catchUp();

    expect(reached.number).to.equal(s.ledger.head);
    expect(retries(lines, /^eth_chainId failed/)).to.deep.equal([
      [1, 250],
      [2, 500],
    ]);
    const logRetries = lines.filter((line) => line.level === LEVEL.warn && /^logs \d+-\d+ failed/.test(line.msg));
    expect(logRetries.map((line) => [line.attempt, line.retryInMs])).to.deep.equal([
      [1, 250],
      [2, 500],
      [3, 1000],
    ]);
    expect(new Set(logRetries.map((line) => line.msg)).size, "the same range is retried").to.equal(1);
    expect(retries(lines, /^block \d+ failed/)).to.deep.equal([[1, 250]]);
    expect(lines.filter((line) => line.level >= LEVEL.error)).to.deep.equal([]);
    expect(dumpDiff(await dumpTables(store.db), await cleanIndex(6))).to.deep.equal({});
  });

  it("narrows the range while the node refuses it as too large, regrows it, and still indexes everything", async () => {
    const MAX_SPAN = 5;
    const asked: { from: number; to: number; refused: boolean }[] = [];
    const plain = s.ledger.source();
    const source: ChainSource = {
      ...plain,
      async logs(filter) {
        const refused = filter.toBlock - filter.fromBlock + 1 > MAX_SPAN;
        asked.push({ from: filter.fromBlock, to: filter.toBlock, refused });
        if (refused) throw new RangeTooLargeError(`query exceeds max block range ${MAX_SPAN}`);
        return plain.logs(filter);
      },
    };
    const { log, lines } = capturingLogger();
    const reached = await createIndexer({ source, store, deployment: s.ledger.deployment, log, maxRange: 64 }).catchUp();

    expect(reached.number).to.equal(s.ledger.head);
    const spans = asked.map((a) => a.to - a.from + 1);
    // The first range (10 blocks) is refused and halved; the next doubles and is refused again.
    expect(spans.slice(0, 4)).to.deep.equal([10, 5, 10, 5]);
    expect(asked.filter((a) => a.refused).every((a) => a.to - a.from + 1 > MAX_SPAN)).to.equal(true);
    // Accepted ranges tile the chain: each starts where the previous ended, up to the head.
    const accepted = asked.filter((a) => !a.refused);
    expect(accepted[0]!.from).to.equal(0);
    accepted.slice(1).forEach((a, i) => expect(a.from).to.equal(accepted[i]!.to + 1));
    expect(accepted.at(-1)!.to).to.equal(s.ledger.head);
    // After a success the range grows again (and is refused again): the node's limit is probed, not assumed.
    expect(asked.filter((a) => a.refused).length).to.be.greaterThan(4);
    // Refusals are not failures: no retry delays, nothing reported.
    expect(lines.filter((line) => line.level >= LEVEL.warn)).to.deep.equal([]);
    expect(dumpDiff(await dumpTables(store.db, MODEL_TABLES), await cleanIndex(64, MODEL_TABLES))).to.deep.equal({});
  });
});

/** Serves the in-process chain on `port` (the node "comes up"). */
async function serveChainOn(port: number) {
  const server = (await hre.run(TASK_NODE_CREATE_SERVER, { hostname: "127.0.0.1", port, provider: hre.network.provider })) as {
    listen(): Promise<unknown>;
    close(): Promise<void>;
  };
  await server.listen();
  return server;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

type RpcRequest = { jsonrpc: "2.0"; id: number; method: string; params: unknown[] };

/**
 * A JSON-RPC proxy in front of `upstream` that refuses eth_getLogs over more than `maxSpan` blocks, with the error
 * Besu answers, and records every range it was asked for.
 */
async function rangeLimitingProxy(upstream: string, maxSpan: number) {
  const asked: { span: number; refused: boolean }[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString()) as RpcRequest | RpcRequest[];
    const batch = Array.isArray(body) ? body : [body];
    const refused = new Set<number>();
    for (const request of batch) {
      if (request.method !== "eth_getLogs") continue;
      const { fromBlock, toBlock } = request.params[0] as { fromBlock: string; toBlock: string };
      const span = Number(toBlock) - Number(fromBlock) + 1;
      asked.push({ span, refused: span > maxSpan });
      if (span > maxSpan) refused.add(request.id);
    }
    const forwarded = batch.filter((request) => !refused.has(request.id));
    const answers: unknown[] = [];
    if (forwarded.length > 0) {
      const response = await fetch(upstream, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(forwarded),
      });
      answers.push(...((await response.json()) as unknown[]));
    }
    for (const id of refused) {
      answers.push({ jsonrpc: "2.0", id, error: { code: -32005, message: `query exceeds max block range ${maxSpan}` } });
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(Array.isArray(body) ? answers : answers[0]));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, asked, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe.each(STORE_KINDS)("a JSON-RPC node that is down or refuses large ranges, on %s", (kind) => {
  let store: Store;
  let deployment: Deployment;
  let eventCount: number;

  beforeAll(async () => {
    const c = await deployConsortium();
    const { batchId } = await releasedBatch(c, "N-001", 40n);
    await hre.network.provider.send("hardhat_mine", ["0x50"]);
    await handOver(c, c.cmo, c.distributor, batchId, 12n);
    deployment = await deploymentOf(c);
    eventCount = (await c.relayer.provider!.getLogs({ fromBlock: 0, address: Object.values(deployment.contracts) })).length;
  });
  beforeEach(async () => {
    store = await freshStore(kind);
  });
  afterEach(async () => {
    await store.close();
  });

  const storedEvents = async () =>
    Number(
      (
        await store.db
          .selectFrom("ledger_events")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it("keeps retrying, with a doubling delay, until the node comes up, then indexes everything", async () => {
    const port = await freePort();
    const source = createRpcSource(`http://127.0.0.1:${port}`);
    const { log, lines } = capturingLogger();
    const caughtUp = createIndexer({ source, store, deployment, log, maxRange: 10 }).catchUp();
    let server: Awaited<ReturnType<typeof serveChainOn>> | undefined;
    try {
      for (let waited = 0; retries(lines, /failed; retrying$/).length < 3; waited++) {
        if (waited > 500) throw new Error("the indexer did not retry the unreachable node");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      server = await serveChainOn(port);
      const reached = await caughtUp;
      expect(reached.number).to.equal(Number(await hre.network.provider.send("eth_blockNumber")));
    } finally {
      source.close();
      await server?.close();
    }
    const delays = retries(lines, /failed; retrying$/);
    expect(delays.slice(0, 3)).to.deep.equal([
      [1, 250],
      [2, 500],
      [3, 1000],
    ]);
    expect(lines.find((line) => line.level === LEVEL.warn)!.err).to.match(/ECONNREFUSED/);
    expect(await storedEvents()).to.equal(eventCount);
  });

  it("recognizes the node's refusal of a large log range and narrows the range until it is accepted", async () => {
    const chain = await serveChain();
    const proxy = await rangeLimitingProxy(chain.url, 3);
    const source = createRpcSource(proxy.url);
    const { log, lines } = capturingLogger();
    try {
      await createIndexer({ source, store, deployment, log, maxRange: 64 }).catchUp();
    } finally {
      source.close();
      await proxy.close();
      await chain.close();
    }
    // The first range (10 blocks) halved until accepted, then doubled again after each success and refused.
    expect(proxy.asked.slice(0, 5).map((a) => [a.span, a.refused])).to.deep.equal([
      [10, true],
      [5, true],
      [2, false],
      [4, true],
      [2, false],
    ]);
    expect(proxy.asked.filter((a) => !a.refused).every((a) => a.span <= 3)).to.equal(true);
    expect(lines.filter((line) => line.level >= LEVEL.warn)).to.deep.equal([]);
    expect(await storedEvents()).to.equal(eventCount);
  });
});

/** Resolves when `probe` gives a value (polled every 20 ms). */
async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await pause(20);
  }
}

const checkpointOf = async (store: Store) => (await store.db.selectFrom("sync_state").select("block_number").executeTakeFirst())?.block_number;
const headRetries = (lines: LogLine[]) => lines.filter((line) => line.level === LEVEL.warn && line.msg === "chain head failed; retrying").length;
const subscriptions = (lines: LogLine[]) => lines.filter((line) => line.msg === "following the node's new heads by subscription").length;

/**
 * Follow mode against anvil in its own process, which is killed, or stopped and started again on the same port with
 * the chain it saved on exit (--state): the node a service follows going away and coming back.
 */
describe("follow mode while its node is down (anvil, its own process)", () => {
  let anvil: AnvilNode;
  let provider: JsonRpcProvider;
  let c: Consortium;
  let store: Store;
  let dir: string;
  /** The indexer command a test started: ended here too, should the test time out before its own cleanup. */
  let command: ChildProcess | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "node-down-"));
    anvil = await startAnvil(["--state", path.join(dir, "state.json")]);
    provider = new JsonRpcProvider(anvil.url, 31337, { staticNetwork: true, cacheTimeout: -1 });
    provider.pollingInterval = 20;
    c = await deployConsortium(new MinedSigner(new Wallet(ANVIL_ACCOUNT.privateKey, provider)));
    await releasedBatch(c, "DOWN-1");
    store = await freshStore("sqlite");
  });
  afterEach(async () => {
    if (command && command.exitCode === null && command.signalCode === null) process.kill(command.pid!, "SIGKILL");
    command = undefined;
    provider.destroy();
    await anvil.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function follow() {
    const { log, lines } = capturingLogger();
    const source = createRpcSource(anvil.url);
    const stop = new AbortController();
    const done = deploymentOf(c).then((deployment) =>
      createIndexer({ source, store, deployment, log, pollIntervalMs: 20, verifyThreads: 0 }).follow(stop.signal),
    );
    return { lines, stop: () => stop.abort(), done: done.finally(() => source.close()) };
  }

  it("stops cleanly when asked while the node is down: no failure reported, the checkpoint kept", async () => {
    const follower = follow();
    const head = await provider.getBlockNumber();
    await until(async () => (await checkpointOf(store)) === head);
    process.kill(anvil.pid, "SIGKILL");
    await until(() => headRetries(follower.lines) >= 2);

    follower.stop();
    await follower.done;
    expect(follower.lines.filter((line) => line.level >= LEVEL.error)).to.deep.equal([]);
    expect(await checkpointOf(store)).to.equal(head);
  });

  it("waits out the node's restart, then indexes what it mines and subscribes to its new heads again", async () => {
    const follower = follow();
    try {
      await until(() => subscriptions(follower.lines) === 1);
      await until(async () => (await checkpointOf(store)) === (await provider.getBlockNumber()));
      const port = Number(new URL(anvil.url).port);
      await anvil.close();
      await until(() => headRetries(follower.lines) >= 2);
      anvil = await startAnvil(["--state", path.join(dir, "state.json")], port);

      const { batchId } = await releasedBatch(c, "BACK-1");
      const indexed = await until(() =>
        store.db
          .selectFrom("ledger_events")
          .select("verification")
          .where("name", "=", "BatchMarketReleased")
          .where("batch_id", "=", batchId)
          .executeTakeFirst(),
      );
      expect(indexed.verification).to.equal("verified");
      await until(() => subscriptions(follower.lines) === 2);
      expect(
        follower.lines.some((line) => line.level === LEVEL.warn && line.msg === "new-head subscription lost; polling the node meanwhile"),
      ).to.equal(true);
      expect(follower.lines.filter((line) => line.level >= LEVEL.error)).to.deep.equal([]);
    } finally {
      follower.stop();
      await follower.done;
    }
  });

  it("the indexer command, stopped by SIGTERM while its node is down, exits 0 without reporting a failure", async () => {
    const deploymentFile = path.join(dir, "deployment.json");
    writeFileSync(deploymentFile, JSON.stringify(await deploymentOf(c)));
    const args = [
      "--import",
      "tsx",
      "src/indexer/main.ts",
      "--deployment",
      deploymentFile,
      "--rpc",
      anvil.url,
      "--db",
      path.join(dir, "ledger.sqlite"),
    ];
    const child = spawn(process.execPath, args, { cwd: path.resolve(__dirname, "../.."), stdio: ["ignore", "ignore", "pipe"] });
    command = child;
    const lines: LogLine[] = [];
    let partial = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      const text = partial + chunk.toString();
      const complete = text.split("\n");
      partial = complete.pop()!;
      // Node's own warnings share stderr with the log's JSON lines.
      for (const line of complete) if (line.startsWith("{")) lines.push(JSON.parse(line) as LogLine);
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await until(() => subscriptions(lines) === 1);
      process.kill(anvil.pid, "SIGKILL");
      // Killed while catching up or while following: some call to the node fails and is retried.
      await until(() => retries(lines, /failed; retrying$/).length >= 1);
      process.kill(child.pid!, "SIGTERM");
      expect(await exited).to.equal(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, "SIGKILL");
    }
    expect(lines.filter((line) => line.level >= LEVEL.error)).to.deep.equal([]);
  });
});
