import type { Generated } from "kysely";
import type {
  AgreementApprovalName,
  AgreementKindName,
  AlertSeverity,
  AlertStatus,
  BatchImpactName,
  BatchStateName,
  CapaStatusName,
  CaseStatusName,
  DeviationCategoryName,
  DeviationSeverityName,
  RootCauseName,
  DeviationKindName,
  DeviationStatusName,
  HoldCauseName,
  HoldStatusName,
  InspectionGradeName,
  InspectionScopeName,
  OrganizationStatusName,
  NoticeKindName,
  PackStateName,
  PersonRoleName,
  RecallLevelName,
  SuspectOutcomeName,
  RecallStatusName,
  ReleaseTesterName,
  RiskClassName,
  RiskLevelName,
  RoleName,
  ShipmentStatusName,
} from "../ledger/vocabulary";

/**
 * The read model the indexer builds and the API serves. Hashes and addresses are lowercase 0x-hex text;
 * quantities, ids and times (unix seconds) are integers; a null time means "not yet".
 */
export type Database = {
  sync_state: SyncStateTable;
  indexed_blocks: IndexedBlockTable;
  ledger_events: LedgerEventTable;
  organizations: OrganizationTable;
  signing_keys: SigningKeyTable;
  products: ProductTable;
  agreements: AgreementTable;
  batches: BatchTable;
  deviations: DeviationTable;
  shipments: ShipmentTable;
  holdings: HoldingTable;
  pack_states: PackStateTable;
  recalls: RecallTable;
  recall_acknowledgements: RecallAcknowledgementTable;
  batch_holds: BatchHoldTable;
  alert_cases: AlertCaseTable;
  alert_case_history: AlertCaseHistoryTable;
  suspect_reports: SuspectReportTable;
  alert_escalations: AlertEscalationTable;
  reason_texts: ReasonTextTable;
  code_trees: CodeTreeTable;
  batch_codes: BatchCodeTable;
  code_registration_claims: CodeRegistrationClaimTable;
  alert_cursors: AlertCursorTable;
  alert_blocks: AlertBlockTable;
  alerts: AlertTable;
  notifications: NotificationTable;
  scan_observations: ScanObservationTable;
  recall_progress_reports: RecallProgressReportTable;
  webhook_subscriptions: WebhookSubscriptionTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_attempts: WebhookAttemptTable;
  redeemed_challenges: RedeemedChallengeTable;
  store_identity: StoreIdentityTable;
  capas: CapaTable;
  quality_documents: QualityDocumentTable;
  quality_document_readers: QualityDocumentReaderTable;
  quality_document_contents: QualityDocumentContentTable;
  quality_document_accesses: QualityDocumentAccessTable;
  // ----- cases and pallets (AggregationLedger) -----
  batch_aggregations: BatchAggregationTable;
  unpacked_units: UnpackedUnitTable;
  aggregation_units: AggregationUnitTable;
  shipment_units: ShipmentUnitTable;
  shipment_reconciliations: ShipmentReconciliationTable;
  shipment_differences: ShipmentDifferenceTable;
  epcis_captures: EpcisCaptureTable;
  custody_keys: CustodyKeyTable;
  epcis_queries: EpcisQueryTable;
  epcis_subscriptions: EpcisSubscriptionTable;
  product_storage_ranges: ProductStorageRangeTable;
  shipment_sensor_readings: ShipmentSensorReadingTable;
  product_risk_classes: ProductRiskClassTable;
  responsible_persons: ResponsiblePersonTable;
  batch_quality_records: BatchQualityRecordTable;
  quality_reviews: QualityReviewTable;
  communication_terms: CommunicationTermsTable;
  quality_notices: QualityNoticeTable;
  shortage_listings: ShortageListingTable;
  stop_production_reports: StopProductionReportTable;
  retained_samples: RetainedSamplesTable;
  inspections: InspectionTable;
  inspection_recognitions: InspectionRecognitionTable;
  samplings: SamplingTable;
  risk_ratings: RiskRatingTable;
};

/** An EPCIS capture job: ACCEPTED (its attestations await signing) or REJECTED (each event's reason). JSON columns. */
export type EpcisCaptureTable = {
  id: string;
  organization_id: number;
  /** SUBMITTED: signed with the organization's custody key and sent by the server itself. */
  status: "ACCEPTED" | "SUBMITTED" | "REJECTED";
  event_count: number;
  errors: string;
  attestations: string;
  /** The transactions a custody capture sent (JSON); "[]" otherwise. */
  transactions: Generated<string>;
  created_at: number;
};

