import SqliteDatabase from "better-sqlite3";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Another running start holds the data directory: two indexers over one store would undo each other's work. */
export class DataDirectoryLockedError extends Error {
  override name = "DataDirectoryLockedError";
  constructor(
    readonly dataDir: string,
    readonly pid: number | undefined,
  ) {
    super(`the data directory ${dataDir} is in use by another start of the ledger${pid === undefined ? "" : ` (pid ${pid})`}`);
  }
}

export type DataDirectoryLock = { release(): void };

/**
 * Takes the data directory for this process alone, or throws DataDirectoryLockedError naming the process that
 * has it. The lock is an OS file lock (SQLite's exclusive locking mode on `<dataDir>/lock`): the kernel drops it
 * when the holder exits, however it exits, so a killed start never blocks the next one, and no timer has to keep
 * it fresh. The holder's pid is written beside it (`lock.pid`) for the message.
 */
export function lockDataDirectory(dataDir: string): DataDirectoryLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lockFile = path.join(dataDir, "lock");
  const pidFile = path.join(dataDir, "lock.pid");
  // No busy wait: the holder keeps the lock for as long as it runs.
  const database = new SqliteDatabase(lockFile, { timeout: 0 });
  try {
    database.pragma("locking_mode = EXCLUSIVE");
    // The first write in exclusive locking mode takes the file's exclusive lock and keeps it until close.
    database.exec("BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER); COMMIT");
  } catch (error) {
    database.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") throw new DataDirectoryLockedError(dataDir, readPid(pidFile));
    throw error;
  }
  writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  makePrivate(dataDir);
  return { release: () => database.close() };
}

/**
 * The data directory holds the API secret, demo keys, the store (webhook secrets, who registered what) and the
 * codes of every registered batch: readable by its owner only. New files get that from the process's umask
 * (`npm start` sets 077); this brings what an earlier version left readable (0644 files, 0755 directories) in line.
 */
function makePrivate(dir: string) {
  chmodSync(dir, 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const entryPath = path.join(dir, entry.name);
    if (entry.isDirectory()) makePrivate(entryPath);
    else if (entry.isFile()) chmodSync(entryPath, 0o600);
  }
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
