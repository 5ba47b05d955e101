import { existsSync } from "node:fs";
import path from "node:path";
import type { Server } from "node:http";
import { BackwardsCompatibilityProviderAdapter } from "hardhat/internal/core/providers/backwards-compatibility";
import { createProvider } from "hardhat/internal/core/providers/construction";
import { MethodNotSupportedError } from "hardhat/internal/core/providers/errors";
import { JsonRpcHandler } from "hardhat/internal/hardhat-network/jsonrpc/handler";
import { ProviderWrapper } from "hardhat/plugins";
import type { EIP1193Provider, EthereumProvider, HardhatRuntimeEnvironment, RequestArguments } from "hardhat/types";
import { closeServer, serverUrl } from "../ops/listen";
import { JournalError, openJournal, readJournal } from "./journal";
import type { JournalEntry, JournaledBlock, JournalWriter } from "./journal";

/**
 * Requests that change the chain's state. Each is journaled with the blocks it mined; everything else is a read
 * and passes straight through.
 */
const JOURNALED = new Set([
  "eth_sendTransaction",
  "eth_sendRawTransaction",
  "evm_mine",
  "hardhat_mine",
  "hardhat_setBalance",
  "hardhat_setCode",
  "hardhat_setNonce",
  "hardhat_setStorageAt",
  "hardhat_setCoinbase",
  "hardhat_setPrevRandao",
  "hardhat_setNextBlockBaseFeePerGas",
  "hardhat_setMinGasPrice",
  "hardhat_impersonateAccount",
  "hardhat_stopImpersonatingAccount",
]);

/** Requests that would make the history non-linear or let blocks be mined outside a journaled request. */
const REFUSED = new Set(["evm_snapshot", "evm_revert", "hardhat_reset", "evm_setAutomine", "evm_setIntervalMining", "hardhat_dropTransaction"]);

type RpcBlock = { number: string; hash: string; timestamp: string };

async function blockAt(provider: EIP1193Provider, tag: number | "latest" | "pending"): Promise<JournaledBlock | undefined> {
  const param = typeof tag === "number" ? `0x${tag.toString(16)}` : tag;
  const block = (await provider.request({ method: "eth_getBlockByNumber", params: [param, false] })) as RpcBlock | null;
  return block ? { number: Number(block.number), hash: block.hash, timestamp: Number(block.timestamp) } : undefined;
}

/**
 * Journals every state-changing request before answering it. Such requests run one at a time, so the blocks
 * that appear while one runs are the blocks it mined (the chain automines; interval mining is refused).
 */
class JournalingProvider extends ProviderWrapper {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    wrapped: EIP1193Provider,
    private readonly journal: JournalWriter,
    private head: number,
  ) {
    super(wrapped);
  }

  override async request(args: RequestArguments): Promise<unknown> {
    // Past a failed journal write the chain holds blocks a restart will not have: answer nothing from it.
    if (this.journal.failure) throw this.journal.failure;
    if (REFUSED.has(args.method)) {
      throw new MethodNotSupportedError(`${args.method} is refused by the durable embedded chain: its journal replays one linear history`);
    }
    if (!JOURNALED.has(args.method)) return this._wrappedProvider.request(args);
    const run = this.queue.then(() => this.journaled(args));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every state-changing request received so far is answered and journaled. */
  idle(): Promise<unknown> {
    return this.queue;
  }

  private async journaled(args: RequestArguments): Promise<unknown> {
    let result: unknown;
    let failure: unknown;
    try {
      result = await this._wrappedProvider.request(args);
    } catch (error) {
      failure = error ?? new Error(`${args.method} failed`);
    }
    const blocks = await this.minedSinceHead();
    // A refused transaction changed nothing; a reverted one still mined its block, which replay must repeat.
    if (failure === undefined || blocks.length > 0) {
      this.journal.append({ method: args.method, params: this._getParams(args), blocks });
    }
    if (failure !== undefined) throw failure;
    return result;
  }

  private async minedSinceHead(): Promise<JournaledBlock[]> {
    const latest = (await blockAt(this._wrappedProvider, "latest")) as JournaledBlock;
    const blocks: JournaledBlock[] = [];
    for (let number = this.head + 1; number < latest.number; number++) blocks.push((await blockAt(this._wrappedProvider, number)) as JournaledBlock);
    if (latest.number > this.head) blocks.push(latest);
    this.head = latest.number;
    return blocks;
  }
}

export type EmbeddedChainOptions = {
  hre: HardhatRuntimeEnvironment;
  /** The journal lives in `<dataDir>/chain/journal`. */
  dataDir: string;
  /** Where the JSON-RPC answers: a listening server with no handler yet (src/ops/listen.ts listenHttp). */
  server: Server;
  /** The wall clock, in seconds (tests pin it). */
  now?: () => number;
};

export type EmbeddedChain = {
  /** JSON-RPC URL on loopback. */
  url: string;
  /** The journaling provider: in-process writes must go through it to survive a restart. */
  provider: EthereumProvider;
  chainId: number;
  genesisHash: string;
  /** No journal existed: this is a new chain. */
  fresh: boolean;
  /** Journal entries replayed on start, and whether a half-written last line was dropped. */
  replayed: { entries: number; blocks: number; truncatedTail: boolean };
  close(): Promise<void>;
};

