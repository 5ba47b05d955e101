import pino from "pino";
import type { Logger } from "pino";

export type { Logger };

/** Structured JSON logs on stderr, so stdout stays free for what a command prints. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: undefined }, pino.destination(2));
}

/** A logger that drops everything, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
