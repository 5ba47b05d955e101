import { isError, JsonRpcApiProvider, JsonRpcProvider, keccak256, Wallet } from "ethers";
import type { Provider } from "ethers";
import type { RequestHandler } from "express";
import { z } from "zod";
import {
  LEDGER_CONTRACTS,
  actorOf,
  attestationTypes,
  badInput,
  domainOf,
  encodeBundle,
  encodeCall,
  encodeMulticall,
  LedgerError,
  refusalFor,
  refusalOf,
  relayBody,
  RELAY_PATH,
} from "../ledger";
import type { Deployment, Established, LedgerContract, RefusalContext, RelayedTransaction, RelayResult, SignedAttestation } from "../ledger";
import { recoverSigner as recoverWithLibsecp256k1, signaturesReady } from "../indexer/signatures";
import type { Logger } from "../log";
import { payloadOf } from "../store";
import type { Store } from "../store";
import { createNamer } from "../store/names";
import { defineRoute } from "./routes";
import type { AnyRoute } from "./routes";

/**
 * The relay: anyone may hand in attestations signed by organizations' keys; the relayer's account pays for the
 * transactions. An attestation's own signature is its authority, so the route is public (and rate-limited).
 *
 * Nothing is sent unless every attestation of the request passes, in this order:
 * 1. the body's schema (400 with the offending field);
 * 2. off-chain, against the indexed read model: each signature recovers to an unrevoked key of the organization the
 *    message names, and that organization is active (403). Recovery is libsecp256k1's, as the indexer's, and comes
 *    before anything else costly: an unknown key is refused before the contract call is even encoded;
 * 3. a dry run of each transaction from the relayer's account (eth_estimateGas), whose revert is decoded into the
 *    contract's custom error and answered in words (src/ledger/refusals.ts: bad input, not allowed, a replay, or refused by the state).
 * A request is one transaction, so it is applied whole or not at all: attestations for one contract go in its
 * `multicall`, attestations for several contracts through the deployment's relay bundle (RelayBundle.relayAll), in
 * the request's order either way. A deployment without a relay bundle refuses a request spanning contracts before
 * anything else. The answer says exactly what reached the chain: the transaction is signed here, so its hash is known even
 * when the node's answer is lost, and no answer carries the signed transaction itself.
 */

export type RelayOptions = {
  /** The chain's JSON-RPC endpoint; or pass `provider`. */
  rpcUrl?: string;
  provider?: Provider;
  /** Private key of the funded account that sends (and pays for) the transactions. */
  relayerKey: string;
  deployment: Deployment;
  /** The indexed read model: organizations and keys for the off-chain checks, names for refusals, the checkpoint. */
  store: Store;
  log?: Logger;
  /** Resolves once the read model has indexed `blockNumber`; by default polls the indexer's checkpoint. */
  waitForIndexed?: (blockNumber: number) => Promise<void>;
  /** How long `wait` waits for a receipt, then for the indexer (default 60 s each). */
  waitTimeoutMs?: number;
  pollIntervalMs?: number;
};

export type Relay = {
  /** The relayer account's address. */
  readonly relayer: string;
  /** Checks, dry-runs and sends; throws LedgerError with the exact reason when anything would be refused. */
  relay(attestations: SignedAttestation[], options?: { wait?: boolean }): Promise<RelayResult>;
  close(): void;
};

type Call = { index: number; attestation: SignedAttestation; data: string; context: RefusalContext };
/** One contract's `multicall`, or the relay bundle ("RelayBundle") for calls to several. */
type Transaction = { contract: LedgerContract | "RelayBundle"; calls: Call[] };

