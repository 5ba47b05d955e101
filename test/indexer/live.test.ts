import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as pause } from "node:timers/promises";
import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import type { Block } from "ethers";
import { createIndexer, createRpcSource } from "../../src/indexer";
import { watchHeads } from "../../src/indexer/heads";
import type { HeadWatchEnd } from "../../src/indexer/heads";
import type { ChainSource, HeadBlock } from "../../src/indexer/sync";
import type { Store } from "../../src/store";
import { deployConsortium, releasedBatch } from "../contracts/fixtures";
import type { Consortium } from "../contracts/fixtures";
import { NODE_KINDS, startNode } from "../nodes";
import type { TestNode } from "../nodes";
import { capturingLogger, LEVEL } from "./capture";
import type { LogLine } from "./capture";
import { deploymentOf } from "./chain";
import { freshStore } from "./stores";

/** Longer than any test here runs: a block indexed during one was not found by polling. */
const AN_HOUR_MS = 3_600_000;

async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await pause(20);
  }
}

const checkpointOf = async (store: Store) => (await store.db.selectFrom("sync_state").select("block_number").executeTakeFirst())?.block_number;

/** Follows `url` in the background with the given poll interval; returns its log and a way to stop it. */
function following(store: Store, url: string, c: Consortium, pollIntervalMs: number) {
  return deploymentOf(c).then((deployment) => {
    const { log, lines } = capturingLogger();
    const source = createRpcSource(url);
    const stop = new AbortController();
    const done = createIndexer({ source, store, deployment, log, pollIntervalMs, verifyThreads: 0 }).follow(stop.signal);
    return {
      lines,
      async stop() {
        stop.abort();
        await done;
        source.close();
      },
    };
  });
}

const said = (lines: LogLine[], text: string) => lines.find((line) => line.msg === text);

const headOf = (block: Block | null): HeadBlock => ({
  number: block!.number,
  hash: block!.hash!.toLowerCase(),
  parentHash: block!.parentHash.toLowerCase(),
  timestamp: block!.timestamp,
});

describe.each(NODE_KINDS)("follow mode on %s", (kind) => {
  let node: TestNode;
  let c: Consortium;
  let store: Store;

  beforeAll(async () => {
    node = await startNode(kind);
    c = await deployConsortium(node.relayer);
    store = await freshStore("sqlite");
  });
  afterAll(async () => {
    await store?.close();
    await node?.close();
  });

  it("hears each new head announced with its number, hash, parent hash and timestamp", async () => {
    const heard: (HeadBlock | undefined)[] = [];
    const heads = watchHeads(node.url, (head) => heard.push(head));
    try {
      expect(await heads.subscribed).to.equal(true);
      await node.send("evm_mine", []);
      const mined = await node.provider.getBlock("latest");
      await until(() => heard.length > 0);
      expect(heard).to.deep.equal([headOf(mined)]);
    } finally {
      heads.close();
    }
  });

  it("indexes a head announced beyond the checkpoint with one call to the node (its logs), and asks the node after an announcement it has passed", async () => {
    const rpc = createRpcSource(node.url);
    const calls = { head: 0, block: 0, logs: 0 };
    let asking = 0;
    let announce: (head: HeadBlock | undefined) => void = () => undefined;
    let end: (how: HeadWatchEnd) => void = () => undefined;
    const source: ChainSource = {
      ...rpc,
      head: () => {
        calls.head++;
        asking++;
        return rpc.head().finally(() => asking--);
      },
      block: (n) => (calls.block++, rpc.block(n)),
      logs: (filter) => (calls.logs++, rpc.logs(filter)),
      // The test announces heads itself: when, and which.
      watchHeads(onHead) {
        announce = onHead;
        const ended = new Promise<HeadWatchEnd>((resolve) => (end = resolve));
        return { subscribed: Promise.resolve(true), ended, close: () => end({ reason: "closed", unsupported: false }) };
      },
    };
    const into = await freshStore("sqlite");
    const { log, lines } = capturingLogger();
    const stop = new AbortController();
    const indexer = createIndexer({ source, store: into, deployment: await deploymentOf(c), log, pollIntervalMs: AN_HOUR_MS, verifyThreads: 0 });
    const done = indexer.follow(stop.signal);
    try {
      // The node's head is asked for twice, on starting and on subscribing (a block mined before then was announced
      // to no one), and both answers are in before the test mines.
      const start = await node.provider.getBlockNumber();
      await until(async () => calls.head === 2 && asking === 0 && (await checkpointOf(into)) === start);

      Object.assign(calls, { head: 0, block: 0, logs: 0 });
      await node.send("evm_mine", []);
      const mined = await node.provider.getBlock("latest");
      announce(headOf(mined));
      await until(async () => (await checkpointOf(into)) === mined!.number);
      expect(calls).to.deep.equal({ head: 0, block: 0, logs: 1 });

      // An announcement of a block the checkpoint has passed (as when it arrives after a poll saw a later block).
      announce(headOf(await node.provider.getBlock(mined!.number - 1)));
      await until(() => calls.head === 1 && asking === 0);
      await node.send("evm_mine", []);
      const next = await node.provider.getBlock("latest");
      announce(headOf(next));
      await until(async () => (await checkpointOf(into)) === next!.number);
      expect(calls).to.deep.equal({ head: 1, block: 0, logs: 2 });
      expect(said(lines, "chain reorganized; rolling back")).to.equal(undefined);
    } finally {
      stop.abort();
      await done;
      await into.close();
      rpc.close();
    }
  });

  it("indexes a block when the node announces it (eth_subscribe newHeads), with polling an hour apart", async () => {
    const follower = await following(store, node.url, c, AN_HOUR_MS);
    try {
      await until(() => said(follower.lines, "following the node's new heads by subscription"));
      const head = await node.provider.getBlockNumber();
      await until(async () => (await checkpointOf(store)) === head);

      const { batchId } = await releasedBatch(c, "LIVE-1");
      const mined = await node.provider.getBlockNumber();
      const indexed = await until(() =>
        store.db
          .selectFrom("ledger_events")
          .select(["block_number", "verification"])
          .where("name", "=", "BatchMarketReleased")
          .where("batch_id", "=", batchId)
          .executeTakeFirst(),
      );
      expect(indexed).to.deep.equal({ block_number: mined, verification: "verified" });
      expect(said(follower.lines, "no new-head subscription; polling the node")).to.equal(undefined);
    } finally {
      await follower.stop();
    }
  });

  it("indexes a new block on the head with two calls to the node: the latest block and its logs", async () => {
    const rpc = createRpcSource(node.url);
    const calls = { head: 0, block: 0, logs: 0 };
    const source: ChainSource = {
      ...rpc,
      head: () => (calls.head++, rpc.head()),
      block: (n) => (calls.block++, rpc.block(n)),
      logs: (filter) => (calls.logs++, rpc.logs(filter)),
    };
    const into = await freshStore("sqlite");
    try {
      const indexer = createIndexer({ source, store: into, deployment: await deploymentOf(c), log: capturingLogger().log, verifyThreads: 0 });
      await indexer.catchUp();
      await node.send("evm_mine", []);
      const head = await node.provider.getBlock("latest");
      Object.assign(calls, { head: 0, block: 0, logs: 0 });
      expect(await indexer.catchUp()).to.deep.include({ number: head!.number, hash: head!.hash!.toLowerCase() });
      expect(calls).to.deep.equal({ head: 1, block: 0, logs: 1 });
      expect(await checkpointOf(into)).to.equal(head!.number);
    } finally {
      await into.close();
      rpc.close();
    }
  });
});

