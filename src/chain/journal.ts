import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import path from "node:path";

/** The first line of a journal: what the chain's genesis was, so a replay starts from the same block 0. */
export type JournalHeader = {
  format: "trace-chain-journal";
  version: 1;
  /** Hardhat's `initialDate`: the genesis block's time, and with it the genesis hash. */
  initialDate: string;
  chainId: number;
  genesisHash: string;
};

/** A block a journaled request mined: replay must reproduce its hash. */
export type JournaledBlock = { number: number; hash: string; timestamp: number };

/** One state-changing JSON-RPC request, in the order the chain executed it, with the blocks it mined. */
export type JournalEntry = { method: string; params: unknown[]; blocks: JournaledBlock[] };

export class JournalError extends Error {
  override name = "JournalError";
}

export type JournalContents = {
  header: JournalHeader;
  entries: JournalEntry[];
  /** The last line was cut short (the process died mid-write) and is ignored. */
  truncatedTail: boolean;
  /** Bytes of whole lines: where the next entry is appended. */
  intactLength: number;
};

/**
 * Reads a journal. A last line without its newline that does not parse is what a process killed mid-write
 * leaves behind: it was never acknowledged, so it is dropped. Any other unreadable line is corruption, refused
 * with its line number rather than replaying a different history.
 */
export function readJournal(file: string): JournalContents {
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const tail = lines.pop() ?? "";
  let truncatedTail = false;
  let intactLength = Buffer.byteLength(text, "utf8");
  if (tail !== "") {
    const parsed = tryParse(tail);
    if (parsed === undefined) {
      truncatedTail = true;
      intactLength -= Buffer.byteLength(tail, "utf8");
    } else {
      lines.push(tail);
    }
  }
  if (lines.length === 0) throw new JournalError(`chain journal ${file} has no header line`);
  const header = parseLine(file, lines[0] as string, 1) as Partial<JournalHeader>;
  if (
    header.format !== "trace-chain-journal" ||
    header.version !== 1 ||
    typeof header.initialDate !== "string" ||
    typeof header.genesisHash !== "string"
  ) {
    throw new JournalError(`chain journal ${file}: line 1 is not a trace-chain-journal version 1 header`);
  }
  const entries = lines.slice(1).map((line, i) => checkEntry(file, parseLine(file, line, i + 2), i + 2));
  return { header: header as JournalHeader, entries, truncatedTail, intactLength };
}

function tryParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function parseLine(file: string, line: string, number: number): unknown {
  const parsed = tryParse(line);
  if (parsed === undefined) throw new JournalError(`chain journal ${file}: line ${number} is not JSON; the journal is corrupt`);
  return parsed;
}

function checkEntry(file: string, value: unknown, number: number): JournalEntry {
  const entry = value as Partial<JournalEntry>;
  const blocksValid =
    Array.isArray(entry.blocks) &&
    entry.blocks.every((b) => Number.isInteger(b?.number) && typeof b?.hash === "string" && Number.isInteger(b?.timestamp));
  if (typeof entry.method !== "string" || !Array.isArray(entry.params) || !blocksValid) {
    throw new JournalError(`chain journal ${file}: line ${number} is not a journal entry (method, params, blocks)`);
  }
  return entry as JournalEntry;
}

/** An open journal that appends entries durably: each is on disk (fsync) before the request is answered. */
export type JournalWriter = {
  append(entry: JournalEntry): void;
  /** The write that failed, once one has: the chain in memory is then ahead of its journal. */
  readonly failure: JournalWriteError | undefined;
  close(): void;
};

/**
 * A journal write failed (a full disk, an I/O error): the chain in memory has moved past its journal, and a restart
 * would replay another history. Every later append fails with this too, so nothing more is acknowledged.
 */
export class JournalWriteError extends JournalError {
  override name = "JournalWriteError";
}

/**
 * Opens `file` for appending after `intactLength` bytes (cutting off a truncated tail), or creates it with
 * `header` when it does not exist.
 */
export function openJournal(file: string, options: { header?: JournalHeader; intactLength?: number }): JournalWriter {
  mkdirSync(path.dirname(file), { recursive: true });
  const creating = !existsSync(file);
  if (creating && !options.header) throw new JournalError(`chain journal ${file} does not exist`);
  const fd = openSync(file, creating ? "wx" : "r+");
  let position = creating ? 0 : (options.intactLength ?? readJournal(file).intactLength);
  ftruncateSync(fd, position);
  let failed: JournalWriteError | undefined;
  // The whole line, newline included, is written and fsync'd before append returns (and the request is answered):
  // a line cut short is then always one that was never acknowledged, which readJournal may drop.
  const write = (line: string) => {
    if (failed) throw failed;
    const bytes = Buffer.from(`${line}\n`, "utf8");
    try {
      // write(2) may write fewer bytes than asked (a signal, a nearly full disk): go on until the line is whole.
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written, position + written);
      fsyncSync(fd);
    } catch (error) {
      failed = new JournalWriteError(
        `chain journal ${file}: writing an entry failed (${(error as Error).message}); the chain refuses further changes: stop it, free the disk, and start again`,
      );
      throw failed;
    }
    position += bytes.length;
  };
  if (creating) write(JSON.stringify(options.header));
  if (!creating && position > 0 && !endsWithNewline(fd, position)) write("");
  return {
    append: (entry) => write(JSON.stringify(entry)),
    get failure() {
      return failed;
    },
    close: () => closeSync(fd),
  };
}

/** A last line that parsed but lost only its newline gets one, so the next entry starts a line of its own. */
function endsWithNewline(fd: number, length: number): boolean {
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, length - 1);
  return last[0] === 0x0a;
}
