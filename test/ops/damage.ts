import SqliteDatabase from "better-sqlite3";
import { closeSync, openSync, writeSync } from "node:fs";

/**
 * Overwrites with zeros the page of a SQLite store that holds the root of the b-tree finding a code's batch, as a
 * bad disk would: every scan reads it. `batch_codes` is a table WITHOUT ROWID (migration 0027): its own b-tree is
 * the key's.
 */
export function zeroCodeIndexPage(file: string) {
  const database = new SqliteDatabase(file, { readonly: true });
  const { rootpage } = database.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'batch_codes'").get() as {
    rootpage: number;
  };
  const pageSize = database.pragma("page_size", { simple: true }) as number;
  database.close();
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.alloc(pageSize), 0, pageSize, (rootpage - 1) * pageSize);
  closeSync(fd);
}
