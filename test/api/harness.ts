import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createCodeBook } from "../../src/api/codebook";
import { buildCodeTree, formatCode, generatePacks, packLeaf as leafOf } from "../../src/codes";
import type { Gs1Pack } from "../../src/codes";
import request from "supertest";
import type { Api } from "../../src/api/app";
import { createApp } from "../../src/api/app";
import { DEFAULT_RECALL_DEADLINES } from "../../src/ledger";
import type { ApiServices } from "../../src/api/context";
import type { AnyRoute } from "../../src/api/routes";
import { createIndexer, createRpcSource } from "../../src/indexer";
import { databaseContents } from "../../src/quality/contents";
import { createDocumentVault } from "../../src/quality/documents";
import { createCustody } from "../../src/epcis/custody";
import { silentLogger } from "../../src/log";
import {
  acknowledgeRecall,
  deployConsortium,
  GTIN,
  handOver,
  packId,
  recordBatch,
  releaseFromFactory,
  releaseToMarket,
  ship,
  startRecall,
} from "../contracts/fixtures";
import type { Consortium, Party } from "../contracts/fixtures";
import { deploymentOf, serveChain } from "../indexer/chain";
import { freshStore } from "../indexer/stores";
import type { StoreKind } from "../indexer/stores";

const SERIAL_KEY = Buffer.alloc(16, 7);
/** The harness API's public URL: EPCIS identifiers are under it. */
export const HARNESS_PUBLIC_URL = "https://ledger.example.cn";
let serialIndex = 0;

/** A batch's real serialized packs (GS1) and their tree, as the codes module makes them; `expiry` prints a (17) YYMMDD. */
export async function packsFor(batchNumber: string, count: number, expiry?: string) {
  const packs = [
    ...generatePacks({ scheme: "gs1", productCode: GTIN, key: SERIAL_KEY, firstIndex: serialIndex, count, batch: batchNumber, expiry }),
  ] as Gs1Pack[];
  serialIndex += count;
  const tree = await buildCodeTree(packs.map((p) => p.key));
  return { packs, tree, printed: packs.map((p) => formatCode(p, "element-string", { symbologyId: "]d2" })) };
}

/** Records a batch with real codes and, unless `release` is false, takes it through factory and market release. */
async function codedBatch(c: Consortium, batchNumber: string, count: number, release = true) {
  const codes = await packsFor(batchNumber, count);
  const batchId = await recordBatch(c, batchNumber, { quantity: BigInt(count), codesRoot: codes.tree.root });
  if (release) {
    await releaseFromFactory(c, batchId);
    await releaseToMarket(c, batchId);
  }
  return { batchId, ...codes };
}

/**
 * A consortium with three batches, indexed into a fresh store, and the API over it:
 * - released: at the distributor and the hospital, two packs dispensed;
 * - recalled: recall level II, the CMO acknowledged, the distributor has not;
 * - unreleased: only manufactured.
 */
export async function apiHarness(kind: StoreKind = "sqlite", extraRoutes: AnyRoute[] = []) {
  const chain = await serveChain();
  const c = await deployConsortium();
  const released = await codedBatch(c, "B-2024-001", 8);
  await handOver(c, c.cmo, c.distributor, released.batchId, 6n);
  await handOver(c, c.distributor, c.dispenser, released.batchId, 4n);
  await dispensePacks(
    c,
    c.dispenser,
    released.batchId,
    released.tree,
    released.packs.slice(0, 2).map((p) => p.key),
  );
  const recalled = await codedBatch(c, "B-2024-002", 8);
  await handOver(c, c.cmo, c.distributor, recalled.batchId, 5n);
  await ship(c, c.cmo, c.distributor2, recalled.batchId, 1n);
  await startRecall(c, c.mah, recalled.batchId, 2);
  await acknowledgeRecall(c, c.cmo, recalled.batchId, 2n);
  const unreleased = await codedBatch(c, "B-2024-003", 8, false);
  const store = await freshStore(kind);
  const dataDir = mkdtempSync(path.join(tmpdir(), "trace-api-"));
  const deployment = await deploymentOf(c);
  const source = createRpcSource(chain.url);
  const indexer = createIndexer({ source, store, deployment, log: silentLogger() });
  await indexer.catchUp();
  // The API's clock follows real time, shifted by setNow: tests of expiry move it, the rest read real seconds.
  const realSeconds = () => Math.floor(Date.now() / 1000);
  let offset = 0;
  const now = () => realSeconds() + offset;
  const services: ApiServices = {
    store,
    log: silentLogger(),
    config: {
      secret: randomBytes(32),
      tokenLifetime: 900,
      recallDeadlines: DEFAULT_RECALL_DEADLINES,
      publicRateLimit: 10_000,
      dataDir,
      publicUrl: HARNESS_PUBLIC_URL,
    },
    codes: createCodeBook(store, dataDir),
    now,
    documents: createDocumentVault({ store, masterKey: randomBytes(32), contents: databaseContents(store.db), now }),
    custody: createCustody({ store, masterKey: randomBytes(32) }),
    deployment,
  };
  const app = createApp(services, extraRoutes);
  return {
    c,
    app,
    store,
    services,
    chain,
    source,
    indexer,
    batches: { released, recalled, unreleased },
    setNow: (seconds: number) => (offset = seconds - realSeconds()),
    tokenFor: (party: Party) => tokenFor(app, party),
    regulator: () => c.regulator,
    async close() {
      services.codes.close();
      rmSync(dataDir, { recursive: true, force: true });
      source.close();
      await store.close();
      await chain.close();
    },
  };
}

type CodeTree = Awaited<ReturnType<typeof buildCodeTree>>;

/** The pack ids of canonical keys in the codes module's multiproof order, and that multiproof. */
export function provedPacks(tree: CodeTree, keys: string[]) {
  const multi = tree.multiProof(keys);
  const byLeaf = new Map(keys.map((key) => [leafOf(key), key]));
  return { ...multi, packs: multi.leaves.map((leaf) => packId(byLeaf.get(leaf)!)) };
}

/** Dispenses packs named by canonical key, with the codes module's multiproof. */
export async function dispensePacks(c: Consortium, dispenser: Party, batchId: string, tree: CodeTree, keys: string[]) {
  const { packs, proof, proofFlags } = provedPacks(tree, keys);
  const { message, signature } = await c.sign("BatchLedger", "Dispensing", dispenser.key, { dispenserId: dispenser.id, batchId, packs });
  await c.batches.dispensePacks(message as never, proof, proofFlags, signature);
}

/** Sets the state (PackState; Active undoes) of packs named by canonical key. */
export async function changePackStates(c: Consortium, by: Party, batchId: string, tree: CodeTree, keys: string[], state: number) {
  const { packs, proof, proofFlags } = provedPacks(tree, keys);
  const reasonHash = `0x${"ab".repeat(32)}`;
  const { message, signature } = await c.sign("BatchLedger", "PackStateChange", by.key, { organizationId: by.id, batchId, state, packs, reasonHash });
  await c.batches.changePackStates(message as never, proof, proofFlags, signature);
}

/** Signs in as `party` with its on-chain key and returns the bearer token. */
export async function tokenFor(app: Api, party: Party): Promise<string> {
  const challenge = await request(app).post("/v1/auth/challenge").send({ key: party.key.address }).expect(200);
  const signature = await party.key.signMessage(challenge.body.text as string);
  const token = await request(app)
    .post("/v1/auth/token")
    .send({ key: party.key.address, challenge: challenge.body.challenge, signature })
    .expect(200);
  return token.body.token as string;
}

export type ApiHarness = Awaited<ReturnType<typeof apiHarness>>;
