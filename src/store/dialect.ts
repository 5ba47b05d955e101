import { SqliteAdapter } from "kysely";
import type { DialectAdapter } from "kysely";

/**
 * Whether `db` speaks SQLite (else PostgreSQL), for the few statements written apart for each: asked of kysely's
 * adapter, which a migration's untyped handle has too, not of the Store that made it.
 */
export function isSqlite(db: { getExecutor(): { readonly adapter: DialectAdapter } }): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}
