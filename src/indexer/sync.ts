import { isAscii } from "node:buffer";
import http from "node:http";
import https from "node:https";
import { watchHeads } from "./heads";
import type { HeadWatch } from "./heads";

export type BlockRef = { number: number; hash: string };
export type BlockInfo = BlockRef & { timestamp: number };
/**
 * The chain's head as a node reports it. A node's latest block comes with its timestamp and its parent's hash, which
 * spare follow mode two calls per new block (the head's own block and the reorganisation check); a source without
 * them is asked for both.
 */
export type HeadBlock = BlockRef & { timestamp?: number; parentHash?: string };

/** A log as the indexer reads it (an ethers Log has these fields too). */
export type ChainLog = {
  blockNumber: number;
  /** Position of the log in its block. */
  index: number;
  blockHash: string;
  transactionHash: string;
  address: string;
  topics: readonly string[];
  data: string;
};

/** What the indexer needs from a chain: plain EVM JSON-RPC, nothing specific to one client. */
export type ChainSource = {
  chainId(): Promise<number>;
  head(): Promise<HeadBlock>;
  block(number: number): Promise<BlockInfo | undefined>;
  logs(filter: { fromBlock: number; toBlock: number; addresses: string[]; topics: string[] }): Promise<ChainLog[]>;
  /** Announces new blocks as the node mines them, with their headers where it sends them (else the indexer polls). */
  watchHeads?(onHead: (head: HeadBlock | undefined) => void): HeadWatch;
  close(): void;
};

/** A node refused a log query for its size: the caller should ask for a smaller block range. */
export class RangeTooLargeError extends Error {}

/** The node answered a call with a JSON-RPC error. */
export class RpcError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
  ) {
    super(message);
  }
}

// What Besu, GoQuorum, geth and hosted providers answer when an eth_getLogs range or result is too large.
const RANGE_REFUSALS = /range|too many|limit|exceed|response size|query returned more than|timeout/i;

/**
 * Calls made in one synchronous run travel in one batch request of at most this many. The batch leaves in a
 * microtask, not on a later turn of the event loop: a long piece of synchronous work started meanwhile (the indexer
 * writing a range) would hold the request back, and the node would sit idle.
 */
const BATCH_MAX = 100;
const REQUEST_TIMEOUT_MS = 120_000;

type RawBlock = { number: string; hash: string; timestamp: string; parentHash?: string } | null;
type RawLog = {
  blockNumber: string;
  logIndex: string;
  blockHash: string;
  transactionHash: string;
  address: string;
  topics: string[];
  data: string;
};
type Pending = { method: string; params: unknown[]; resolve(value: unknown): void; reject(error: Error): void };
type RpcResponse = { id: number; result?: unknown; error?: { code?: number; message?: string } };

const quantity = (hex: string) => parseInt(hex, 16);

/** Pieces of a body decoded at a time: well under the size (about 1 MB) above which Node makes external strings. */
const TEXT_PIECE = 64 * 1024;

/**
 * A response body as text. A node's JSON is ASCII (hex quantities and data), which Latin-1 decodes as a plain copy
 * where UTF-8 decoding examines every byte: of a 6 MB log response, 2.6 µs per log against 7.5. Decoded a piece at a
 * time: a string made at once from megabytes would be external, its memory outside the heap prompting full
 * collections; the pieces joined are flattened into one string on the heap when JSON.parse reads it. A body with
 * any other byte is decoded as UTF-8.
 */
function bodyText(chunks: Buffer[]): string {
  if (!chunks.every((chunk) => isAscii(chunk))) return Buffer.concat(chunks).toString("utf8");
  let text = "";
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += TEXT_PIECE) text += chunk.toString("latin1", at, Math.min(at + TEXT_PIECE, chunk.length));
  }
  return text;
}
const toHex = (n: number) => `0x${n.toString(16)}`;

/**
 * A chain source over JSON-RPC at `url` (http or https). A small client rather than ethers' JsonRpcProvider: log
 * responses run to megabytes, and ethers decodes the body with its own JavaScript UTF-8 decoder and formats every
 * log (a checksummed address each) where the indexer needs the raw fields. Nothing is cached: after a reorg a
 * cached block hash would still match the checkpoint and the reorg would go unnoticed. An unreachable node fails
 * the call at once, and the indexer backs off.
 */
