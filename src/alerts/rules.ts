import type { Severity } from "./config";

/** Every early-warning rule, with the severity that weighs on the risk rating of the organization it is about. */
export const RULES = {
  /** A pack scanned by an organization that neither holds its batch nor is being sent it. */
  pack_off_custody_path: "high",
  /** A pack scanned after it was dispensed: a copied code. */
  dispensed_pack_rescanned: "high",
  /** Several unknown serials under one registered product code from one organization. */
  unknown_serials_repeated: "high",
  /** A shipment not received within the configured time. */
  shipment_overdue: "medium",
  /** A holder that has not acknowledged a recall by its level's deadline. */
  recall_acknowledgement_overdue: "high",
  /** A recall acknowledgement reporting packs of the holding missing: stock of a recalled batch nobody can find. */
  recall_acknowledgement_shortfall: "high",
  /** An open recall whose MAH has not reported progress within its level's interval. */
  recall_progress_report_overdue: "medium",
  /** A receipt whose quantity differs from the shipment's. */
  receipt_quantity_mismatch: "medium",
  /** A batch shipped close to its expiry. */
  shipped_near_expiry: "low",
  /** Deviations closed shortly before the batch's market release. */
  deviation_closed_before_release: "medium",
  /** A CMO with recurring deviations across its clients. */
  cmo_recurring_deviations: "medium",
  /** A batch recorded under (or not yet released from) an agreement that expired or was revoked. */
  agreement_not_in_force: "high",
  /** A batch held short of a recall (by its MAH, a regulator, or a deviation opened on it once on the market). */
  batch_on_hold: "high",
  /** A CAPA still without its effectiveness check after its due date. */
  capa_overdue: "medium",
  /** A CAPA whose effectiveness check failed: the deviation's cause is still there. */
  capa_ineffective: "high",
  /** An attestation whose signature did not verify (at once, or behind the head with deferred verification). */
  attestation_unverified: "high",
  /** A shipment's sensor read a temperature outside its product's storage range in transit (cold chain). */
  cold_chain_excursion: "high",
  /** A product's quarterly quality review (with risk assessment) not filed by its MAH by the configured time after the quarter. */
  quality_review_overdue: "medium",
  /** A notice between a quality agreement's parties not acknowledged within the response time the agreement sets. */
  notice_acknowledgement_overdue: "medium",
  /** A shortage-listed product whose production is planned to stop soon (its last quality agreement ends) with no stop-production report. */
  stop_production_unreported: "high",
} as const satisfies Record<string, Severity>;

export type Rule = keyof typeof RULES;
export const RULE_NAMES = Object.keys(RULES) as Rule[];

/** What a rule found: the engine turns it into an alert (once per key) and notifications. */
export type AlertDraft = {
  /** Raising a draft whose key exists is a no-op. */
  key: string;
  rule: Rule;
  /** The organization the alert is about; null when no single one is. */
  organizationId: number | null;
  batchId: string | null;
  subject: string | null;
  message: string;
  details: Record<string, unknown>;
  observedAt: number;
  source?: { block: number; log: number; hash: string };
  /** Organizations to inform besides the subject, the batch's MAH and the regulators of the provinces involved. */
  notify?: number[];
};

export { provinceOf } from "../ledger/vocabulary";