describe("follow mode on a node that serves no WebSocket", () => {
  let node: TestNode;
  let c: Consortium;
  let store: Store;
  const proxy = createServer((request, response) => {
    // JSON-RPC over HTTP is passed through; a WebSocket upgrade is refused, as by a node with WebSocket disabled.
    const body: Buffer[] = [];
    request.on("data", (chunk: Buffer) => body.push(chunk));
    request.on("end", () => {
      void fetch(node.url, { method: "POST", headers: { "content-type": "application/json" }, body: Buffer.concat(body) })
        .then(async (answer) =>
          response.writeHead(answer.status, { "content-type": "application/json" }).end(Buffer.from(await answer.arrayBuffer())),
        )
        .catch(() => response.destroy());
    });
  });
  let upgrades = 0;
  proxy.on("upgrade", (_request, socket) => {
    upgrades += 1;
    // The refused client may reset the connection before this end is sent (ECONNRESET, seen once in CI): an error
    // with no listener would end the test run as an uncaught exception.
    socket.on("error", () => undefined);
    socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
  });

  beforeAll(async () => {
    node = await startNode("hardhat");
    c = await deployConsortium(node.relayer);
    store = await freshStore("sqlite");
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    proxy.close();
    await store?.close();
    await node?.close();
  });

  it("says once, at info level, that it polls, and indexes new blocks by polling", async () => {
    const { port } = proxy.address() as AddressInfo;
    const follower = await following(store, `http://127.0.0.1:${port}`, c, 20);
    try {
      const fallback = await until(() => said(follower.lines, "no new-head subscription; polling the node"));
      expect(fallback.reason).to.contain("serves no WebSocket (HTTP 400");
      const { batchId } = await releasedBatch(c, "POLLED-1");
      const indexed = await until(() =>
        store.db
          .selectFrom("ledger_events")
          .select("verification")
          .where("batch_id", "=", batchId)
          .where("name", "=", "BatchMarketReleased")
          .executeTakeFirst(),
      );
      expect(indexed.verification).to.equal("verified");
      expect(said(follower.lines, "following the node's new heads by subscription")).to.equal(undefined);
      // The indexer tries the WebSocket again now and then (the node may enable it), without saying so again.
      await until(() => upgrades >= 2);
      const told = follower.lines.filter((line) => line.msg === "no new-head subscription; polling the node");
      expect(told.map((line) => line.level)).to.deep.equal([LEVEL.info]);
    } finally {
      await follower.stop();
    }
  });
});