/** An organization's signing key kept by the server (custody, opted into), sealed under the custody master key. */
export type CustodyKeyTable = { organization_id: number; address: string; sealed_key: string; created_at: number };

/** An EPCIS named query: an organization's saved SimpleEventQuery filters (JSON). */
export type EpcisQueryTable = { organization_id: number; name: string; filters: string; created_at: number };

/**
 * A subscription to a named query: matching events go to the organization's notification outbox as
 * `epcis.<query name>` (its event stream), and by webhook when `webhook_id` names the webhook subscription made for it.
 */
export type EpcisSubscriptionTable = {
  id: string;
  organization_id: number;
  query_name: string;
  webhook_id: string | null;
  /** The API's public URL when subscribed: the identifiers the delivered events are written under. */
  public_url: string;
  created_at: number;
};

/** A cold-chain product's storage range, set by its MAH, in thousandths of a degree Celsius. */
export type ProductStorageRangeTable = { product_id: string; min_millicelsius: number; max_millicelsius: number; set_by: number; set_at: number };

/** One temperature reading of a shipment's sensor, captured in EPCIS; `evaluated` once the alert engine judged it. */
export type ShipmentSensorReadingTable = {
  id: string;
  shipment_id: string;
  capture_id: string;
  organization_id: number;
  device_id: string | null;
  observed_at: number;
  millicelsius: number;
  evaluated: number;
};

/** A batch's committed aggregation (read model of AggregationCommitted). */
export type BatchAggregationTable = {
  batch_id: string;
  aggregation_root: string;
  containers: number;
  packs: number;
  committed_by: number;
  committed_at: number;
};

/** A unit (pack or case, by id) taken out of a container (read model of UnitsUnpacked). */
export type UnpackedUnitTable = { container_id: string; unit_id: string; batch_id: string; organization_id: number; unpacked_at: number };

/**
 * Which unit is directly inside which case or pallet, by canonical key, registered off-chain by the batch's CMO or
 * MAH once the pairs hash to the committed aggregation root: what lets a scan of an SSCC name its batch and contents.
 */
export type AggregationUnitTable = { container_key: string; unit_key: string; batch_id: string; container_id: string; unit_id: string };

/** The units (cases, pallets, loose packs) a shipment names, registered by its shipper against its codes root. */
export type ShipmentUnitTable = { shipment_id: string; unit_key: string };

/** The addressee's reconciliation of the cases it scanned on receipt against what the shipment named. */
export type ShipmentReconciliationTable = {
  shipment_id: string;
  recorded_by: number;
  expected_packs: number;
  received_packs: number;
  missing_packs: number;
  unexpected_units: number;
  recorded_at: number;
};

/** One pack-level difference of a reconciliation: a pack MISSING from the cases received, or a unit UNEXPECTED. */
export type ShipmentDifferenceTable = { shipment_id: string; code_key: string; kind: "MISSING" | "UNEXPECTED"; container_key: string | null };

/**
 * A batch whose codes a server is writing, a chunk per transaction: `claim` names the attempt, renewed with every
 * chunk; a claim not renewed for a while is a crashed server's, and another may take it over.
 */
export type CodeRegistrationClaimTable = { batch_id: string; claim: string; renewed_at: number };

/** The channels (bit 1 << n of NOTICE_CHANNELS) and response time a quality agreement sets for its notices. */
export type CommunicationTermsTable = {
  agreement_id: string;
  channels: number;
  response_seconds: number;
  terms_hash: string;
  recorded_by: number;
  recorded_at: number;
  /** The CMO's countersignature (null until it countersigns; reset when the MAH records new terms). */
  countersigned_by: number | null;
  countersigned_at: number | null;
};

/** A product listed as a shortage drug (by a regulator or its MAH): its MAH owes a report before stopping production. */
export type ShortageListingTable = { product_id: string; listed: number; changed_by: number; basis_hash: string; changed_at: number };

/** The MAH's report of a shortage-listed product's planned stop, filed before `stop_at`. */
export type StopProductionReportTable = { product_id: string; stop_at: number; mah_id: number; report_hash: string; reported_at: number };

