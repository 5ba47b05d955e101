import { LedgerError } from "../ledger/errors";
import type { Command } from "commander";
import type { Wallet } from "ethers";
import type { SignedAttestation } from "../ledger";
import { actorFieldOf, actorOf, createNonceSequence, domainOf, signAttestation } from "../ledger";
import type { AttestationType, LedgerContract } from "../ledger";
import { readDeployment } from "../indexer/deployment";
import type { DeploymentFile } from "../indexer/deployment";
import type { Deployment } from "../indexer";
import { organizationArg } from "./args";
import { type CliIo } from "./io";
import { loadKey, SIGNER_KEY } from "./keys";
import { jsonOption, printRecord } from "./output";
import { createApiClient, createApiTransport, createRpcTransport } from "./transport";
import type { ApiClient, Labels, Submission, Transport } from "./transport";

/** Options every ledger command takes: whose key, which organization, which way to the ledger. */
export type LedgerOptions = {
  keystore?: string;
  org?: number;
  api?: string;
  rpc?: string;
  deployment?: string;
  wait: boolean;
  json: boolean;
};

export const DEFAULT_DEPLOYMENT = ".data/deployment.json";

/** Adds the key, transport and output options to a command. */
export function withLedgerOptions(command: Command): Command {
  return command
    .option("--keystore <file>", "the organization's encrypted JSON keystore (env TRACE_KEYSTORE; or TRACE_PRIVATE_KEY)")
    .option("--org <id>", "the organization the key signs for (default: looked up from the key)", organizationArg)
    .option("--api <url>", "send through this API's relay (env TRACE_API)")
    .option(
      "--rpc <url>",
      "send the contract call straight to this node (env TRACE_RPC; default the deployment's rpcUrl); gas paid by TRACE_SENDER_KEY or the signer",
    )
    .option("--deployment <file>", `chain id and contract addresses (env TRACE_DEPLOYMENT; default: asked of --api, else ${DEFAULT_DEPLOYMENT})`)
    .option("--wait", "through the API: answer once the attestation is mined and indexed", false)
    .addOption(jsonOption());
}

/** A signing session: one key of one organization, one way to the ledger, a fresh random nonce sequence. */
export type Session = {
  io: CliIo;
  options: LedgerOptions;
  key: Wallet;
  organizationId: number;
  transport: Transport;
  /** Present when --api is used (sign-in, codes upload, reads). */
  api?: ApiClient;
  deployment: Deployment;
  labels: Labels;
  nextNonce(): bigint;
};

async function deploymentFile(file: string) {
  try {
    return await readDeployment(file);
  } catch (error) {
    throw new LedgerError(
      "bad_input",
      "DEPLOYMENT_UNREADABLE",
      `${(error as Error).message}; pass --deployment FILE (written by npm start)`,
      "--deployment",
    );
  }
}

/** What GET /v1/ledger answers (src/api/ledger.ts): enough to sign for without a deployment file. */
type LedgerAnswer = { chainId: number; contracts: Deployment["contracts"]; startBlock: number | null };

/** The ledger an API serves, asked of the API itself. */
async function deploymentOfApi(api: ApiClient): Promise<Deployment> {
  const ledger = await api.request<LedgerAnswer>("GET", "/v1/ledger").catch((error: unknown) => {
    if (error instanceof LedgerError && error.code === "DEPLOYMENT_UNKNOWN") {
      throw new LedgerError(
        error.kind,
        "DEPLOYMENT_UNKNOWN",
        `${api.url} does not say which ledger it serves: pass --deployment FILE`,
        "--deployment",
      );
    }
    throw error;
  });
  return { chainId: ledger.chainId, contracts: ledger.contracts };
}

const PRIVATE_KEY = /^(0x)?[0-9a-fA-F]{64}$/;

/**
 * Opens a session; the key is decrypted before any endpoint is contacted, so a wrong password costs nothing.
 * The deployment is --deployment or TRACE_DEPLOYMENT when given; otherwise, through an API, the API says which
 * ledger it serves (GET /v1/ledger); otherwise the file npm start writes.
 */
