import { Contract, isError, JsonRpcProvider, Wallet } from "ethers";
import type { Log, TransactionReceipt } from "ethers";
import { CONTRACT_INTERFACES, encodeCall, LedgerError, RECALL_LEVELS, refusalOf, RELAY_PATH } from "../ledger";
import type { Deployment, ErrorKind, Established, Namer, RelayResult, SignedAttestation } from "../ledger";
import { ConsortiumRegistry__factory } from "../../typechain-types";
import { toJson } from "./output";

/**
 * The two ways an attestation reaches the ledger, behind one interface so that every command signs the same way
 * and only sending differs: through the API's relay (the relay pays gas and checks the attestation first), or as a
 * contract call straight to a node (a sender key pays gas).
 */
export type Submission = {
  /** submitted: sent, not yet mined; mined: in a block; indexed: mined and visible through the API. */
  status: "submitted" | "mined" | "indexed";
  transactions: { hash: string; blockNumber: number | null }[];
  /** The ledger's events of the transaction, when the transport saw its receipt. */
  logs: Log[];
  /** Through the relay with wait: each attestation's indexed event and the ids it made (src/api/relay.ts). */
  established?: Established[];
};

/** What the CLI knows about the attestation being sent, for refusal messages. */
export type Submitting = { attestation: SignedAttestation; signers: string[]; signerOrganizations: number[]; labels: Labels };

/** Names the CLI was given for ids (a batch's number, a product's code), used in messages where the chain has none. */
export type Labels = { batches: Map<string, string>; products: Map<string, string> };

export type Transport = {
  readonly kind: "api" | "rpc";
  readonly deployment: Deployment;
  /** The organization the key is registered to; refuses an unknown or revoked key. */
  organizationOf(key: Wallet): Promise<number>;
  submit(submitting: Submitting, options: { wait: boolean }): Promise<Submission>;
  close(): void;
};

/** What the API's answer status says went wrong (the CLI's edge facing HTTP); 429 and 503 both mean "retry later". */
export function kindOfStatus(status: number): ErrorKind {
  const kinds: Record<number, ErrorKind> = {
    400: "bad_input",
    401: "unauthenticated",
    403: "not_allowed",
    404: "not_found",
    409: "conflict",
    422: "refused",
    429: "retry_later",
    503: "retry_later",
    504: "timed_out",
  };
  return kinds[status] ?? (status >= 500 ? "internal" : "bad_input");
}

/** An error in one line: ethers' short message (its full message repeats the whole request). */
const firstLine = (error: unknown) =>
  String((error as { shortMessage?: string })?.shortMessage ?? (error as Error)?.message ?? error).split("\n")[0]!;

// ---------- API ----------

/** A request body sent as it is produced: text/plain chunks (a batch's codes, one a line). */
export type TextStream = { text: AsyncIterable<string> };

export type ApiClient = {
  readonly url: string;
  /** A JSON body is sent as JSON; a TextStream is streamed as text/plain. */
  request<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown, token?: string): Promise<T>;
  /** Signs in with the key (EIP-191 challenge): a bearer token and the key's organization. */
  signIn(key: Wallet): Promise<{ token: string; organizationId: number; role: string }>;
};

const isTextStream = (body: unknown): body is TextStream =>
  typeof body === "object" && body !== null && typeof (body as TextStream).text === "object" && Symbol.asyncIterator in (body as TextStream).text;