/** A batch's retained samples recorded by its CMO, and the MAH's approval (null until approved). */
export type RetainedSamplesTable = {
  batch_id: string;
  cmo_id: number;
  quantity: number;
  retain_until: number;
  location: string;
  recorded_at: number;
  approved_by: number | null;
  approval_hash: string | null;
  approved_at: number | null;
};

/** A notice between a quality agreement's parties, and its acknowledgement (null until acknowledged). */
export type QualityNoticeTable = {
  id: string;
  agreement_id: string;
  sender_id: number;
  recipient_id: number;
  kind: NoticeKindName;
  channel: number;
  notice_hash: string;
  sent_at: number;
  due_at: number;
  acknowledged_at: number | null;
  response_hash: string | null;
};

/** A product's risk class (QualityDuties), recorded once by its MAH. */
export type ProductRiskClassTable = { product_id: string; risk_class: RiskClassName; classified_by: number; classified_at: number };

/** A person the MAH named responsible for a product, by a signing key of its own; the QP signs market release. */
export type ResponsiblePersonTable = {
  product_id: string;
  person_key: string;
  mah_id: number;
  role: PersonRoleName;
  name: string;
  revoked: number;
  appointed_at: number;
  revoked_at: number | null;
  revocation_reason_hash: string | null;
};

/** What a batch's release checks read (QualityDuties): its sterile records and its contract laboratory's certificate. */
export type BatchQualityRecordTable = {
  batch_id: string;
  environmental_monitoring_hash: string | null;
  cleaning_record_hash: string | null;
  sterile_records_at: number | null;
  laboratory_id: number | null;
  testing_agreement_id: string | null;
  certificate_hash: string | null;
  /** 1 passed, 0 failed, null while no certificate. */
  certificate_passed: number | null;
  certified_at: number | null;
};

/** The MAH's quarterly quality review of a product (China-time calendar quarters), with its risk assessment. */
export type QualityReviewTable = {
  product_id: string;
  year: number;
  quarter: number;
  mah_id: number;
  risk_level: RiskLevelName;
  review_hash: string;
  filed_at: number;
};

/** One row: this store's id, also kept in the data directory it serves (src/ops/continuity.ts). */
export type StoreIdentityTable = { slot: number; id: string; created_at: number };

/** One row: which chain and deployment the store mirrors, and how far. */
export type SyncStateTable = {
  id: number;
  chain_id: number;
  genesis_hash: string;
  deployment: string;
  block_number: number;
  block_hash: string;
};

/** Hashes of indexed blocks that carried events or ended a range: what reorg detection compares. */
export type IndexedBlockTable = { block_number: number; block_hash: string; block_time: number };

export type Verification =
  | "verified"
  /** Deferred verification (`--verify deferred`): applied, its signature not yet recovered. */
  | "pending"
  | "bootstrap"
  | "signature_mismatch"
  | "unknown_key"
  | "key_not_of_organization"
  | "revoked_key"
  | "undecodable";

export type LedgerEventTable = {
  block_number: number;
  log_index: number;
  block_hash: string;
  block_time: number;
  tx_hash: string;
  contract: string;
  address: string;
  name: string;
  batch_id: string | null;
  /** Set on agreement events, so a batch's provenance can show the agreements it was made and moved under. */
  agreement_id: string | null;
  organization_id: number | null;
  signer: string | null;
  /** The organization the signer's key belonged to when the event was indexed. */
  signer_organization_id: number | null;
  verification: Verification;
  /** Why the event does not fit the read model (e.g. a receipt for an unknown shipment); null when it does. */
  problem: string | null;
  /** The event's decoded arguments, JSON with integers as decimal strings. */
  payload: string;
};

export type OrganizationTable = {
  id: number;
  role: RoleName;
  region: number;
  licence_hash: string;
  name: string;
  status: OrganizationStatusName;
  onboarded_by: number;
  onboarded_at: number;
  /** The last second its licence is valid, as its provincial regulator recorded it; null when never recorded. */
  licence_valid_until: number | null;
};

export type SigningKeyTable = {
  address: string;
  organization_id: number;
  revoked: number;
  added_at: number;
  revoked_at: number | null;
};

export type ProductTable = {
  id: string;
  product_code: string;
  approval_number: string;
  name: string;
  mah_id: number;
  registered_at: number;
};