export function createRelay(options: RelayOptions): Relay {
  const { deployment, store } = options;
  if (!options.provider && !options.rpcUrl) throw new Error("createRelay needs rpcUrl or provider");
  const ownsProvider = !options.provider;
  // No response cache: the relayer's pending nonce and the chain's state must be read fresh for every request.
  const provider = options.provider ?? new JsonRpcProvider(options.rpcUrl, deployment.chainId, { staticNetwork: true, cacheTimeout: -1 });
  const wallet = new Wallet(options.relayerKey, provider);
  const names = createNamer(store);
  void signaturesReady();
  const waitTimeoutMs = options.waitTimeoutMs ?? 60_000;
  const pollIntervalMs = options.pollIntervalMs ?? 100;
  const waitForIndexed = options.waitForIndexed ?? ((block: number) => pollCheckpoint(store, block, waitTimeoutMs, pollIntervalMs));
  let chainChecked = false;
  // One request at a time from dry run to send: the relayer's nonces stay in order and a request's dry run is not
  // invalidated by the relay's own transactions.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusively = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };

  async function checkChain() {
    if (chainChecked) return;
    const chainId = Number(
      await rpc(() => (provider instanceof JsonRpcApiProvider ? provider.send("eth_chainId", []) : provider.getNetwork().then((n) => n.chainId))),
    );
    if (chainId !== deployment.chainId) {
      throw new LedgerError(
        "internal",
        "RELAY_MISCONFIGURED",
        `the relay's node serves chain ${chainId}, the deployment is on chain ${deployment.chainId}`,
      );
    }
    chainChecked = true;
  }

  /** Step 2: each signature is by an unrevoked key of the organization it speaks for, and that one is active. */
  async function checkSigners(attestation: SignedAttestation, index: number): Promise<RefusalContext> {
    const context: RefusalContext = { index, attestation, signers: [], signerOrganizations: [], names };
    const actor = actorOf(attestation);
    const signatures: { field: "signature" | "counterpartySignature"; organizationId: number }[] = [
      { field: "signature", organizationId: actor.organizationId },
    ];
    if (attestation.type === "Agreement") {
      signatures.push({ field: "counterpartySignature", organizationId: Number(attestation.message.counterpartyId) });
    }
    for (const { field, organizationId } of signatures) {
      context.signers.push(recoverSigner(attestation, index, field));
      context.signerOrganizations.push(organizationId);
    }
    for (const [i, { organizationId }] of signatures.entries()) {
      const signer = context.signers[i]!;
      const key = await store.db.selectFrom("signing_keys").selectAll().where("address", "=", signer).executeTakeFirst();
      if (!key) throw await refusalFor({ name: "UnknownSigningKey", args: { signer } }, context);
      if (key.organization_id !== organizationId) {
        throw await refusalFor({ name: "SignerNotOfOrganization", args: { signer, organizationId } }, context);
      }
      if (key.revoked) throw await refusalFor({ name: "RevokedSigningKey", args: { signer } }, context);
      const organization = await store.db.selectFrom("organizations").select("status").where("id", "=", organizationId).executeTakeFirst();
      if (organization?.status !== "ACTIVE") throw await refusalFor({ name: "SuspendedOrganization", args: { organizationId } }, context);
    }
    return context;
  }

  function recoverSigner(attestation: SignedAttestation, index: number, field: "signature" | "counterpartySignature") {
    const signature = attestation[field]!;
    const signer = isCanonical(signature)
      ? recoverWithLibsecp256k1(
          { ...domainOf(deployment, attestation.contract), type: attestation.type, message: withLowercaseAddresses(attestation) },
          signature,
        )
      : null;
    if (signer === null) {
      throw badInput(
        "INVALID_SIGNATURE",
        `attestation ${index} (${attestation.type}): the ${field} is not a valid signature`,
        `attestations.${index}.${field}`,
      );
    }
    return signer;
  }

  const transactionData = (transaction: Transaction, calls = transaction.calls) =>
    transaction.contract === "RelayBundle"
      ? encodeBundle(calls.map((call) => ({ to: deployment.contracts[call.attestation.contract], data: call.data })))
      : encodeMulticall(
          transaction.contract,
          calls.map((call) => call.data),
        );
  const addressOf = (transaction: Transaction) =>
    transaction.contract === "RelayBundle" ? deployment.relayBundle! : deployment.contracts[transaction.contract];

  /** Step 3: the gas the transaction needs, or the refusal of the attestation the contract would reject. */
  async function dryRun(transaction: Transaction): Promise<bigint> {
    const to = addressOf(transaction);
    const simulate = (calls: Call[]) => provider.estimateGas({ from: wallet.address, to, data: transactionData(transaction, calls) });
    try {
      return await simulate(transaction.calls);
    } catch (error) {
      let failing = revertDataOf(error);
      if (failing === undefined) throw unavailable(error);
      // Find the first attestation that fails: the shortest failing prefix (a prefix of a passing one passes).
      let [low, high] = [1, transaction.calls.length];
      while (low < high) {
        const middle = Math.floor((low + high) / 2);
        try {
          await simulate(transaction.calls.slice(0, middle));
          low = middle + 1;
        } catch (prefixError) {
          const data = revertDataOf(prefixError);
          if (data === undefined) throw unavailable(prefixError);
          failing = data;
          high = middle;
        }
      }
      const call = transaction.calls[low - 1]!;
      throw await refusalOf(failing, call.context);
    }
  }

  async function send(transaction: Transaction): Promise<RelayedTransaction> {
    const gasLimit = await dryRun(transaction);
    const nonce = await rpc(() => provider.getTransactionCount(wallet.address, "pending"));
    const populated = await rpc(() =>
      wallet.populateTransaction({
        to: addressOf(transaction),
        data: transactionData(transaction),
        // Headroom over the estimate: storage the transaction first writes may cost more once others land first.
        gasLimit: (gasLimit * 5n) / 4n,
        nonce,
      }),
    );
    const signed = await wallet.signTransaction(populated);
    const sent: RelayedTransaction = {
      hash: keccak256(signed),
      contract: transaction.contract,
      attestations: transaction.calls.map((c) => c.index),
      blockNumber: null,
    };
    try {
      await provider.broadcastTransaction(signed);
    } catch (error) {
      await checkTaken(sent, error);
    }
    options.log?.info({ hash: sent.hash, contract: transaction.contract, attestations: transaction.calls.length }, "relayed attestations");
    return sent;
  }

  /**
   * After a failed broadcast, whether the node has the transaction after all (its answer was lost): if it does, the
   * transaction was sent; if it says it does not, nothing was; if it cannot be asked, the answer names the hash.
   */
  async function checkTaken(sent: RelayedTransaction, failure: unknown) {
    let known: unknown;
    try {
      known = await provider.getTransaction(sent.hash);
    } catch (error) {
      throw new LedgerError(
        "timed_out",
        "SENT_OUTCOME_UNKNOWN",
        `transaction ${sent.hash} (attestation${sent.attestations.length > 1 ? "s" : ""} ${sent.attestations.join(", ")}) was handed to ` +
          `the chain node, which then stopped answering (${failureOf(error)}): it may be mined; look it up by its hash before ` +
          `sending again (a repeat of a mined attestation is refused as a replay)`,
      );
    }
    if (!known)
      throw new LedgerError(
        "retry_later",
        "CHAIN_UNAVAILABLE",
        `the chain node refused the transaction: ${failureOf(failure)}; nothing was sent; retry`,
      );
  }

  async function receiptOf(hash: string) {
    const deadline = Date.now() + waitTimeoutMs;
    for (;;) {
      const receipt = await rpc(() => provider.getTransactionReceipt(hash));
      if (receipt) return receipt;
      if (Date.now() > deadline) {
        throw new LedgerError(
          "timed_out",
          "NOT_MINED_IN_TIME",
          `transaction ${hash} was sent but not mined within ${waitTimeoutMs / 1000} s; it may still be`,
        );
      }
      await sleep(pollIntervalMs);
    }
  }

  return {
    relayer: wallet.address,
    async relay(attestations, relayOptions = {}) {
      const contract = transactionContract(attestations, deployment);
      const contexts: RefusalContext[] = [];
      for (const [index, attestation] of attestations.entries()) contexts.push(await checkSigners(attestation, index));
      // Only once every signer is known and active is the call encoded (ethers' ABI coder, in JavaScript).
      const calls: Call[] = attestations.map((attestation, index) => ({
        index,
        attestation,
        data: encodeCall(attestation),
        context: contexts[index]!,
      }));
      const sent = await exclusively(async () => {
        await checkChain();
        return send({ contract, calls });
      });
      if (!relayOptions.wait) return { status: "submitted", transactions: [sent], indexedBlock: null };
      const receipt = await receiptOf(sent.hash);
      sent.blockNumber = receipt.blockNumber;
      if (receipt.status !== 1) {
        throw new LedgerError(
          "refused",
          "TRANSACTION_REVERTED",
          `transaction ${sent.hash} (attestation${sent.attestations.length > 1 ? "s" : ""} ${sent.attestations.join(", ")}) was mined in ` +
            `block ${receipt.blockNumber} but reverted: none of its attestations took effect. The ledger changed between the dry ` +
            `run and the block; check the state and sign again`,
        );
      }
      await waitForIndexed(receipt.blockNumber);
      return {
        status: "indexed",
        transactions: [sent],
        indexedBlock: receipt.blockNumber,
        established: await establishedBy(store, attestations, [sent]),
      };
    },
    close() {
      if (ownsProvider) provider.destroy();
    },
  };
}