export function createApiClient(url: string): ApiClient {
  const base = url.replace(/\/+$/, "");
  try {
    new URL(base);
  } catch {
    throw new LedgerError("bad_input", "BAD_URL", `--api must be an http(s) URL, got ${JSON.stringify(url)}`, "--api");
  }
  const sessions = new Map<string, Promise<{ token: string; organizationId: number; role: string }>>();
  async function request<T>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown, token?: string): Promise<T> {
    let response: Response;
    try {
      const streaming = isTextStream(body);
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          "content-type": streaming ? "text/plain; charset=utf-8" : "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: streaming ? ReadableStream.from(encoded(body.text)) : body === undefined ? undefined : toJson(body),
        // Node's fetch sends a stream only half-duplex.
        ...(streaming ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new LedgerError(
        "retry_later",
        "API_UNREACHABLE",
        `cannot reach the API at ${base}: ${cause?.code ?? cause?.message ?? firstLine(error)}`,
      );
    }
    const text = await response.text();
    let answer: unknown;
    try {
      answer = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new LedgerError(
        "internal",
        "API_BAD_ANSWER",
        `${method} ${path} answered ${response.status} with something other than JSON: is ${base} the ledger's API?`,
      );
    }
    if (!response.ok) {
      const error = (answer as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
      throw new LedgerError(
        kindOfStatus(response.status),
        error?.code ?? `HTTP_${response.status}`,
        error?.message ?? `${method} ${path} answered ${response.status}`,
        error?.field,
      );
    }
    return answer as T;
  }
  return {
    url: base,
    request,
    signIn(key) {
      let session = sessions.get(key.address);
      if (!session) {
        session = (async () => {
          const challenge = await request<{ challenge: string; text: string }>("POST", "/v1/auth/challenge", { key: key.address });
          const signature = await key.signMessage(challenge.text);
          return request<{ token: string; organizationId: number; role: string }>("POST", "/v1/auth/token", {
            key: key.address,
            challenge: challenge.challenge,
            signature,
          });
        })();
        sessions.set(key.address, session);
        session.catch(() => sessions.delete(key.address));
      }
      return session;
    },
  };
}

async function* encoded(text: AsyncIterable<string>): AsyncGenerator<Uint8Array> {
  for await (const chunk of text) yield Buffer.from(chunk, "utf8");
}

/**
 * Through POST /v1/attestations: the relay's refusal reason is shown as the relay words it. Signed in with the
 * session's key when it can be, so the relay takes bodies larger than an anonymous caller's (a large dispensing).
 */
export function createApiTransport(api: ApiClient, deployment: Deployment, key: Wallet): Transport {
  return {
    kind: "api",
    deployment,
    async organizationOf(key) {
      return (await api.signIn(key)).organizationId;
    },
    async submit({ attestation }, { wait }) {
      // A key that cannot sign in still relays anonymously: the relay then words the refusal of its attestation.
      const token = await api.signIn(key).then(
        (session) => session.token,
        () => undefined,
      );
      const answer = await api.request<RelayResult>("POST", RELAY_PATH, { attestations: [attestation], wait }, token);
      return {
        status: answer.status,
        transactions: answer.transactions.map(({ hash, blockNumber }) => ({ hash, blockNumber })),
        logs: [],
        established: answer.established,
      };
    },
    close: () => undefined,
  };
}

// ---------- RPC ----------

/** Straight to a node: dry run (the contract's custom error decoded into words), send, wait for the receipt. */
export async function createRpcTransport(rpcUrl: string, deployment: Deployment, senderKey: string | undefined): Promise<Transport> {
  let url: URL;
  try {
    url = new URL(rpcUrl);
  } catch {
    throw new LedgerError("bad_input", "BAD_URL", `--rpc must be an http(s) URL, got ${JSON.stringify(rpcUrl)}`, "--rpc");
  }
  const provider = new JsonRpcProvider(url.toString(), deployment.chainId, { staticNetwork: true, cacheTimeout: -1 });
  const registry = ConsortiumRegistry__factory.connect(deployment.contracts.ConsortiumRegistry, provider);
  const batchLedger = new Contract(deployment.contracts.BatchLedger, CONTRACT_INTERFACES.BatchLedger, provider);
  const node = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (error instanceof LedgerError) throw error;
      throw new LedgerError("retry_later", "RPC_UNREACHABLE", `the node at ${rpcUrl} did not answer: ${firstLine(error)}`);
    }
  };
  const chainId = Number(await node(() => provider.send("eth_chainId", [])));
  if (chainId !== deployment.chainId) {
    provider.destroy();
    throw new LedgerError(
      "bad_input",
      "CHAIN_MISMATCH",
      `the node at ${rpcUrl} serves chain ${chainId}, but the deployment is on chain ${deployment.chainId}`,
      "--rpc",
    );
  }

  const namer = (labels: Labels): Namer => {
    const organization = async (id: unknown) => `organization ${Number(id)}`;
    const batch = async (id: unknown) => {
      const label = labels.batches.get(String(id).toLowerCase());
      return label ? `batch ${label}` : `batch ${String(id).toLowerCase()}`;
    };
    return {
      organization,
      batch,
      async keyOwner(address) {
        const [owner] = await registry.signingKey(String(address));
        return owner === 0n ? "no organization" : organization(owner);
      },
      async product(id) {
        return `product ${labels.products.get(String(id).toLowerCase()) ?? String(id).toLowerCase()}`;
      },
      async recall(batchId) {
        const state = (await batchLedger.getFunction("batch")(batchId)) as { recall: bigint; recallLevel: bigint };
        const level = RECALL_LEVELS.nameOf(state.recallLevel);
        return Number(state.recall) === 1 ? `under a level ${level} recall` : `recalled (level ${level}, closed)`;
      },
      shipment: async () => "the chain keeps only a hash of a shipment's details; check the batch, shipper and shipped quantity of the shipment",
      shipmentState: async () => "it was received already, or never shipped",
      packState: async () => "",
      unacknowledgedHolders: async () => "",
    };
  };

  const refusal = (data: string | undefined, submitting: Submitting) => refusalOf(data, { index: 0, ...submitting, names: namer(submitting.labels) });

  return {
    kind: "rpc",
    deployment,
    async organizationOf(key) {
      const [organizationId, revoked] = await node(() => registry.signingKey(key.address));
      if (organizationId === 0n) {
        throw new LedgerError(
          "not_allowed",
          "UNKNOWN_SIGNING_KEY",
          `key ${key.address} is not registered to any organization of the consortium; pass --org or use a registered key`,
        );
      }
      if (revoked)
        throw new LedgerError(
          "not_allowed",
          "REVOKED_SIGNING_KEY",
          `key ${key.address} was revoked by organization ${organizationId}; sign with a current key`,
        );
      return Number(organizationId);
    },
    async submit(submitting, _options) {
      const { attestation } = submitting;
      const to = deployment.contracts[attestation.contract];
      const data = encodeCall(attestation);
      const sender = new Wallet(senderKey ?? "", provider);
      let gas: bigint;
      try {
        gas = await provider.estimateGas({ from: sender.address, to, data });
      } catch (error) {
        if (isError(error, "CALL_EXCEPTION")) throw await refusal(error.data ?? "0x", submitting);
        throw new LedgerError("retry_later", "RPC_UNREACHABLE", `the node at ${rpcUrl} did not answer: ${firstLine(error)}`);
      }
      const response = await sender.sendTransaction({ to, data, gasLimit: (gas * 5n) / 4n }).catch((error: unknown) => {
        // Nodes word this differently (Hardhat answers a plain -32000), so the message is matched too.
        if (isError(error, "INSUFFICIENT_FUNDS") || /insufficient funds|enough funds/i.test(String((error as Error).message))) {
          throw new LedgerError(
            "refused",
            "SENDER_UNFUNDED",
            `the sender ${sender.address} cannot pay for gas; set TRACE_SENDER_KEY to a funded account`,
          );
        }
        throw new LedgerError("retry_later", "RPC_UNREACHABLE", `the node at ${rpcUrl} refused the transaction: ${firstLine(error)}`);
      });
      const receipt: TransactionReceipt | null = await node(() => response.wait(1)).catch((error: unknown) => {
        if (isError(error, "CALL_EXCEPTION")) {
          throw new LedgerError(
            "refused",
            "TRANSACTION_REVERTED",
            `transaction ${response.hash} was mined but reverted: the ledger changed since the dry run; check its state and sign again`,
          );
        }
        throw error;
      });
      return {
        status: "mined",
        transactions: [{ hash: response.hash, blockNumber: receipt?.blockNumber ?? null }],
        logs: [...(receipt?.logs ?? [])],
      };
    },
    close: () => provider.destroy(),
  };
}