export async function openSession(io: CliIo, options: LedgerOptions): Promise<Session> {
  if (options.api !== undefined && options.rpc !== undefined) {
    throw new LedgerError("bad_input", "TRANSPORT_AMBIGUOUS", "pass --api (send through the relay) or --rpc (send to a node), not both");
  }
  const apiUrl = options.api ?? (options.rpc === undefined ? io.env.TRACE_API : undefined);
  const api = apiUrl === undefined ? undefined : createApiClient(apiUrl);
  const namedFile = options.deployment ?? io.env.TRACE_DEPLOYMENT;
  const file = namedFile !== undefined || api === undefined ? await deploymentFile(namedFile ?? DEFAULT_DEPLOYMENT) : undefined;
  const key = await loadKey(io, { ...SIGNER_KEY, keystore: options.keystore ?? io.env.TRACE_KEYSTORE });
  const deployment: DeploymentFile = file ?? (await deploymentOfApi(api!));
  const rpcUrl = options.rpc ?? io.env.TRACE_RPC ?? deployment.rpcUrl;
  let transport: Transport;
  if (api !== undefined) {
    transport = createApiTransport(api, deployment, key);
  } else if (rpcUrl !== undefined) {
    const sender = io.env.TRACE_SENDER_KEY;
    if (sender !== undefined && !PRIVATE_KEY.test(sender.trim()))
      throw new LedgerError("bad_input", "KEY_MALFORMED", "TRACE_SENDER_KEY must be a private key: 64 hex digits, optionally prefixed by 0x");
    transport = await createRpcTransport(rpcUrl, deployment, sender?.trim() ?? key.privateKey);
  } else {
    throw new LedgerError("bad_input", "TRANSPORT_REQUIRED", "say where to send: --api URL (the relay) or --rpc URL (a node)");
  }
  try {
    const organizationId = options.org ?? (await transport.organizationOf(key));
    return {
      io,
      options,
      key,
      organizationId,
      transport,
      api,
      deployment,
      labels: { batches: new Map(), products: new Map() },
      nextNonce: createNonceSequence(),
    };
  } catch (error) {
    transport.close();
    throw error;
  }
}

export async function withSession<T>(io: CliIo, options: LedgerOptions, work: (session: Session) => Promise<T>): Promise<T> {
  const session = await openSession(io, options);
  try {
    return await work(session);
  } finally {
    session.transport.close();
  }
}

/** An attestation's message: the speaking organization and a fresh nonce, then the given fields. */
export function messageFor(session: Session, type: string, fields: Record<string, unknown>): Record<string, unknown> {
  return { [actorFieldOf(type)]: session.organizationId, nonce: session.nextNonce(), ...fields };
}

export async function sign(
  key: Wallet,
  deployment: Deployment,
  contract: LedgerContract,
  type: string,
  message: Record<string, unknown>,
): Promise<string> {
  return signAttestation(key, { domain: domainOf(deployment, contract), type: type as AttestationType<LedgerContract>, message });
}

export type Sent = { attestation: SignedAttestation; submission: Submission };

/** Sends a signed attestation; `extraSigners` are the other signatures' signers (an agreement's counterparty). */
export async function submit(
  session: Session,
  attestation: SignedAttestation,
  extraSigners: { address: string; organizationId: number }[] = [],
): Promise<Sent> {
  const submission = await session.transport.submit(
    {
      attestation,
      signers: [session.key.address, ...extraSigners.map((s) => s.address)].map((a) => a.toLowerCase()),
      signerOrganizations: [actorOf(attestation).organizationId, ...extraSigners.map((s) => s.organizationId)],
      labels: session.labels,
    },
    { wait: session.options.wait },
  );
  return { attestation, submission };
}

/** Signs with the session's key and sends. */
export async function attest(
  session: Session,
  contract: LedgerContract,
  type: string,
  fields: Record<string, unknown>,
  extra: Partial<SignedAttestation> = {},
): Promise<Sent> {
  const message = messageFor(session, type, fields);
  const signature = await sign(session.key, session.deployment, contract, type, message);
  return submit(session, { contract, type, message: message as SignedAttestation["message"], signature, ...extra });
}

/** What a command prints once its attestation is sent: what was signed, by whom, the ids it made, where it went. */
export function printSent(session: Session, sent: Sent, ids: Record<string, unknown> = {}): void {
  const { attestation, submission } = sent;
  const [transaction] = submission.transactions;
  printRecord(session.io, session.options.json, {
    attestation: attestation.type,
    organizationId: session.organizationId,
    signer: session.key.address,
    nonce: attestation.message.nonce,
    ...ids,
    status: submission.status,
    via: session.transport.kind === "api" ? session.api!.url : "rpc",
    transaction: transaction?.hash,
    blockNumber: transaction?.blockNumber ?? null,
  });
}