export type AgreementTable = {
  id: string;
  kind: AgreementKindName;
  mah_id: number;
  counterparty_id: number;
  product_id: string;
  document_hash: string;
  valid_from: number;
  valid_until: number;
  release_tester: ReleaseTesterName;
  revoked: number;
  signed_at: number;
  revoked_at: number | null;
  /** Review of a quality agreement across provinces: the CMO-province regulator's opinion, then the MAH's approval. */
  approval: AgreementApprovalName;
  opinion_by: number | null;
  opinion_hash: string | null;
  opinion_at: number | null;
  approved_by: number | null;
  approval_hash: string | null;
  approved_at: number | null;
};

export type BatchTable = {
  id: string;
  product_id: string;
  batch_number: string;
  mah_id: number;
  cmo_id: number;
  agreement_id: string;
  quantity: number;
  manufactured_at: number;
  expires_at: number;
  batch_record_hash: string;
  codes_root: string;
  state: BatchStateName;
  recall_status: RecallStatusName;
  recall_level: RecallLevelName | null;
  /** The batch's latest hold, as batch_holds has it ("NONE" if never held). */
  hold_status: HoldStatusName;
  open_deviations: number;
  in_transit: number;
  dispensed: number;
  destroyed: number;
  /** Packs reported stolen, taken as samples, exported: out of the supply chain like dispensed and destroyed. */
  stolen: number;
  sampled: number;
  exported: number;
  missing: number;
  recorded_at: number;
  factory_released_at: number | null;
  market_released_at: number | null;
  /** When its MAH refused it market release (state REJECTED), and the hash of the signed reasons. */
  release_refused_at: number | null;
  release_refusal_hash: string | null;
  /**
   * Changes, to a random tag, in every transaction that changes what a scan caches of the batch (see
   * src/store/facts-version.ts); 0 until the first.
   */
  facts_version: number;
};

export type DeviationTable = {
  batch_id: string;
  report_hash: string;
  kind: DeviationKindName;
  status: DeviationStatusName;
  opened_by: number;
  opened_at: number;
  closed_by: number | null;
  closure_hash: string | null;
  closed_at: number | null;
  severity: DeviationSeverityName;
  category: DeviationCategoryName;
  /** The investigation's finding and the batch's disposition, as signed in the closure (null while open). */
  root_cause: RootCauseName | null;
  batch_impact: BatchImpactName | null;
};

/** A corrective and preventive action for a deviation: its owner, due date and effectiveness check. */
export type CapaTable = {
  batch_id: string;
  capa_hash: string;
  report_hash: string;
  recorded_by: number;
  owner_id: number;
  due_at: number;
  recorded_at: number;
  status: CapaStatusName;
  checked_by: number | null;
  check_hash: string | null;
  checked_at: number | null;
};

/**
 * A quality document (off-chain), addressed by the keccak-256 hash that the ledger event at (record_block,
 * record_log) records in its `field`. Its owner is the organization that signed that attestation.
 */
export type QualityDocumentTable = {
  hash: string;
  record_block: number;
  record_log: number;
  record_tx: string;
  event_name: string;
  field: string;
  batch_id: string | null;
  agreement_id: string | null;
  owner_id: number;
  uploaded_by: number;
  uploaded_at: number;
  file_name: string;
  media_type: string;
  size: number;
  /** Where the ciphertext is, for the content store that wrote it (`db:` in the store itself). */
  content_location: string;
};

/** A reader of a document: the document's key wrapped under a key derived for this organization. No row, no read. */
export type QualityDocumentReaderTable = {
  document_hash: string;
  organization_id: number;
  wrapped_key: string;
  granted_by: number;
  granted_at: number;
};

/** A document's ciphertext (nonce, GCM tag and encrypted bytes, base64) when the store itself holds it. */
export type QualityDocumentContentTable = { document_hash: string; ciphertext: string };

/** Every upload, download (served or refused), grant and revocation of a document. */
export type QualityDocumentAccessTable = {
  id: string;
  document_hash: string;
  organization_id: number;
  action: "upload" | "download" | "grant" | "revoke";
  outcome: "done" | "refused";
  detail: string | null;
  at: number;
};

export type ShipmentTable = {
  id: string;
  batch_id: string;
  shipper_id: number;
  recipient_id: number;
  quantity: number;
  codes_root: string;
  status: ShipmentStatusName;
  received_quantity: number | null;
  shipped_at: number;
  received_at: number | null;
};

