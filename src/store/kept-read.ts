import type SqliteDatabase from "better-sqlite3";
import { closeSync, fstatSync, openSync, realpathSync, statSync } from "node:fs";
import { mapFile } from "../file-mapping";

/**
 * A read transaction kept open across the immediate reads (a scan's statement, a token's key) while nothing has been
 * committed since it began. In WAL mode every statement run outside a transaction begins and ends a read transaction
 * of its own: a read-mark lock and unlock on the -shm file, two fcntl calls that cost about 6 µs together on a virtual
 * machine, twice what the scan's lookup by three primary keys costs.
 *
 * Exactly as fresh as a new read transaction. SQLite describes the database a read transaction sees by the
 * wal-index header at the start of the -shm file (https://www.sqlite.org/walformat.html: two copies of it, then the
 * checkpoint's progress): every commit, by any connection of any process, writes a new header (a new change counter,
 * last frame and checksums; a restarted log new salts) before it returns. The header is read here through a shared
 * memory map of that file, and the kept transaction serves a read only while both copies are, byte for byte, the
 * header it began under; any difference ends it first, and the read begins a new one, as it would have anyway. A
 * transaction is kept only when the header read before it began equals the one read after its first statement, so
 * the header it began under is known (headers never repeat: the change counter and checksums move with every commit).
 *
 * A kept transaction holds a read mark, which holds back a checkpoint's copying of frames committed after it and a
 * restart of the log. So it also ends when a checkpoint has copied frames (its progress is compared with the
 * header), after MAX_AGE_MS whatever happens, and before any other use of the connection (a write, a Kysely
 * statement, a transaction, an integrity check): `end()`.
 */
export type KeptRead = {
  /**
   * Runs `read` (synchronous statements only) in the kept read transaction, beginning one (kept if it can be) if none
   * is. `together`: its statements are read in one transaction even where none can be kept, so that what another
   * connection commits between them is in all of them or none.
   */
  read<T>(read: () => T, together?: boolean): T;
  /** Ends the kept read transaction, if one is open. */
  end(): void;
  /** Whether the connection's open transaction is the kept one. */
  readonly holds: boolean;
};

/** The two copies of the wal-index header (48 bytes each) and the checkpoint's progress (nBackfill). */
const WATCHED_BYTES = 100;
const HEADER_BYTES = 48;
/** The wal-index format's version (iVersion) and its initialized flag (isInit), at the start of each header copy. */
const WAL_INDEX_VERSION = 3007000;
const IS_INIT_OFFSET = 12;
const MAX_AGE_MS = 50;

/** For a SQLite connection in WAL mode to `file`; one that cannot watch its -shm file reads as before, a transaction per statement. */
export function keptRead(database: SqliteDatabase.Database, file: string): KeptRead {
  /** The -shm file's watched bytes: mapped after the first read (which makes the file), null where they cannot be. */
  let watched: Buffer | null | undefined = file === ":memory:" ? null : undefined;
  const begin = database.prepare("BEGIN");
  const commit = database.prepare("COMMIT");
  /** The watched bytes as they were when the kept transaction began. */
  let keptUnder: Buffer | undefined;
  let expiry: NodeJS.Timeout | undefined;

  function end() {
    if (keptUnder === undefined) return;
    keptUnder = undefined;
    clearTimeout(expiry);
    if (database.inTransaction) commit.run();
  }

  /**
   * `end` from a timer, where a throw would end the process. A COMMIT that fails here (the connection broken) would
   * leave the read transaction open, and the connection's next writes inside it, uncommitted: it is rolled back.
   */
  function expire() {
    try {
      end();
    } catch {
      try {
        if (database.inTransaction) database.exec("ROLLBACK");
      } catch {
        // The connection is beyond use: its next statement fails, in a request's or the indexer's own handling.
      }
    }
  }

  function read<T>(run: () => T, together = false): T {
    if (keptUnder !== undefined && !watched!.equals(keptUnder)) end();
    if (keptUnder !== undefined) return ended(run);
    const unkept = together ? () => inOneTransaction(run) : run;
    if (watched === undefined) {
      const result = unkept();
      watched = walIndex(file) ?? null;
      return result;
    }
    if (watched === null) return unkept();
    const before = Buffer.from(watched);
    begin.run();
    const result = ended(run);
    if (consistent(before) && watched.equals(before)) {
      keptUnder = before;
      expiry = setTimeout(expire, MAX_AGE_MS).unref();
    } else {
      commit.run();
    }
    return result;
  }

  function inOneTransaction<T>(run: () => T): T {
    begin.run();
    const result = ended(run);
    commit.run();
    return result;
  }

  /** `run`'s result; the transaction ended if it fails (a statement's error may already have rolled it back). */
  function ended<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      keptUnder = undefined;
      clearTimeout(expiry);
      if (database.inTransaction) commit.run();
      throw error;
    }
  }

  return {
    read,
    end,
    get holds() {
      return keptUnder !== undefined;
    },
  };
}

/** Both header copies the same and initialized (of the format known here): no commit was writing them while they were read. */
function consistent(bytes: Buffer): boolean {
  return (
    bytes.readUInt32LE(0) === WAL_INDEX_VERSION &&
    bytes[IS_INIT_OFFSET] === 1 &&
    bytes.compare(bytes, 0, HEADER_BYTES, HEADER_BYTES, 2 * HEADER_BYTES) === 0
  );
}

/**
 * Descriptors of -shm files this process mapped, by path. A descriptor is never closed while its file may be in use:
 * closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's read marks among them
 * (those of another connection to the same database in this process, a worker thread's). It is closed only once the
 * path names a new file: SQLite removes the -shm file only when its last connection closes, so no connection uses
 * the old one any more. A mapping is read only while its store's connection is open: SQLite shrinks a -shm file
 * (reading past a mapped file's end raises SIGBUS) only when a first connection opens it, which no process can then.
 */
const shmFiles = new Map<string, { dev: number; ino: number; fd: number; bytes: Buffer | undefined }>();

function mapped(fd: number): Buffer | undefined {
  try {
    return mapFile!(fd, WATCHED_BYTES);
  } catch {
    return undefined;
  }
}

/** The watched bytes of the database's -shm file, mapped; undefined without native/, the file or the right to read it. */
function walIndex(file: string): Buffer | undefined {
  if (!mapFile) return undefined;
  try {
    // SQLite names the -shm file after the database's full path, symbolic links resolved.
    const shm = `${realpathSync(file)}-shm`;
    const current = statSync(shm);
    let known = shmFiles.get(shm);
    if (known?.dev !== current.dev || known.ino !== current.ino) {
      if (known) closeSync(known.fd);
      shmFiles.delete(shm);
      const fd = openSync(shm, "r");
      const { dev, ino } = fstatSync(fd);
      shmFiles.set(shm, (known = { dev, ino, fd, bytes: mapped(fd) }));
    }
    return known.bytes;
  } catch {
    return undefined;
  }
}
