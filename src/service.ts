import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";
import { createEarlyWarning } from "./alerts";
import type { AlertConfig } from "./alerts";
import { createApp } from "./api/app";
import { recoverAggregations } from "./api/cases";
import { createCodeBook } from "./api/codebook";
import type { ApiServices } from "./api/context";
import { createRelay, relayRoutes } from "./api/relay";
import { createCustody } from "./epcis/custody";
import { createIndexer, createRpcSource } from "./indexer";
import { writerElection } from "./indexer/writer";
import type { DeploymentFile } from "./indexer/deployment";
import type { VerificationMode } from "./indexer";
import type { Logger } from "./log";
import type { DispatcherConfig } from "./notifications/dispatcher";
import { sealClearSecrets, secretBox } from "./notifications/secret-box";
import { checkStoreContinuity } from "./ops/continuity";
import { closeServer, serverUrl } from "./ops/listen";
import { createStore } from "./store";
import { databaseContents } from "./quality/contents";
import { createDocumentVault } from "./quality/documents";
import { webPages } from "./web";

export type LedgerServiceOptions = {
  rpcUrl: string;
  deployment: DeploymentFile;
  /** SQLite file, `:memory:` or postgres:// URL. */
  database: string;
  dataDir: string;
  /** Where the API answers: a listening server with no handler yet (src/ops/listen.ts listenHttp). */
  server: Server;
  log: Logger;
  /**
   * Serve from an empty store although the data directory was used with one that is lost (no backup to restore):
   * the chain is indexed again and registered codes come back from the data directory; what lived only in the lost
   * store (subscriptions, alerts, recall progress reports, scan observations) stays lost.
   */
  acceptLostStore?: boolean;
  /** Private key of a funded account that relays signed attestations to the chain; without it, no relay. */
  relayerKey?: string;
  /** Anonymous requests per minute per client address on public endpoints (default 600). */
  publicRateLimit?: number;
  /**
   * Early-warning thresholds and webhook settings: retries, pacing and `allowPrivateAddresses` (defaults in
   * src/alerts/config.ts, src/notifications/dispatcher.ts).
   */
  alerts?: Partial<AlertConfig>;
  webhooks?: Partial<DispatcherConfig>;
  /** Largest block range the indexer asks the node for at once (the indexer's default when absent). */
  maxRange?: number;
  /** How the indexer verifies signatures (IndexerOptions.verification). */
  verification?: VerificationMode;
  /** The API's address as partners reach it (EPCIS identifiers are under it); the listening address when absent. */
  publicUrl?: string;
};

export type LedgerService = { apiUrl: string; services: ApiServices; stop(): Promise<void> };

/**
 * Runs the HTTP API over one store and, when it holds the database's writer lock, the indexer that writes it
 * (following the chain); services sharing a database stand by meanwhile and one takes over when the writer dies.
 * Resolves once this service has caught up with the chain as the writer, or found another writing.
 */