export type HoldingTable = {
  batch_id: string;
  organization_id: number;
  quantity: number;
  recall_acknowledged: number;
};

/** A pack's state, set by `organization_id` at `changed_at`; ACTIVE once its setter undid it. */
export type PackStateTable = {
  pack: string;
  batch_id: string;
  state: PackStateName;
  organization_id: number;
  changed_at: number;
};

export type RecallTable = {
  batch_id: string;
  level: RecallLevelName;
  status: RecallStatusName;
  started_by: number;
  reason_hash: string;
  started_at: number;
  closed_by: number | null;
  report_hash: string | null;
  closed_at: number | null;
};

/**
 * A holder's latest acknowledgement of a recall: its whole holding then, accounted for as quarantined (still held),
 * already dispensed, destroyed and missing (the last three left the holding with the acknowledgement).
 */
export type RecallAcknowledgementTable = {
  batch_id: string;
  holder_id: number;
  quarantined_quantity: number;
  dispensed_quantity: number;
  destroyed_quantity: number;
  missing_quantity: number;
  acknowledged_at: number;
};

/** A batch's latest hold: who placed it and why, and how it ended (earlier holds are in the batch's events). */
export type BatchHoldTable = {
  batch_id: string;
  status: Exclude<HoldStatusName, "NONE">;
  cause: HoldCauseName;
  placed_by: number;
  /** The placement's reason document, or the report of the deviation that placed it. */
  reason_hash: string;
  placed_at: number;
  /** The MAH that released it (null while held or when a recall ended it). */
  released_by: number | null;
  release_reason_hash: string | null;
  ended_at: number | null;
};

/** A batch's registered serial codes (off-chain; the chain holds their Merkle root). Not derived from events. */
export type CodeTreeTable = {
  batch_id: string;
  root: string;
  code_count: number;
  tree_path: string;
  registered_by: number;
  registered_at: number;
};

/** Which batch a pack's canonical code belongs to. */
export type BatchCodeTable = { canonical_key: string; batch_id: string };

/** How far the alert engine has read: the last ledger event it evaluated ("events"), or the clock's last run. */
export type AlertCursorTable = { name: string; block_number: number; log_index: number; updated_at: number };

/** Blocks whose events the alert engine evaluated, by hash: how it notices that a reorg removed them. */
export type AlertBlockTable = { block_number: number; block_hash: string };

/**
 * An early warning. `status` is open, resolved (its condition no longer holds: the shipment arrived) or retracted
 * (a reorg removed the event that raised it). `key` makes raising the same warning twice a no-op.
 */
export type AlertTable = {
  id: number;
  key: string;
  rule: string;
  severity: AlertSeverity;
  status: AlertStatus;
  /** The organization the alert is about (its risk rating counts it). */
  organization_id: number | null;
  batch_id: string | null;
  /** What else it is about: a shipment id, a pack's code, an agreement id. */
  subject: string | null;
  message: string;
  /** JSON: the figures that triggered the rule. */
  details: string;
  source_block: number | null;
  source_log: number | null;
  source_block_hash: string | null;
  /** When the condition arose (block time, scan time or deadline). */
  observed_at: number;
  created_at: number;
  closed_at: number | null;
  closed_reason: string | null;
};

/** The outbox: one row per recipient organization per alert or ledger event. Its id orders the SSE stream. */
export type NotificationTable = {
  id: number;
  organization_id: number;
  /** `ledger.<EventName>`, `alert.<rule>`, or `alert.resolved` / `alert.retracted`. */
  kind: string;
  idempotency_key: string;
  alert_id: number | null;
  /**
   * The ledger event a `ledger.*` notification is about. Its arguments are read from ledger_events when the
   * notification is sent rather than copied once per recipient (null if a reorg has removed the event since).
   */
  event_block: number | null;
  event_log: number | null;
  /** JSON body sent to webhooks and the stream (without the event's arguments, see event_block). */
  payload: string;
  created_at: number;
};

/** An authenticated scan, kept off-chain for the scan-based rules. */
export type ScanObservationTable = {
  id: string;
  organization_id: number;
  canonical_key: string;
  product_code: string | null;
  /** 1 when the code's product code is registered on the ledger. */
  product_registered: number;
  batch_id: string | null;
  verdict: string;
  place: string | null;
  observed_at: number;
  /** 0 until the alert engine has evaluated it. */
  evaluated: number;
};

