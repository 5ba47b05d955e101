import Table from "cli-table3";
import { Option } from "commander";
import type { CliIo } from "./io";

export const jsonOption = () => new Option("--json", "machine-readable output").default(false);

/** JSON with integers beyond 2^53 (nonces, quantities) as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}

// No colours: output goes to logs and pipes as often as to terminals.
const PLAIN = { head: [], border: [] };

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return String(value);
}

/** One result: a two-column table for people, the object as JSON for scripts. */
export function printRecord(io: CliIo, json: boolean, record: Record<string, unknown>): void {
  if (json) return io.out(toJson(record));
  const table = new Table({ style: PLAIN });
  for (const [name, value] of Object.entries(record)) {
    if (value !== undefined) table.push({ [name]: cell(value) });
  }
  io.out(table.toString());
}

/** Rows under a header, for lists (a batch's provenance). */
export function printRows(io: CliIo, head: string[], rows: unknown[][]): void {
  const table = new Table({ head, style: PLAIN, wordWrap: true });
  for (const row of rows) table.push(row.map(cell));
  io.out(table.toString());
}