/** Half the curve order: the contracts (OpenZeppelin's ECDSA) refuse a signature whose s is above it. */
const HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** A signature the contracts accept: v 27 or 28, s in the lower half. Any other would be refused on chain anyway. */
function isCanonical(signature: string): boolean {
  const v = parseInt(signature.slice(130, 132), 16);
  return (v === 27 || v === 28) && BigInt(`0x${signature.slice(66, 130)}`) <= HALF_ORDER;
}

/**
 * The message with its addresses in lower case, the form the indexer's fast digest takes (mixed case would send it
 * to ethers' checksum check, in JavaScript); the schema has already checked them, and the digest does not change.
 */
function withLowercaseAddresses(attestation: SignedAttestation): Record<string, unknown> {
  const fields = (attestationTypes[attestation.contract] as Record<string, readonly { name: string; type: string }[]>)[attestation.type]!;
  const message: Record<string, unknown> = { ...attestation.message };
  for (const { name, type } of fields) if (type === "address") message[name] = String(message[name]).toLowerCase();
  return message;
}

/**
 * Where a request's one transaction goes: the contract its attestations are all for, or the relay bundle when they
 * span contracts. Without a bundle that would be two transactions, and the first could be mined while the second
 * reverts: such a request is refused before anything is checked or sent.
 */
