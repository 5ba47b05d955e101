import type { Kysely } from "kysely";
import type { Database } from "../store";

/**
 * Where sealed document contents live. The store itself by default (`quality_document_contents`, base64 text, a
 * type both SQLite and PostgreSQL hold alike): backups, restores and servers sharing a PostgreSQL database then
 * carry the documents with the rest of the read model. An S3-compatible object store is the scale-out option: an
 * implementation of this interface whose `put` writes the object `documents/<hash>` (PutObject with
 * `If-None-Match: *`, so a second upload changes nothing) and returns `s3:<bucket>/documents/<hash>`. Only sealed
 * bytes ever reach a content store; keys stay in the database.
 */
export type DocumentContents = {
  /** Stores a document's sealed bytes once (a second put of the same hash keeps the first); returns where. */
  put(documentHash: string, sealed: Buffer): Promise<string>;
  /** The sealed bytes stored at `location`, or undefined when they are gone. */
  get(location: string): Promise<Buffer | undefined>;
};

const DATABASE_PREFIX = "db:";

/** Contents kept in the store's own `quality_document_contents` table. */
export function databaseContents(db: Kysely<Database>): DocumentContents {
  return {
    async put(documentHash, sealed) {
      await db
        .insertInto("quality_document_contents")
        .values({ document_hash: documentHash, ciphertext: sealed.toString("base64") })
        .onConflict((oc) => oc.column("document_hash").doNothing())
        .execute();
      return `${DATABASE_PREFIX}${documentHash}`;
    },
    async get(location) {
      if (!location.startsWith(DATABASE_PREFIX)) return undefined;
      const row = await db
        .selectFrom("quality_document_contents")
        .select("ciphertext")
        .where("document_hash", "=", location.slice(DATABASE_PREFIX.length))
        .executeTakeFirst();
      return row ? Buffer.from(row.ciphertext, "base64") : undefined;
    },
  };
}
