import SqliteDatabase from "better-sqlite3";
import { closeSync, openSync, writeSync } from "node:fs";

/**
 * Overwrites with zeros the page of a SQLite store that holds the root of the index finding a code's batch, as a
 * bad disk would: every scan reads it.
 */
export function zeroCodeIndexPage(file: string) {
  const database = new SqliteDatabase(file, { readonly: true });
  const { rootpage } = database.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_batch_codes_1'").get() as {
    rootpage: number;
  };
  const pageSize = database.pragma("page_size", { simple: true }) as number;
  database.close();
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.alloc(pageSize), 0, pageSize, (rootpage - 1) * pageSize);
  closeSync(fd);
}