function transactionContract(attestations: SignedAttestation[], deployment: Deployment): Transaction["contract"] {
  const first = attestations[0]!.contract;
  const other = attestations.findIndex((a) => a.contract !== first);
  if (other >= 0 && deployment.relayBundle) return "RelayBundle";
  if (other >= 0) {
    throw badInput(
      "BUNDLE_SPANS_CONTRACTS",
      `attestation ${other} is for ${attestations[other]!.contract}, attestation 0 for ${first}: one request is one transaction ` +
        `to one contract, applied whole or not at all, and this deployment has no relay bundle to span contracts; send the ` +
        `attestations for each contract in a request of their own`,
      `attestations.${other}.contract`,
    );
  }
  return first;
}

const ESTABLISHED_IDS = ["organizationId", "productId", "agreementId", "batchId", "shipmentId"] as const;

/**
 * Each attestation's indexed event, found among its transaction's events by the attestation's signature (an
 * agreement's event carries it as mahSignature): one multicall's events cannot be told apart by position alone.
 */
async function establishedBy(store: Store, attestations: SignedAttestation[], sent: RelayedTransaction[]): Promise<Established[]> {
  const events = await store.db
    .selectFrom("ledger_events")
    .select(["tx_hash", "name", "payload"])
    .where(
      "tx_hash",
      "in",
      sent.map((t) => t.hash),
    )
    .orderBy("block_number")
    .orderBy("log_index")
    .execute();
  const bySignature = new Map<string, { name: string; args: Record<string, unknown> }>();
  for (const event of events) {
    const args = payloadOf(event);
    const signature = args[event.name === "AgreementSigned" ? "mahSignature" : "signature"];
    if (typeof signature === "string") bySignature.set(signature.toLowerCase(), { name: event.name, args });
  }
  const established: Established[] = [];
  for (const [index, attestation] of attestations.entries()) {
    const event = bySignature.get(attestation.signature.toLowerCase());
    if (!event) continue;
    const ids: Omit<Established, "attestation" | "event"> = {};
    for (const name of ESTABLISHED_IDS) {
      const value = event.args[name];
      if (value === undefined || value === null) continue;
      if (name === "organizationId") ids.organizationId = Number(value);
      else ids[name] = String(value);
    }
    established.push({ attestation: index, event: event.name, ...ids });
  }
  return established;
}

/** The revert data of a failed call or gas estimate ("0x" when the node gave none), or undefined for any other failure. */
function revertDataOf(error: unknown): string | undefined {
  if (isError(error, "CALL_EXCEPTION")) return error.data ?? "0x";
  return undefined;
}

/** The node failed to answer: retryable, and nothing about the attestations. */
function unavailable(error: unknown) {
  return new LedgerError("retry_later", "CHAIN_UNAVAILABLE", `the chain node did not answer: ${failureOf(error)}; retry`);
}

