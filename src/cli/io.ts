import * as readline from "node:readline";
import { SingleBar, Presets } from "cli-progress";
import { CodeError, ImportError } from "../codes";
import { LedgerError } from "../ledger/errors";
import type { ErrorKind } from "../ledger/errors";

/**
 * Exit statuses: scripts tell "the answer is no" (a proof that does not verify, a scan that is not genuine) from
 * "the input is wrong", from "the ledger refused it" (a rule, a role, a replay), from "an endpoint did not answer"
 * (worth retrying), from "this ledger cannot answer" (a scanned product it does not hold: ask elsewhere).
 */
export const EXIT_OK = 0;
export const EXIT_NO = 1;
export const EXIT_ERROR = 2;
export const EXIT_REFUSED = 3;
export const EXIT_UNAVAILABLE = 4;
export const EXIT_NOT_HERE = 5;

/** The exit status of each kind of failure: the one place in the CLI that chooses one. */
const EXIT_OF_KIND: Record<ErrorKind, number> = {
  bad_input: EXIT_ERROR,
  // Naming something the ledger does not hold (a shipment, a batch) is an input the user can correct.
  not_found: EXIT_ERROR,
  unauthenticated: EXIT_REFUSED,
  not_allowed: EXIT_REFUSED,
  conflict: EXIT_REFUSED,
  refused: EXIT_REFUSED,
  retry_later: EXIT_UNAVAILABLE,
  timed_out: EXIT_UNAVAILABLE,
  internal: EXIT_UNAVAILABLE,
};

export const exitStatusOf = (kind: ErrorKind) => EXIT_OF_KIND[kind];

/** What a command needs from the outside world; tests and the entry point pass the process's. */
export type CliIo = {
  out(text: string): void;
  err(text: string): void;
  /** Whether progress bars make sense (an interactive terminal). */
  interactive: boolean;
  /** Environment variables (keys, passwords, endpoints). */
  env: Record<string, string | undefined>;
  /** Asks for a secret without echoing it; absent when there is no terminal to ask on. */
  readSecret?: (prompt: string) => Promise<string>;
};

export const processIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  interactive: process.stderr.isTTY === true,
  env: process.env,
  readSecret: process.stdin.isTTY === true && process.stderr.isTTY === true ? promptHidden : undefined,
};

/** Reads a line from the terminal without echoing what is typed. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // readline echoes through _writeToOutput; letting only the prompt through hides the typed password.
    (rl as unknown as { _writeToOutput: (text: string) => void })._writeToOutput = (text) => {
      if (text.includes(prompt)) process.stderr.write(text);
    };
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer);
    });
  });
}

export type Progress = { update(done: number, total?: number): void; stop(): void };

/** A progress bar on stderr for long steps, and nothing at all when output goes to a pipe or is JSON. */
export function progressBar(io: CliIo, label: string, total: number, json: boolean): Progress {
  if (!io.interactive || json) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`, stream: process.stderr, hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (done, newTotal) => {
      if (newTotal !== undefined && newTotal !== bar.getTotal()) bar.setTotal(newTotal);
      bar.update(done);
    },
    stop: () => bar.stop(),
  };
}

/** Prints the result as JSON or as aligned "name: value" lines. */
export function printResult(io: CliIo, json: boolean, result: Record<string, unknown>): void {
  if (json) return io.out(JSON.stringify(result, null, 2));
  for (const [name, value] of Object.entries(result)) {
    if (value === undefined) continue;
    io.out(`${`${name}:`.padEnd(18)}${typeof value === "object" ? JSON.stringify(value) : String(value)}`);
  }
}

const SHOWN_LINE_ERRORS = 20;

/** Reports a failure precisely (code, field, position, and for imports each bad line) and returns the exit status. */
export function reportError(io: CliIo, json: boolean, error: unknown): number {
  if (error instanceof LedgerError) {
    if (json)
      io.err(JSON.stringify({ error: { code: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) } }));
    else io.err(`error ${error.code}${error.field === undefined ? "" : ` field ${error.field}`}: ${error.message}`);
    return exitStatusOf(error.kind);
  }
  if (!(error instanceof CodeError)) {
    // Not a failure the CLI foresaw: still one line and a non-zero status, not a stack trace.
    const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    return reportError(io, json, new LedgerError("bad_input", "UNEXPECTED", message));
  }
  if (json) {
    const lines = error instanceof ImportError ? { lines: error.lines, rejectedLines: error.rejectedLines } : {};
    io.err(JSON.stringify({ error: { ...error.toJSON(), ...lines } }));
    return EXIT_ERROR;
  }
  const where = [error.field === undefined ? "" : ` field ${error.field}`, error.position === undefined ? "" : ` position ${error.position}`].join(
    "",
  );
  io.err(`error ${error.code}${where}: ${error.message}`);
  if (error instanceof ImportError) {
    const shown = error.lines.slice(0, SHOWN_LINE_ERRORS);
    for (const line of shown) io.err(`  line ${line.line}: ${line.code}: ${line.message}`);
    if (error.rejectedLines > shown.length) io.err(`  … and ${error.rejectedLines - shown.length} more (--json lists up to ${error.lines.length})`);
  }
  return EXIT_ERROR;
}
