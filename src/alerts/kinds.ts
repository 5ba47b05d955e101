import { LEDGER_EVENTS } from "../ledger";
import { RULE_NAMES } from "./rules";
import { RATING_CHANGED } from "../supervision/rating";

/** Every notification kind the engine writes: each ledger event, each rule's alert, an alert's closing, a rating's change. */
export const NOTIFICATION_KINDS: readonly string[] = [
  ...LEDGER_EVENTS.map((name) => `ledger.${name}`),
  ...RULE_NAMES.map((rule) => `alert.${rule}`),
  "alert.resolved",
  "alert.retracted",
  "alert.case_overdue",
  RATING_CHANGED,
];
