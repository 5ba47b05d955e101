import { LEDGER_EVENTS } from "../ledger";
import { RULE_NAMES } from "./rules";

/** Every notification kind the engine writes: each ledger event, each rule's alert, and an alert's closing. */
export const NOTIFICATION_KINDS: readonly string[] = [
  ...LEDGER_EVENTS.map((name) => `ledger.${name}`),
  ...RULE_NAMES.map((rule) => `alert.${rule}`),
  "alert.resolved",
  "alert.retracted",
  "alert.case_overdue",
];
