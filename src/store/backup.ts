import SqliteDatabase from "better-sqlite3";
import { execFile } from "node:child_process";
import { chmodSync, existsSync, renameSync, rmSync } from "node:fs";
import { promisify } from "node:util";
import { isPostgresUrl } from "./index";

const run = promisify(execFile);

/** A backup cannot be taken or restored: the message says why. */
export class BackupError extends Error {
  override name = "BackupError";
}

/**
 * Copies the store to `file` while the service may be running: SQLite's online backup API (a consistent copy
 * of the committed state), or `pg_dump --format=custom` for PostgreSQL. The copy is readable by its owner only:
 * it holds webhook secrets (encrypted) and everything the store knows.
 */
export async function backupStore(location: string, file: string): Promise<void> {
  if (existsSync(file)) throw new BackupError(`${file} exists; name a new file for the backup`);
  if (isPostgresUrl(location)) {
    await postgresTool("pg_dump", ["--format=custom", "--no-owner", "--file", file, "--dbname", location]);
  } else {
    if (!existsSync(location)) throw new BackupError(`there is no store ${location} to back up`);
    const database = new SqliteDatabase(location, { readonly: true, fileMustExist: true });
    try {
      await database.backup(file);
    } finally {
      database.close();
    }
  }
  chmodSync(file, 0o600);
}

/**
 * Replaces the store with a backup, with the service stopped. A SQLite backup is checked first (every page
 * readable, a ledger store) and copied in beside the store before it takes its place, so a failed restore leaves
 * the store as it was; a PostgreSQL backup is restored with `pg_restore --clean` in one transaction.
 */
export async function restoreStore(location: string, file: string): Promise<void> {
  if (!existsSync(file)) throw new BackupError(`there is no backup ${file}`);
  if (isPostgresUrl(location)) {
    await postgresTool("pg_restore", ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error", "--dbname", location, file]);
    return;
  }
  const backup = openBackup(file);
  const incoming = `${location}.restoring`;
  try {
    await backup.backup(incoming);
  } finally {
    backup.close();
  }
  chmodSync(incoming, 0o600);
  // The store's write-ahead log belongs to the store being replaced: replayed onto the backup, it would damage it.
  for (const suffix of ["-wal", "-shm"]) rmSync(`${location}${suffix}`, { force: true });
  renameSync(incoming, location);
}

/**
 * `quick_check`'s findings, "ok" for none. A damaged page it cannot even walk (a table's zeroed root page) is thrown
 * as SQLITE_CORRUPT rather than listed: damage all the same.
 */
function backupCheck(database: SqliteDatabase.Database): string {
  try {
    const findings = (database.pragma("quick_check") as { quick_check: string }[]).map((row) => row.quick_check).join("; ");
    return findings === "ok" ? "ok" : `quick_check: ${findings}`;
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith("SQLITE_CORRUPT")) return (error as Error).message;
    throw error;
  }
}

function openBackup(file: string): SqliteDatabase.Database {
  let database: SqliteDatabase.Database | undefined;
  try {
    database = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
    const check = backupCheck(database);
    if (check !== "ok") throw new BackupError(`the backup ${file} is damaged (${check}); restore an older one`);
    const identity = database.prepare("SELECT id FROM store_identity").get() as { id: string } | undefined;
    if (!identity) throw new BackupError(`${file} is not a backup of a ledger store`);
    return database;
  } catch (error) {
    database?.close();
    if (error instanceof BackupError) throw error;
    throw new BackupError(`${file} is not a readable backup of a ledger store (${(error as Error).message})`);
  }
}

async function postgresTool(tool: "pg_dump" | "pg_restore", args: string[]) {
  try {
    await run(tool, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === "ENOENT")
      throw new BackupError(`${tool} is not installed: install PostgreSQL's client tools (apt-get install -y postgresql-client)`);
    throw new BackupError(`${tool} failed: ${(failure.stderr ?? failure.message).trim()}`);
  }
}