export async function startLedgerService(options: LedgerServiceOptions): Promise<LedgerService> {
  const { log } = options;
  const store = createStore(options.database, {
    onConnectionLost: (error) => log.warn({ err: error }, "database connection lost; reconnecting on the next query"),
  });
  try {
    // Nothing is indexed into, or answered from, a store that is damaged or is not this data directory's.
    await store.checkIntegrity();
    await store.migrate();
    await checkStoreContinuity(store, options.dataDir, { acceptLoss: options.acceptLostStore ?? false, now: Math.floor(Date.now() / 1000) });
  } catch (error) {
    await store.close();
    throw error;
  }
  const source = createRpcSource(options.rpcUrl);
  const following = new AbortController();
  let ready!: () => void;
  const settled = new Promise<void>((resolve) => (ready = resolve));
  const election = writerElection({ store, log, onStandby: () => ready() });
  const indexing = election.run(async (writerStore, signal) => {
    const indexer = createIndexer({
      source,
      store: writerStore,
      deployment: options.deployment,
      log,
      showProgress: true,
      maxRange: options.maxRange,
      verification: options.verification,
    });
    try {
      await indexer.catchUp(signal);
    } catch (error) {
      // Stopped while catching up (the node may be down): a clean end, as when following.
      if (signal.aborted) return;
      throw error;
    }
    ready();
    await indexer.follow(signal);
  }, following.signal);
  await Promise.race([settled, indexing]);
  const follow = indexing.catch((error: unknown) => {
    log.fatal({ err: (error as Error).message }, "the indexer stopped; the API would serve stale answers");
    process.exitCode = 1;
  });
  const secret = apiSecret(options.dataDir);
  const sealed = await sealClearSecrets(store, secretBox(secret));
  if (sealed > 0) log.info({ subscriptions: sealed }, "webhook secrets stored in the clear are now sealed with the API secret");
  const earlyWarning = createEarlyWarning({ store, log, apiSecret: secret, alerts: options.alerts, webhooks: options.webhooks });
  const now = () => Math.floor(Date.now() / 1000);
  const services: ApiServices = {
    store,
    log,
    config: {
      secret,
      tokenLifetime: 15 * 60,
      recallDeadlines: earlyWarning.config.recallDeadlines,
      publicRateLimit: options.publicRateLimit ?? 600,
      dataDir: options.dataDir,
      publicUrl: options.publicUrl ?? serverUrl(options.server),
      allowPrivateWebhooks: options.webhooks?.allowPrivateAddresses ?? false,
    },
    codes: createCodeBook(store, options.dataDir),
    now,
    documents: createDocumentVault({ store, masterKey: documentMasterKey(options.dataDir), contents: databaseContents(store.db), now }),
    custody: createCustody({ store, masterKey: masterKeyOf(options.dataDir, "TRACE_CUSTODY_KEY", "custody-key") }),
    observations: earlyWarning.observations,
    deployment: options.deployment,
    writerRole: election.role,
  };
  const relay = options.relayerKey
    ? createRelay({ rpcUrl: options.rpcUrl, relayerKey: options.relayerKey, deployment: options.deployment, store, log })
    : undefined;
  services.relay = relay;
  const recovered = await services.codes.recover();
  if (recovered.reregistered.length > 0)
    log.info({ batches: recovered.reregistered }, "registered codes again from the data directory's registration files");
  if (recovered.swept.length > 0) log.info({ files: recovered.swept }, "deleted the working files of code registrations a stopped server left");
  for (const { name, reason } of recovered.unswept) log.warn({ file: name, reason }, "could not delete a stopped code registration's working file");
  for (const { batchId, reason } of recovered.refused)
    log.warn({ batchId, reason }, "a kept registration does not match its batch on the chain; not registered");
  const cases = await recoverAggregations(services);
  if (cases.reregistered.length > 0) log.info({ batches: cases.reregistered }, "registered cases and pallets again from the data directory");
  for (const { batchId, reason } of cases.refused)
    log.warn({ batchId, reason }, "kept cases and pallets do not match their batch's committed aggregation; not registered");
  const app = createApp(services, [...(relay ? relayRoutes(relay) : []), ...earlyWarning.routes], [webPages, ...earlyWarning.mounts]);
  const { server } = options;
  server.on("request", app);
  earlyWarning.start();
  return {
    apiUrl: serverUrl(server),
    services,
    async stop() {
      following.abort();
      await follow;
      await earlyWarning.stop();
      await closeServer(server);
      services.codes.close();
      relay?.close();
      source.close();
      await store.close();
    },
  };
}

/**
 * The key every quality document's reader keys derive from (src/quality/sealing.ts): TRACE_DOCUMENT_KEY (64 hex
 * digits) when set — API servers sharing a database must share it —, else one kept in the data directory. It is
 * kept apart from the store on purpose: a copy of the store alone opens no document. Lose it and the stored
 * documents are lost; back it up apart from the store's backups.
 */
export function documentMasterKey(dataDir: string): Buffer {
  return masterKeyOf(dataDir, "TRACE_DOCUMENT_KEY", "document-key");
}

/** A 256-bit master key: from the environment variable when set, else kept in (and first made in) the data directory. */
function masterKeyOf(dataDir: string, variable: string, fileName: string): Buffer {
  const given = process.env[variable];
  if (given !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(given)) throw new Error(`${variable} must be 64 hex digits (a 256-bit key)`);
    return Buffer.from(given, "hex");
  }
  const file = path.join(dataDir, fileName);
  if (existsSync(file)) return Buffer.from(readFileSync(file, "utf8").trim(), "hex");
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString("hex"), { mode: 0o600 });
  return key;
}

/**
 * The secret that signs sign-in challenges and tokens: TRACE_API_SECRET when set (API servers sharing a
 * database share it), else one kept in the data directory so tokens survive a restart.
 */
function apiSecret(dataDir: string): Buffer {
  if (process.env.TRACE_API_SECRET) return Buffer.from(process.env.TRACE_API_SECRET, "utf8");
  const file = path.join(dataDir, "api-secret");
  if (existsSync(file)) return Buffer.from(readFileSync(file, "utf8").trim(), "hex");
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32);
  writeFileSync(file, secret.toString("hex"), { mode: 0o600 });
  return secret;
}
