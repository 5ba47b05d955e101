/**
 * The node implementations the chain-facing tests run against, each served as JSON-RPC on a loopback port: Hardhat's
 * network (in this process) and anvil (its own process). A suite parametrized by NODE_KINDS proves the code under
 * test uses nothing one node answers and another does not.
 */
import hre from "hardhat";
import { AbstractSigner, JsonRpcProvider, Wallet } from "ethers";
import type { Provider, Signer, TransactionRequest, TransactionResponse, TypedDataDomain, TypedDataField } from "ethers";
import { ANVIL_ACCOUNT, startAnvil } from "./anvil";
import { serveChain } from "./indexer/chain";

export type NodeKind = "hardhat" | "anvil";
export const NODE_KINDS: NodeKind[] = ["hardhat", "anvil"];

export type TestNode = {
  kind: NodeKind;
  url: string;
  provider: Provider;
  /** A funded account that pays for transactions; each one it sends is mined before it returns. */
  relayer: Signer;
  /** Calls a JSON-RPC method of the node. */
  send(method: string, params?: unknown[]): Promise<unknown>;
  close(): Promise<void>;
};

/** How often a provider of this module asks for a receipt: the nodes mine on arrival, in milliseconds. */
const RECEIPT_POLL_MS = 20;

/**
 * A signer whose transactions are mined and succeeded when sendTransaction returns. anvil answers
 * eth_sendTransaction as soon as the transaction is in its pool, where Hardhat answers after mining it: waiting on
 * the receipt makes both alike, and a reverted transaction throws here rather than passing unnoticed.
 */
export class MinedSigner extends AbstractSigner {
  constructor(private readonly inner: Signer) {
    super(inner.provider);
  }

  getAddress(): Promise<string> {
    return this.inner.getAddress();
  }

  connect(provider: Provider | null): Signer {
    return new MinedSigner(this.inner.connect(provider));
  }

  signTransaction(tx: TransactionRequest): Promise<string> {
    return this.inner.signTransaction(tx);
  }

  signMessage(message: string | Uint8Array): Promise<string> {
    return this.inner.signMessage(message);
  }

  signTypedData(domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    return this.inner.signTypedData(domain, types, value);
  }

  async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    const sent = await this.inner.sendTransaction(tx);
    // ethers' wait() throws CALL_EXCEPTION for a receipt with status 0 (reverted).
    await sent.wait();
    return sent;
  }
}

/** Starts a node of `kind` on a free loopback port. */
export async function startNode(kind: NodeKind): Promise<TestNode> {
  if (kind === "hardhat") {
    const chain = await serveChain();
    const [relayer] = await hre.ethers.getSigners();
    return {
      kind,
      url: chain.url,
      provider: hre.ethers.provider,
      relayer: relayer!,
      send: (method, params = []) => hre.network.provider.send(method, params) as Promise<unknown>,
      close: chain.close,
    };
  }
  const anvil = await startAnvil();
  const provider = new JsonRpcProvider(anvil.url, 31337, { staticNetwork: true, cacheTimeout: -1 });
  provider.pollingInterval = RECEIPT_POLL_MS;
  return {
    kind,
    url: anvil.url,
    provider,
    relayer: new MinedSigner(new Wallet(ANVIL_ACCOUNT.privateKey, provider)),
    send: (method, params = []) => provider.send(method, params) as Promise<unknown>,
    async close() {
      provider.destroy();
      await anvil.close();
    },
  };
}
