import { RULE_NAMES } from "../alerts/rules";
import { LEDGER_EVENTS } from "../ledger";

/** Kinds a subscription may name: each one, or a pattern (`*`, `ledger.*`, `alert.*`). */
export const NOTIFICATION_KINDS: string[] = [
  ...LEDGER_EVENTS.map((name) => `ledger.${name}`),
  ...RULE_NAMES.map((rule) => `alert.${rule}`),
  "alert.resolved",
  "alert.retracted",
];

export const KIND_PATTERNS = ["*", "ledger.*", "alert.*"];

/** Whether a notification of `kind` matches a subscription's `kinds`. */
export function kindMatches(kinds: readonly string[], kind: string): boolean {
  return kinds.some((k) => k === "*" || k === kind || (k.endsWith(".*") && kind.startsWith(k.slice(0, -1))));
}
