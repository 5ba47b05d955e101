/** Patterns a subscription may name besides the kinds its raiser declares. */
export const KIND_PATTERNS = ["*", "ledger.*", "alert.*"];

/** Whether a notification of `kind` matches a subscription's `kinds`. */
export function kindMatches(kinds: readonly string[], kind: string): boolean {
  return kinds.some((k) => k === "*" || k === kind || (k.endsWith(".*") && kind.startsWith(k.slice(0, -1))));
}
