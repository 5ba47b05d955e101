import type { DeploymentFile } from "../indexer/deployment";
import type { WriterRole } from "../indexer/writer";
import type { RecallDeadlines, RoleName } from "../ledger";
import type { Logger } from "../log";
import type { DocumentVault } from "../quality/documents";
import type { Store } from "../store";
import type { Custody } from "../epcis/custody";
import type { CodeBook } from "./codebook";
import type { Relay } from "./relay";

/** An organization signed in with one of its on-chain keys. */
export type Caller = { organizationId: number; role: RoleName; region: number; key: string };

export type ApiConfig = {
  /** Secret that signs sign-in challenges and tokens; API servers that share a database share it. */
  secret: Buffer;
  /** How long a token is valid, in seconds. */
  tokenLifetime: number;
  /** The same deadlines the early-warning rules enforce (AlertConfig.recallDeadlines). */
  recallDeadlines: RecallDeadlines;
  /** Anonymous requests per minute per client address on public endpoints. */
  publicRateLimit: number;
  /** Where registered batches' code trees are stored. */
  dataDir: string;
  /**
   * The API's address as partners reach it (`--public-url`): the identifiers of organizations, premises, shipments
   * and events in EPCIS exports are under it, so that no two deployments' identifiers collide. Without it the EPCIS
   * export is refused rather than naming parties ambiguously (the service always sets it).
   */
  publicUrl?: string;
  /** The dispatcher's `allowPrivateAddresses`: whether webhooks an API route subscribes may point into a private network. */
  allowPrivateWebhooks?: boolean;
};

/** What the scan-based early-warning rules need of a scan's answer. */
export type ObservedScan = {
  verdict: string;
  code: { canonicalKey: string; productCode: string | null };
  product: { id: string } | null;
  batch: { id: string } | null;
  place?: string;
};

/** Records authenticated scans off-chain (src/alerts); never fails the scan. */
export type ScanObservations = { record(caller: Caller, scan: ObservedScan, observedAt: number): Promise<void> };

/** Everything a route may use, passed in one object. */
export type ApiServices = {
  store: Store;
  log: Logger;
  config: ApiConfig;
  codes: CodeBook;
  /** Current time in unix seconds (injectable for tests of deadlines and expiry). */
  now(): number;
  /** Where authenticated scans are recorded for the early-warning rules; without it, scans are not recorded. */
  observations?: ScanObservations;
  /** The ledger this API serves (chain, contracts, start block), for GET /v1/ledger; without it, that route answers 503. */
  deployment?: DeploymentFile;
  /** The quality document store (src/quality); without it, document routes answer 500 DOCUMENTS_NOT_CONFIGURED. */
  documents?: DocumentVault;
  /** Where signed attestations are sent (the service's relayer); without it, custody capture answers 503. */
  relay?: Relay;
  /** Organizations' custody signing keys for EPCIS capture (src/epcis/custody.ts); without it, custody is not offered. */
  custody?: Custody;
  /** Whether this service writes the read model or stands by (GET /healthz); absent where no indexer runs beside the API. */
  writerRole?: () => WriterRole;
};

/** Once damage is found (at start or by any query since), answers come from a store that cannot be trusted. */
/** Requests under this path are refused while the store is damaged (refuseDamagedStore), before they are routed. */
export const STORE_READING_PATH = "/v1";

export function refuseDamagedStore(services: ApiServices) {
  const { damage } = services.store.health;
  if (damage) throw damage;
}
