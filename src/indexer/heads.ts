import WebSocket from "ws";
import type { HeadBlock } from "./sync";

/**
 * A subscription to the node's new heads: `onHead` is called for each block the node announces, with the block's
 * header when the announcement carries one (number, hash, parent hash and timestamp, as Besu, geth, anvil and
 * Hardhat send).
 */
export type HeadWatch = {
  /** Resolves true once the node confirmed the subscription, false if it could not be made. */
  readonly subscribed: Promise<boolean>;
  /** Resolves when the subscription ends: why, and whether the node serves none at all (a setting, not an incident). */
  readonly ended: Promise<HeadWatchEnd>;
  close(): void;
};

export type HeadWatchEnd = { reason: string; unsupported: boolean };

/** How long the WebSocket handshake and the node's answer to eth_subscribe may take. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

/** The WebSocket URL of a JSON-RPC node served over http(s): Besu, geth, anvil and Hardhat serve both on one port. */
export function webSocketUrl(rpcUrl: string): string {
  const url = new URL(rpcUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

type RawHeader = { number?: unknown; hash?: unknown; parentHash?: unknown; timestamp?: unknown };

const isQuantity = (value: unknown): value is string => typeof value === "string" && /^0x[0-9a-f]+$/i.test(value);
const isHash = (value: unknown): value is string => typeof value === "string" && /^0x[0-9a-f]{64}$/i.test(value);

/** The announced block's header, or undefined if the node sent less than the indexer needs of it. */
function headerOf(raw: RawHeader | undefined): HeadBlock | undefined {
  if (!raw || !isQuantity(raw.number) || !isHash(raw.hash) || !isHash(raw.parentHash) || !isQuantity(raw.timestamp)) return undefined;
  return {
    number: parseInt(raw.number, 16),
    hash: raw.hash.toLowerCase(),
    parentHash: raw.parentHash.toLowerCase(),
    timestamp: parseInt(raw.timestamp, 16),
  };
}

/**
 * Subscribes to newHeads (eth_subscribe over WebSocket). A head announced spares the indexer asking for it; the logs
 * are still read over JSON-RPC as when it polls, and the checkpoint's hash is compared with the announced parent as
 * with a polled head, so a notification lost or doubled changes nothing but how soon a block is indexed.
 */
export function watchHeads(rpcUrl: string, onHead: (head: HeadBlock | undefined) => void): HeadWatch {
  const socket = new WebSocket(webSocketUrl(rpcUrl), { handshakeTimeout: SUBSCRIBE_TIMEOUT_MS });
  let subscription: string | undefined;
  let settle!: (subscribed: boolean) => void;
  let end!: (how: HeadWatchEnd) => void;
  const subscribed = new Promise<boolean>((resolve) => (settle = resolve));
  const ended = new Promise<HeadWatchEnd>((resolve) => (end = resolve));
  const finish = (reason: string, unsupported = false) => {
    clearTimeout(timer);
    settle(false);
    end({ reason, unsupported });
    socket.removeAllListeners();
    socket.on("error", () => undefined);
    socket.terminate();
  };
  const timer = setTimeout(() => finish(`the node did not confirm eth_subscribe within ${SUBSCRIBE_TIMEOUT_MS} ms`), SUBSCRIBE_TIMEOUT_MS);
  timer.unref();

  socket.on("open", () => socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] })));
  socket.on("message", (data) => {
    let message: {
      id?: number;
      result?: unknown;
      error?: { message?: string };
      method?: string;
      params?: { subscription?: string; result?: RawHeader };
    };
    try {
      message = JSON.parse(String(data)) as typeof message;
    } catch {
      return;
    }
    if (message.id === 1) {
      if (typeof message.result !== "string")
        return finish(`the node refused eth_subscribe: ${message.error?.message ?? "no subscription id"}`, true);
      subscription = message.result;
      clearTimeout(timer);
      settle(true);
    } else if (message.method === "eth_subscription" && message.params?.subscription === subscription) {
      onHead(headerOf(message.params?.result));
    }
  });
  socket.on("unexpected-response", (_request, response) => finish(`the node serves no WebSocket (HTTP ${response.statusCode} to the upgrade)`, true));
  socket.on("error", (error) => finish(error.message));
  socket.on("close", () => finish("the node closed the WebSocket"));
  return { subscribed, ended, close: () => finish("closed") };
}
