import { SingleBar, Presets } from "cli-progress";
import { CodeError, ImportError } from "../codes";

/** Exit statuses: scripts tell "the answer is no" (a proof that does not verify) from "the input is wrong". */
export const EXIT_OK = 0;
export const EXIT_NO = 1;
export const EXIT_ERROR = 2;

/** What a command needs from the outside world; tests and the entry point pass the process's. */
export type CliIo = {
  out(text: string): void;
  err(text: string): void;
  /** Whether progress bars make sense (an interactive terminal). */
  interactive: boolean;
};

export const processIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  interactive: process.stderr.isTTY === true,
};

export type Progress = { update(done: number, total?: number): void; stop(): void };

/** A progress bar on stderr for long steps, and nothing at all when output goes to a pipe or is JSON. */
export function progressBar(io: CliIo, label: string, total: number, json: boolean): Progress {
  if (!io.interactive || json) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} | {duration_formatted}`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
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
  if (!(error instanceof CodeError)) throw error;
  if (json) {
    const lines = error instanceof ImportError ? { lines: error.lines, rejectedLines: error.rejectedLines } : {};
    io.err(JSON.stringify({ error: { ...error.toJSON(), ...lines } }));
    return EXIT_ERROR;
  }
  const where = [error.field === undefined ? "" : ` field ${error.field}`, error.position === undefined ? "" : ` position ${error.position}`].join("");
  io.err(`error ${error.code}${where}: ${error.message}`);
  if (error instanceof ImportError) {
    const shown = error.lines.slice(0, SHOWN_LINE_ERRORS);
    for (const line of shown) io.err(`  line ${line.line}: ${line.code}: ${line.message}`);
    if (error.rejectedLines > shown.length) io.err(`  … and ${error.rejectedLines - shown.length} more (--json lists up to ${error.lines.length})`);
  }
  return EXIT_ERROR;
}