/** An MAH's progress report on an open recall to its regulator (off-chain; the recall rules set its interval). */
export type RecallProgressReportTable = { id: string; batch_id: string; reported_by: number; report_hash: string; reported_at: number };

/** A webhook: where an organization wants its notifications of some kinds, signed with its own secret. */
export type WebhookSubscriptionTable = {
  id: string;
  organization_id: number;
  url: string;
  /** JSON array of kinds or patterns (`alert.*`, `ledger.*`, `*`). */
  kinds: string;
  secret: string;
  description: string | null;
  status: string;
  /** Notifications up to this id have been queued for delivery. */
  after_notification_id: number;
  created_at: number;
  deleted_at: number | null;
};

/** One notification to one webhook: pending until the receiver answers 2xx, failed after the last attempt. */
export type WebhookDeliveryTable = {
  subscription_id: string;
  notification_id: number;
  status: string;
  attempts: number;
  /** Milliseconds since the epoch. */
  next_attempt_at: number;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
};

/** The delivery log: every attempt and what the receiver answered. */
export type WebhookAttemptTable = {
  subscription_id: string;
  notification_id: number;
  attempt: number;
  attempted_at: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
};

/** A sign-in challenge already exchanged for a token, kept until it expires so it cannot be exchanged again. */
export type RedeemedChallengeTable = { nonce: string; expires_at: number };

/**
 * An alert's case (AlertCases contract), its owner and signed status, under the case's key on chain:
 * AlertCases.caseKeyOf(keccak256 of the alert's key, the organization it concerns): src/ledger/ids.ts alertCaseKey.
 */
export type AlertCaseTable = {
  case_key: string;
  subject_id: number;
  owner_id: number;
  status: CaseStatusName;
  /** The reason signed with the latest status change (a closure's reason). */
  reason_hash: string | null;
  /** How many signed steps the case has had: its history's last revision. */
  revision: number;
  opened_at: number;
  updated_at: number;
  closed_at: number | null;
};

/** One signed step of an alert case: TAKEN, or the status it moved to. */
export type AlertCaseHistoryTable = {
  case_key: string;
  revision: number;
  organization_id: number;
  action: "TAKEN" | CaseStatusName;
  previous_owner_id: number | null;
  reason_hash: string | null;
  at: number;
};

/** A suspect-product report (AlertCases contract): open until a regulator terminates it. */
export type SuspectReportTable = {
  id: string;
  batch_id: string;
  filed_by: number;
  reason_hash: string;
  /** JSON array of the reported packs' hashes; empty when the whole batch is reported. */
  packs: string;
  status: "OPEN" | "TERMINATED";
  outcome: SuspectOutcomeName;
  terminated_by: number | null;
  termination_reason_hash: string | null;
  filed_at: number;
  terminated_at: number | null;
};

/** An open alert case the alert engine escalated because it passed its due date (off-chain). */
export type AlertEscalationTable = { alert_id: number; due_at: number; escalated_at: number };

/** A reason's text by the keccak256 hash signed on chain (off-chain; shown only where the hash matches). */
export type ReasonTextTable = { hash: string; text: string; organization_id: number; added_at: number };
/** A regulator's inspection of an organization's site (SupervisionRecords). */
export type InspectionTable = {
  id: string;
  regulator_id: number;
  /** The inspecting regulator's province. */
  province: number;
  organization_id: number;
  site: string;
  scope: InspectionScopeName;
  critical_findings: number;
  major_findings: number;
  minor_findings: number;
  grade: InspectionGradeName;
  inspected_at: number;
  document_hash: string;
  recorded_at: number;
};

/** Another province's recognition of an inspection (mutual recognition): one per inspection and province. */
export type InspectionRecognitionTable = { inspection_id: string; province: number; regulator_id: number; recognised_at: number };

/** A regulator's sampling test of a batch at an organization. */
export type SamplingTable = {
  id: string;
  batch_id: string;
  regulator_id: number;
  sampled_at_id: number;
  test: string;
  passed: number;
  report_hash: string;
  recorded_at: number;
};

/**
 * An organization's risk rating each time it changed (off-chain, computed from the read model by the alert engine):
 * its level, score, the contribution of each source (JSON) and the supervision frequency it suggests.
 */
export type RiskRatingTable = {
  organization_id: number;
  rated_at: number;
  level: string;
  score: number;
  contributions: string;
  inspections_per_year: number;
};
