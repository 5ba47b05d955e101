/**
 * Whether the store can be trusted to answer. A damaged store may answer some lookups and fail others, or answer
 * from a damaged page: a verdict read from it is not a verdict, so once damage is found the API refuses to answer
 * until the operator restores the store (see README "Operations").
 */
export class StoreDamagedError extends Error {
  override name = "StoreDamagedError";
  constructor(
    /** The SQLite file (or database) that is damaged. */
    readonly location: string,
    /** What SQLite reported. */
    readonly detail: string,
  ) {
    super(`the store ${location} is damaged (${detail})`);
  }
}

export type StoreHealth = {
  /** The SQLite file, or the PostgreSQL URL without its password: how messages name the store. */
  readonly location: string;
  /** The damage found at start or since, or undefined while none was found. */
  readonly damage: StoreDamagedError | undefined;
  /** Records damage (the first report is kept) and returns it, to be thrown. */
  damaged(detail: string): StoreDamagedError;
};

export function createStoreHealth(location: string): StoreHealth {
  let damage: StoreDamagedError | undefined;
  return {
    location,
    get damage() {
      return damage;
    },
    damaged(detail) {
      damage ??= new StoreDamagedError(location, detail);
      return damage;
    },
  };
}

/** SQLite's own words for a file it cannot read as a database: a damaged page, or not a database at all. */
export function isSqliteDamage(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB");
}