export function createRpcSource(url: string): ChainSource {
  const target = new URL(url);
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    throw new Error(`unsupported JSON-RPC URL ${url}: use http:// or https://`);
  }
  const transport = target.protocol === "https:" ? https : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 8 });
  let nextId = 1;
  let queue: Pending[] = [];

  function post(body: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const request = transport.request(
        target,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => {
            const text = bodyText(chunks);
            try {
              resolve(JSON.parse(text));
            } catch {
              const status = `${response.statusCode} ${response.statusMessage ?? ""}`.trim();
              reject(new Error(`JSON-RPC node at ${target.host} answered ${status}: ${text.slice(0, 200)}`));
            }
          });
        },
      );
      request.on("timeout", () => request.destroy(new Error(`JSON-RPC request timeout after ${REQUEST_TIMEOUT_MS} ms`)));
      request.on("error", reject);
      request.end(body);
    });
  }

  async function flush(batch: Pending[]) {
    const requests = batch.map((call) => ({ jsonrpc: "2.0", id: nextId++, method: call.method, params: call.params }));
    try {
      const answer = await post(JSON.stringify(requests.length === 1 ? requests[0] : requests));
      const responses = (Array.isArray(answer) ? answer : [answer]) as RpcResponse[];
      const byId = new Map(responses.map((r) => [r.id, r]));
      batch.forEach((call, i) => {
        const response = byId.get(requests[i]!.id) ?? (responses.length === 1 && batch.length === 1 ? responses[0] : undefined);
        if (!response) call.reject(new Error(`the node did not answer ${call.method}`));
        else if (response.error) call.reject(new RpcError(response.error.message ?? `${call.method} failed`, response.error.code));
        else call.resolve(response.result);
      });
    } catch (error) {
      for (const call of batch) call.reject(error as Error);
    }
  }

  function call<T>(method: string, params: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (queue.length === 0) {
        queueMicrotask(() => {
          const calls = queue;
          queue = [];
          for (let i = 0; i < calls.length; i += BATCH_MAX) void flush(calls.slice(i, i + BATCH_MAX));
        });
      }
      queue.push({ method, params, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  const blockInfo = (block: RawBlock): BlockInfo | undefined =>
    block?.hash ? { number: quantity(block.number), hash: block.hash.toLowerCase(), timestamp: quantity(block.timestamp) } : undefined;

  return {
    async chainId() {
      return quantity(await call<string>("eth_chainId", []));
    },
    async head() {
      const raw = await call<RawBlock>("eth_getBlockByNumber", ["latest", false]);
      const block = blockInfo(raw);
      if (!block) throw new Error(`node at ${target.host} returned no latest block`);
      return raw?.parentHash ? { ...block, parentHash: raw.parentHash.toLowerCase() } : block;
    },
    async block(number) {
      return blockInfo(await call<RawBlock>("eth_getBlockByNumber", [toHex(number), false]));
    },
    async logs({ fromBlock, toBlock, addresses, topics }) {
      let raw: RawLog[];
      try {
        raw = await call<RawLog[]>("eth_getLogs", [{ fromBlock: toHex(fromBlock), toBlock: toHex(toBlock), address: addresses, topics: [topics] }]);
      } catch (error) {
        const message = (error as Error).message ?? "";
        if (RANGE_REFUSALS.test(message) && toBlock > fromBlock) throw new RangeTooLargeError(message);
        throw error;
      }
      // The parsed objects become the logs, their two quantities turned into numbers: no copy of every log.
      for (const log of raw) {
        const parsed = log as unknown as Record<string, unknown>;
        parsed.blockNumber = quantity(log.blockNumber);
        parsed.index = quantity(log.logIndex);
      }
      return raw as unknown as ChainLog[];
    },
    watchHeads: (onHead) => watchHeads(url, onHead),
    close: () => agent.destroy(),
  };
}
