import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Store } from "../store";

/**
 * The store is empty, but the data directory was used with a store that held what lives nowhere else
 * (subscriptions, alerts, recall progress reports, scan observations; registered codes are kept in the data
 * directory too): serving from the empty store would answer "may be counterfeit" for genuine packs.
 */
export class StoreLostError extends Error {
  override name = "StoreLostError";
  constructor(
    readonly location: string,
    readonly dataDir: string,
    /** The lost store's id, when the data directory recorded one. */
    readonly lostId: string | undefined,
  ) {
    super(
      `the store ${location} is empty, but the data directory ${dataDir} was used with ${lostId ? `store ${lostId}` : "a store that registered codes"}: ` +
        "its subscriptions, alerts, recall progress reports and scan observations are not in this one",
    );
  }
}

/** The store is another one than the data directory was used with (a wrong --database, another site's backup). */
export class StoreMismatchError extends Error {
  override name = "StoreMismatchError";
  constructor(
    readonly location: string,
    readonly dataDir: string,
    readonly storeId: string,
    readonly expectedId: string,
  ) {
    super(`the store ${location} is store ${storeId}, but the data directory ${dataDir} was used with store ${expectedId}`);
  }
}

const MARKER = "store-id";

/**
 * Checks that the store is the one the data directory was used with, before anything is served from it. A store
 * and data directory that are new together get an id, recorded in both. `acceptLoss` lets an empty store replace
 * a lost one (the operator has no backup): it gets a new id.
 */
export async function checkStoreContinuity(store: Store, dataDir: string, options: { acceptLoss: boolean; now: number }): Promise<void> {
  const markerFile = path.join(dataDir, MARKER);
  const recorded = existsSync(markerFile) ? readFileSync(markerFile, "utf8").trim() : undefined;
  const identity = await store.db.selectFrom("store_identity").select("id").where("slot", "=", 1).executeTakeFirst();
  const location = store.health.location;
  if (identity) {
    if (recorded !== undefined && recorded !== identity.id) throw new StoreMismatchError(location, dataDir, identity.id, recorded);
    if (recorded === undefined) writeMarker(markerFile, identity.id);
    return;
  }
  // A store without an id is new, or older than ids: one that already indexed the chain is the one in use.
  const indexed = (await store.db.selectFrom("sync_state").select("id").executeTakeFirst()) !== undefined;
  const usedBefore = recorded !== undefined || keepsRegisteredCodes(dataDir);
  if (!indexed && usedBefore && !options.acceptLoss) throw new StoreLostError(location, dataDir, recorded);
  // Servers starting together on a new database may all get here: the first id written is the store's.
  await store.db
    .insertInto("store_identity")
    .values({ slot: 1, id: randomUUID(), created_at: options.now })
    .onConflict((conflict) => conflict.column("slot").doNothing())
    .execute();
  const { id } = await store.db.selectFrom("store_identity").select("id").where("slot", "=", 1).executeTakeFirstOrThrow();
  writeMarker(markerFile, id);
}

function keepsRegisteredCodes(dataDir: string): boolean {
  const trees = path.join(dataDir, "trees");
  return existsSync(trees) && readdirSync(trees).some((name) => name.endsWith(".tree"));
}

function writeMarker(file: string, id: string) {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
}