/**
 * Starts Hardhat's network as a JSON-RPC server whose state survives a restart: every state-changing request is
 * journaled (fsync'd before it is answered) to `<dataDir>/chain/journal`, and on start the journal is replayed
 * from the same genesis (Hardhat's `initialDate`) with each block's recorded timestamp, so block hashes, contract
 * addresses and state are those of the first run. A replay that yields another block hash stops with a message.
 */
export async function startEmbeddedChain(options: EmbeddedChainOptions): Promise<EmbeddedChain> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const file = path.join(options.dataDir, "chain", "journal");
  const existing = existsSync(file) ? readJournal(file) : undefined;
  const initialDate = existing?.header.initialDate ?? new Date(now() * 1000).toISOString();
  const { hre } = options;
  const config = { ...hre.config, networks: { ...hre.config.networks, hardhat: { ...hre.config.networks.hardhat, initialDate } } };
  const raw = await createProvider(config, "hardhat", hre.artifacts);
  const chainId = Number(await raw.request({ method: "eth_chainId" }));
  const genesis = (await blockAt(raw, 0)) as JournaledBlock;
  let blocks = 0;
  if (existing) {
    if (existing.header.genesisHash !== genesis.hash || existing.header.chainId !== chainId) {
      throw new JournalError(
        `chain journal ${file} starts from genesis ${existing.header.genesisHash} on chain ${existing.header.chainId}, but this Hardhat network ` +
          `starts from ${genesis.hash} on chain ${chainId} (another Hardhat version or network setting); move ${path.dirname(file)} aside to start a new chain`,
      );
    }
    blocks = await replay(raw, existing.entries, file);
    await catchUpClock(raw, now());
  }
  const journal = openJournal(
    file,
    existing
      ? { intactLength: existing.intactLength }
      : { header: { format: "trace-chain-journal", version: 1, initialDate, chainId, genesisHash: genesis.hash } },
  );
  const head = (await blockAt(raw, "latest")) as JournaledBlock;
  const journaling = new JournalingProvider(raw, journal, head.number);
  const provider = new BackwardsCompatibilityProviderAdapter(journaling);
  const closeRpc = serveJsonRpc(options.server, provider);
  return {
    url: serverUrl(options.server),
    provider,
    chainId,
    genesisHash: genesis.hash,
    fresh: !existing,
    replayed: { entries: existing?.entries.length ?? 0, blocks, truncatedTail: existing?.truncatedTail ?? false },
    async close() {
      await closeRpc();
      await journaling.idle();
      journal.close();
    },
  };
}

/**
 * Hardhat's JSON-RPC handler over HTTP on a server already listening: what `hardhat node`'s server does, minus
 * its own listen, which turns a taken port into an uncaught exception, and minus WebSocket, which nothing here uses.
 */
function serveJsonRpc(server: Server, provider: EthereumProvider): () => Promise<void> {
  server.on("request", new JsonRpcHandler(provider).handleHttp);
  return () => closeServer(server);
}

/** Re-executes the journal in order, each block at its recorded time, and checks every block hash. */
async function replay(provider: EIP1193Provider, entries: JournalEntry[], file: string): Promise<number> {
  let expectedHead = 0;
  let blocks = 0;
  for (const [index, entry] of entries.entries()) {
    const line = index + 2;
    const first = entry.blocks[0];
    if (first) await provider.request({ method: "evm_setNextBlockTimestamp", params: [first.timestamp] });
    try {
      await provider.request({ method: entry.method, params: entry.params });
    } catch {
      // A reverted transaction fails again but mines its block again: the block hashes below are the judge.
    }
    for (const recorded of entry.blocks) {
      const replayed = await blockAt(provider, recorded.number);
      if (replayed?.hash !== recorded.hash) {
        throw new JournalError(
          `chain journal ${file} line ${line} (${entry.method}): block ${recorded.number} replayed as ${replayed?.hash ?? "nothing"}, ` +
            `the journal recorded ${recorded.hash}; the chain cannot be restored. Move ${path.dirname(file)} aside to start a new chain ` +
            `(the indexer will then rebuild its database from the new chain)`,
        );
      }
      blocks++;
    }
    expectedHead = entry.blocks.at(-1)?.number ?? expectedHead;
    const head = (await blockAt(provider, "latest")) as JournaledBlock;
    if (head.number !== expectedHead) {
      throw new JournalError(
        `chain journal ${file} line ${line} (${entry.method}): replay reached block ${head.number}, the journal recorded block ${expectedHead}`,
      );
    }
  }
  return blocks;
}

/**
 * The replayed chain's clock stopped at its last block: move it to the wall clock so new blocks carry today's
 * time. One second more, because Hardhat's clock and ours tick independently and a block dated a second early
 * could predate what a caller just read as now.
 */
async function catchUpClock(provider: EIP1193Provider, now: number) {
  const pending = (await blockAt(provider, "pending")) as JournaledBlock;
  if (now >= pending.timestamp) await provider.request({ method: "evm_increaseTime", params: [now - pending.timestamp + 1] });
}
