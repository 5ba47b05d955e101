import pino from "pino";
import type { Logger } from "../../src/log";

export type LogLine = { level: number; msg: string; [field: string]: unknown };

/** A logger whose lines a test can read back: what the indexer reported, as structured entries. */
export function capturingLogger(level = "debug"): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level, base: undefined }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;