/**
 * What a node's failure says: the node's own message, or ethers' short one. Never ethers' full message, which
 * quotes the request (a signed transaction, the attestations' signatures); long hex is cut all the same.
 */
function failureOf(error: unknown): string {
  const { shortMessage, error: nodeError, message } = error as { shortMessage?: string; error?: { message?: unknown }; message?: string };
  const text = typeof nodeError?.message === "string" ? nodeError.message : (shortMessage ?? String(message ?? error).split("\n")[0]!);
  return text.replace(/0x[0-9a-fA-F]{64,}/g, (hex) => `${hex.slice(0, 10)}…`);
}

async function rpc<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof LedgerError) throw error;
    throw unavailable(error);
  }
}

/** Resolves once the indexer's checkpoint reaches `blockNumber`. */
async function pollCheckpoint(store: Store, blockNumber: number, timeoutMs: number, intervalMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sync = await store.db.selectFrom("sync_state").select("block_number").executeTakeFirst();
    if (sync && Number(sync.block_number) >= blockNumber) return;
    if (Date.now() > deadline) {
      throw new LedgerError(
        "timed_out",
        "NOT_INDEXED_IN_TIME",
        `the transactions were mined in block ${blockNumber}, but the indexer has not reached it within ${timeoutMs / 1000} s; ` +
          `they will show once indexed (do not send them again: they would be refused as replays)`,
      );
    }
    await sleep(intervalMs);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const relayAnswer = z.object({
  status: z.enum(["submitted", "indexed"]).meta({ description: "submitted (202), or mined and indexed (200, with wait)" }),
  transactions: z.array(
    z.object({
      hash: z.string(),
      contract: z.enum([...LEDGER_CONTRACTS, "RelayBundle"]),
      attestations: z.array(z.number().int()).meta({ description: "positions in the request of the attestations it carries" }),
      blockNumber: z.number().int().nullable(),
    }),
  ),
  indexedBlock: z.number().int().nullable().meta({ description: "with wait: the block the read model has reached" }),
  established: z
    .array(
      z.object({
        attestation: z.number().int().meta({ description: "position in the request" }),
        event: z.string().meta({ description: "the ledger event the attestation caused" }),
        organizationId: z.number().int().optional().meta({ description: "the organization it concerns: a new organization's id for an onboarding" }),
        productId: z.string().optional(),
        agreementId: z.string().optional(),
        batchId: z.string().optional(),
        shipmentId: z.string().optional(),
      }),
    )
    .optional()
    .meta({ description: "with wait: what each attestation established, read from the indexed events" }),
});

export function relayRoutes(relay: Relay): AnyRoute[] {
  return [
    defineRoute({
      method: "post",
      path: RELAY_PATH,
      summary:
        "Relay signed attestations to the ledger, after checking their signatures, organizations and a dry run; " +
        "202 once sent, 200 with wait once mined and indexed",
      tags: ["attestations"],
      access: "public",
      body: relayBody,
      response: relayAnswer,
      status: 202,
      errors: {
        400:
          "malformed attestations, or attestations for more than one contract on a deployment without a relay bundle " +
          "(BUNDLE_SPANS_CONTRACTS): a request is one transaction",
        403: "a signer may not make an attestation: unknown, revoked or foreign key, suspended organization, wrong role or party",
        409: "an attestation's nonce is already used: a replay or a duplicate (REPLAYED_ATTESTATION)",
        422: "the contract would refuse an attestation in the ledger's current state; error.code and error.message say why",
        503: "the chain node did not take the transaction: nothing was sent (CHAIN_UNAVAILABLE); retry",
        504: "the node took the transaction and then stopped answering, so it may be mined (SENT_OUTCOME_UNKNOWN, naming it); or, with wait, it was sent but not mined or indexed in time",
      },
      async handle({ body }) {
        return relay.relay(body.attestations as SignedAttestation[], { wait: body.wait });
      },
    }),
  ];
}

/**
 * A route definition carries one success status; the relay's is 202 (sent). An answer given after waiting for the
 * indexer is final, so this sends it as 200. Mounted on RELAY_PATH before the routes.
 */
export const relayAnswerStatus: RequestHandler = (_req, res, next) => {
  const json = res.json.bind(res);
  res.json = (body: unknown) => {
    if (res.statusCode === 202 && (body as RelayResult | undefined)?.status === "indexed") res.status(200);
    return json(body);
  };
  next();
};
