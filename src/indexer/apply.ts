import {
  AGREEMENT_KINDS,
  ATTESTATION_BY_EVENT,
  CASE_STATUSES,
  BATCH_IMPACTS,
  ROOT_CAUSES,
  DEVIATION_CATEGORIES,
  DEVIATION_KINDS,
  DEVIATION_SEVERITIES,
  INSPECTION_GRADES,
  INSPECTION_SCOPES,
  NOTICE_KINDS,
  PACK_STATES,
  PERSON_ROLES,
  provinceOf,
  RECALL_LEVELS,
  RELEASE_TESTERS,
  RISK_CLASSES,
  RISK_LEVELS,
  ROLES,
  SUSPECT_OUTCOMES,
} from "../ledger";
import type { AgreementApprovalName, HoldCauseName, OrganizationStatusName, PackStateName } from "../ledger";
import type { AlertCaseHistoryTable, BatchHoldTable, BatchQualityRecordTable } from "../store";
import type { EventArgs, LedgerEvent } from "./decode";
import type { ReadModelWindow } from "./read-model";

/** An event as the reducer needs it: decoded arguments and the time of its block. */
export type AppliedEvent = Pick<LedgerEvent, "name" | "args"> & { blockTime: number };

const num = (args: EventArgs, name: string) => Number(args[name]);
const str = (args: EventArgs, name: string) => String(args[name]);

/** Asks the window for every row `event` reads or changes. */
export function wantRows(window: ReadModelWindow, { name, args }: Pick<LedgerEvent, "name" | "args">) {
  const batchId = args.batchId === undefined ? undefined : str(args, "batchId");
  switch (name) {
    case "OrganizationOnboarded":
    case "OrganizationSuspended":
    case "OrganizationReinstated":
      window.organizations.want(num(args, "organizationId"));
      return;
    case "SigningKeyAdded":
    case "SigningKeyRevoked":
      window.signingKeys.want(str(args, "signingKey"));
      return;
    case "AgreementRevoked":
      window.agreements.want(str(args, "agreementId"));
      return;
    case "ProductRegistered":
      return;
    case "AgreementSigned":
      window.organizations.want(num(args, "mahId"));
      window.organizations.want(num(args, "counterpartyId"));
      return;
    case "LicenceRecorded":
      window.organizations.want(num(args, "organizationId"));
      return;
    case "AgreementOpinionGiven":
    case "AgreementApproved":
      window.agreements.want(str(args, "agreementId"));
      return;
    case "InspectionRecorded":
      window.organizations.want(num(args, "regulatorId"));
      return;
    case "InspectionRecognised":
      return;
    case "AlertTaken":
    case "AlertStatusChanged":
      window.alertCases.want(str(args, "caseKey"));
      return;
    case "SuspectReportTerminated":
      // Its batch too (below): a scan's cached facts of the batch change with it.
      window.suspectReports.want(str(args, "reportId"));
      break;
    case "ResponsiblePersonAppointed":
    case "ResponsiblePersonRevoked":
      window.responsiblePersons.want(str(args, "productId"), str(args, "personKey").toLowerCase());
      return;
    case "ProductRiskClassified":
      window.productRiskClasses.want(str(args, "productId"));
      return;
    case "QualityReviewFiled":
      window.qualityReviews.want(str(args, "productId"), num(args, "year"), num(args, "quarter"));
      return;
    case "SterileRecordsReferenced":
    case "TestCertificateIssued":
      window.batchQualityRecords.want(str(args, "batchId"));
      return;
    case "CommunicationTermsAgreed":
    case "CommunicationTermsCountersigned":
      window.communicationTerms.want(str(args, "agreementId"));
      return;
    case "ShortageListingChanged":
      window.shortageListings.want(str(args, "productId"));
      return;
    case "StopProductionReported":
      window.stopProductionReports.want(str(args, "productId"), num(args, "stopAt"));
      return;
    case "RetainedSamplesRecorded":
    case "RetainedSamplesApproved":
      window.retainedSamples.want(str(args, "batchId"));
      return;
    case "QualityNoticeSent":
    case "QualityNoticeAcknowledged":
      window.qualityNotices.want(str(args, "noticeId"));
      return;
  }
  if (batchId === undefined) return;
  window.batches.want(batchId);
  const actor = ATTESTATION_BY_EVENT.get(name)?.holder;
  if (actor) window.holdings.want(batchId, num(args, actor));
  if (name === "DeviationOpened" || name === "DeviationClosed") window.deviations.want(batchId, str(args, "reportHash"));
  if (name === "ShipmentReceived") window.shipments.want(str(args, "shipmentId"));
  if (name.startsWith("Recall")) window.recalls.want(batchId);
  if (HOLD_EVENTS.has(name)) window.batchHolds.want(batchId);
  if (name === "RecallAcknowledged") window.recallAcknowledgements.want(batchId, num(args, "holderId"));
  if (name === "PackStatesChanged") for (const pack of args.packs as string[]) window.packStates.want(pack);
  if (name === "AggregationCommitted" || name === "UnitsUnpacked") window.batchAggregations.want(batchId);
  if (name === "UnitsUnpacked") for (const unit of args.units as string[]) window.unpackedUnits.want(str(args, "containerId"), unit);
  if (name === "CapaRecorded") window.deviations.want(batchId, str(args, "reportHash"));
  if (name === "CapaRecorded" || name === "CapaEffectivenessChecked") window.capas.want(batchId, str(args, "capaHash"));
}

/** Events that place, release or end a batch's hold (a deviation holds a market-released batch, a recall ends it). */
const HOLD_EVENTS = new Set(["BatchPlacedOnHold", "BatchHoldReleased", "DeviationOpened", "RecallStarted"]);

/** The batch's count of packs out of the supply chain in each state that takes a pack out of stock. */
type PackCounter = "dispensed" | "destroyed" | "stolen" | "sampled" | "exported";
const PACK_COUNTERS: Partial<Record<PackStateName, PackCounter>> = {
  DISPENSED: "dispensed",
  DESTROYED: "destroyed",
  STOLEN: "stolen",
  SAMPLE: "sampled",
  EXPORTED: "exported",
};

type Handler = (window: ReadModelWindow, event: AppliedEvent) => string | null;

/**
 * Applies one event to the read model. Returns null, or the reason the event does not fit what the model already
 * holds (the contracts make that impossible; if it happens the store or the chain is not what the indexer
 * believes, and the event is recorded and reported rather than dropped).
 */
export function applyEvent(window: ReadModelWindow, event: AppliedEvent): string | null {
  const handler = HANDLERS[event.name];
  return handler ? handler(window, event) : `no read-model handler for ${event.name}`;
}

const HANDLERS: Record<string, Handler> = {
  OrganizationOnboarded(w, { args, blockTime }) {
    w.organizations.put({
      id: num(args, "organizationId"),
      role: ROLES.nameOf(num(args, "role")),
      region: num(args, "region"),
      licence_hash: str(args, "licenceHash"),
      name: str(args, "name"),
      status: "ACTIVE",
      onboarded_by: num(args, "regulatorId"),
      onboarded_at: blockTime,
      licence_valid_until: null,
    });
    addKey(w, str(args, "signingKey"), num(args, "organizationId"), blockTime);
    return null;
  },
  OrganizationSuspended: (w, e) => setOrganizationStatus(w, e, "SUSPENDED"),
  OrganizationReinstated: (w, e) => setOrganizationStatus(w, e, "ACTIVE"),
  SigningKeyAdded(w, { args, blockTime }) {
    addKey(w, str(args, "signingKey"), num(args, "organizationId"), blockTime);
    return null;
  },
  SigningKeyRevoked(w, { args, blockTime }) {
    const key = w.signingKeys.get(str(args, "signingKey"));
    if (!key) return `revoked key ${str(args, "signingKey")} was never added`;
    w.signingKeys.update(key, { revoked: 1, revoked_at: blockTime });
    return null;
  },
  ProductRegistered(w, { args, blockTime }) {
    w.products.put({
      id: str(args, "productId"),
      product_code: str(args, "productCode"),
      approval_number: str(args, "approvalNumber"),
      name: str(args, "name"),
      mah_id: num(args, "mahId"),
      registered_at: blockTime,
    });
    return null;
  },
  AgreementSigned(w, { args, blockTime }) {
    w.agreements.put({
      id: str(args, "agreementId"),
      kind: AGREEMENT_KINDS.nameOf(num(args, "kind")),
      mah_id: num(args, "mahId"),
      counterparty_id: num(args, "counterpartyId"),
      product_id: str(args, "productId"),
      document_hash: str(args, "documentHash"),
      valid_from: num(args, "validFrom"),
      valid_until: num(args, "validUntil"),
      release_tester: RELEASE_TESTERS.nameOf(num(args, "releaseTester")),
      revoked: 0,
      signed_at: blockTime,
      revoked_at: null,
      approval: approvalNeeded(w, args),
      opinion_by: null,
      opinion_hash: null,
      opinion_at: null,
      approved_by: null,
      approval_hash: null,
      approved_at: null,
    });
    return null;
  },
  AgreementOpinionGiven(w, { args, blockTime }) {
    const agreement = w.agreements.get(str(args, "agreementId"));
    if (!agreement) return `unknown agreement ${str(args, "agreementId")}`;
    w.agreements.update(agreement, {
      approval: "AWAITING_APPROVAL",
      opinion_by: num(args, "regulatorId"),
      opinion_hash: str(args, "documentHash"),
      opinion_at: blockTime,
    });
    return null;
  },
  AgreementApproved(w, { args, blockTime }) {
    const agreement = w.agreements.get(str(args, "agreementId"));
    if (!agreement) return `unknown agreement ${str(args, "agreementId")}`;
    w.agreements.update(agreement, {
      approval: "APPROVED",
      approved_by: num(args, "regulatorId"),
      approval_hash: str(args, "documentHash"),
      approved_at: blockTime,
    });
    return null;
  },
  LicenceRecorded(w, { args }) {
    const organization = w.organizations.get(num(args, "organizationId"));
    if (!organization) return `unknown organization ${num(args, "organizationId")}`;
    w.organizations.update(organization, { licence_hash: str(args, "licenceHash"), licence_valid_until: num(args, "validUntil") });
    return null;
  },
  InspectionRecorded(w, { args, blockTime }) {
    const regulator = w.organizations.get(num(args, "regulatorId"));
    if (!regulator) return `unknown regulator ${num(args, "regulatorId")}`;
    w.inspections.put({
      id: str(args, "inspectionId"),
      regulator_id: regulator.id,
      province: provinceOf(regulator.region),
      organization_id: num(args, "organizationId"),
      site: str(args, "site"),
      scope: INSPECTION_SCOPES.nameOf(num(args, "scope")),
      critical_findings: num(args, "criticalFindings"),
      major_findings: num(args, "majorFindings"),
      minor_findings: num(args, "minorFindings"),
      grade: INSPECTION_GRADES.nameOf(num(args, "grade")),
      inspected_at: num(args, "inspectedAt"),
      document_hash: str(args, "documentHash"),
      recorded_at: blockTime,
    });
    return null;
  },
  InspectionRecognised(w, { args, blockTime }) {
    w.inspectionRecognitions.put({
      inspection_id: str(args, "inspectionId"),
      province: num(args, "province"),
      regulator_id: num(args, "regulatorId"),
      recognised_at: blockTime,
    });
    return null;
  },
  SamplingRecorded(w, { args, blockTime }) {
    w.samplings.put({
      id: str(args, "samplingId"),
      batch_id: str(args, "batchId"),
      regulator_id: num(args, "regulatorId"),
      sampled_at_id: num(args, "sampledAtId"),
      test: str(args, "test"),
      passed: args.passed === true ? 1 : 0,
      report_hash: str(args, "reportHash"),
      recorded_at: blockTime,
    });
    return null;
  },
  AgreementRevoked(w, { args, blockTime }) {
    const agreement = w.agreements.get(str(args, "agreementId"));
    if (!agreement) return `unknown agreement ${str(args, "agreementId")}`;
    w.agreements.update(agreement, { revoked: 1, revoked_at: blockTime });
    return null;
  },
  BatchRecorded(w, { args, blockTime }) {
    const batchId = str(args, "batchId");
    w.batches.put({
      id: batchId,
      product_id: str(args, "productId"),
      batch_number: str(args, "batchNumber"),
      mah_id: num(args, "mahId"),
      cmo_id: num(args, "cmoId"),
      agreement_id: str(args, "agreementId"),
      quantity: num(args, "quantity"),
      manufactured_at: num(args, "manufacturedAt"),
      expires_at: num(args, "expiresAt"),
      batch_record_hash: str(args, "batchRecordHash"),
      codes_root: str(args, "codesRoot"),
      state: "MANUFACTURED",
      recall_status: "NONE",
      recall_level: null,
      hold_status: "NONE",
      open_deviations: 0,
      in_transit: 0,
      dispensed: 0,
      destroyed: 0,
      stolen: 0,
      sampled: 0,
      exported: 0,
      missing: 0,
      recorded_at: blockTime,
      factory_released_at: null,
      market_released_at: null,
      release_refused_at: null,
      release_refusal_hash: null,
      // Tagged when the range is written (writeWindow), as every batch row its events touch.
      facts_version: 0,
    });
    return moveStock(w, batchId, num(args, "cmoId"), num(args, "quantity"));
  },
  DeviationOpened(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    w.deviations.put({
      batch_id: batch.id,
      report_hash: str(args, "reportHash"),
      kind: DEVIATION_KINDS.nameOf(num(args, "kind")),
      status: "OPEN",
      opened_by: num(args, "organizationId"),
      opened_at: blockTime,
      closed_by: null,
      closure_hash: null,
      closed_at: null,
      severity: DEVIATION_SEVERITIES.nameOf(num(args, "severity")),
      category: DEVIATION_CATEGORIES.nameOf(num(args, "category")),
      root_cause: null,
      batch_impact: null,
    });
    w.batches.update(batch, { open_deviations: batch.open_deviations + 1 });
    if (args.placesOnHold === true) placeHold(w, batch.id, "DEVIATION", num(args, "organizationId"), str(args, "reportHash"), blockTime);
    return null;
  },
  DeviationClosed(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    const deviation = w.deviations.get(str(args, "batchId"), str(args, "reportHash"));
    if (!batch || !deviation) return `unknown deviation ${str(args, "reportHash")} of batch ${str(args, "batchId")}`;
    w.deviations.update(deviation, {
      status: "CLOSED",
      closed_by: num(args, "organizationId"),
      closure_hash: str(args, "closureHash"),
      closed_at: blockTime,
      root_cause: ROOT_CAUSES.nameOf(num(args, "rootCause")),
      batch_impact: BATCH_IMPACTS.nameOf(num(args, "batchImpact")),
    });
    w.batches.update(batch, { open_deviations: batch.open_deviations - 1 });
    return null;
  },
  CapaRecorded(w, { args, blockTime }) {
    const batchId = str(args, "batchId");
    if (!w.deviations.get(batchId, str(args, "reportHash"))) return `CAPA for unknown deviation ${str(args, "reportHash")} of batch ${batchId}`;
    w.capas.put({
      batch_id: batchId,
      capa_hash: str(args, "capaHash"),
      report_hash: str(args, "reportHash"),
      recorded_by: num(args, "organizationId"),
      owner_id: num(args, "ownerId"),
      due_at: num(args, "dueAt"),
      recorded_at: blockTime,
      status: "OPEN",
      checked_by: null,
      check_hash: null,
      checked_at: null,
    });
    return null;
  },
  CapaEffectivenessChecked(w, { args, blockTime }) {
    const capa = w.capas.get(str(args, "batchId"), str(args, "capaHash"));
    if (!capa) return `effectiveness check of unknown CAPA ${str(args, "capaHash")} of batch ${str(args, "batchId")}`;
    w.capas.update(capa, {
      status: args.effective === true ? "EFFECTIVE" : "INEFFECTIVE",
      checked_by: num(args, "mahId"),
      check_hash: str(args, "checkHash"),
      checked_at: blockTime,
    });
    return null;
  },
  BatchFactoryReleased(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    w.batches.update(batch, { state: "FACTORY_RELEASED", factory_released_at: blockTime });
    return null;
  },
  BatchMarketReleased(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    w.batches.update(batch, { state: "MARKET_RELEASED", market_released_at: blockTime });
    return null;
  },
  BatchReleaseRefused(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    w.batches.update(batch, { state: "REJECTED", release_refused_at: blockTime, release_refusal_hash: str(args, "reasonHash") });
    return null;
  },
  BatchShipped(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    const quantity = num(args, "quantity");
    w.shipments.put({
      id: str(args, "shipmentId"),
      batch_id: batch.id,
      shipper_id: num(args, "shipperId"),
      recipient_id: num(args, "recipientId"),
      quantity,
      codes_root: str(args, "codesRoot"),
      status: "IN_TRANSIT",
      received_quantity: null,
      shipped_at: blockTime,
      received_at: null,
    });
    w.batches.update(batch, { in_transit: batch.in_transit + quantity });
    return moveStock(w, batch.id, num(args, "shipperId"), -quantity);
  },
  ShipmentReceived(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    const shipment = w.shipments.get(str(args, "shipmentId"));
    if (!batch || !shipment || shipment.status !== "IN_TRANSIT") {
      return `no shipment ${str(args, "shipmentId")} in transit for batch ${str(args, "batchId")}`;
    }
    const received = num(args, "receivedQuantity");
    w.shipments.update(shipment, { status: "RECEIVED", received_quantity: received, received_at: blockTime });
    w.batches.update(batch, {
      in_transit: batch.in_transit - shipment.quantity,
      missing: batch.missing + shipment.quantity - received,
    });
    return moveStock(w, batch.id, num(args, "recipientId"), received);
  },
  PacksDispensed(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    const packs = args.packs as string[];
    const dispenserId = num(args, "dispenserId");
    for (const pack of packs) {
      w.packStates.put({ pack, batch_id: batch.id, state: "DISPENSED", organization_id: dispenserId, changed_at: blockTime });
    }
    w.batches.update(batch, { dispensed: batch.dispensed + packs.length });
    return moveStock(w, batch.id, dispenserId, -packs.length);
  },
  PackStatesChanged(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    const organizationId = num(args, "organizationId");
    const state = PACK_STATES.nameOf(num(args, "state"));
    const counters: Partial<Record<PackCounter, number>> = {};
    let stock = 0;
    for (const pack of args.packs as string[]) {
      // Setting a state takes the pack out of stock; undoing one (ACTIVE) returns it, by the state it had.
      const leaving = state === "ACTIVE" ? (w.packStates.get(pack)?.state ?? "ACTIVE") : state;
      const counter = PACK_COUNTERS[leaving];
      if (counter) {
        const step = state === "ACTIVE" ? -1 : 1;
        counters[counter] = (counters[counter] ?? batch[counter]) + step;
        stock -= step;
      }
      w.packStates.put({ pack, batch_id: batch.id, state, organization_id: organizationId, changed_at: blockTime });
    }
    w.batches.update(batch, counters);
    return stock === 0 ? null : moveStock(w, batch.id, organizationId, stock);
  },
  StockDestroyed(w, { args }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    w.batches.update(batch, { destroyed: batch.destroyed + num(args, "quantity") });
    return moveStock(w, batch.id, num(args, "holderId"), -num(args, "quantity"));
  },
  BatchPlacedOnHold(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    placeHold(w, batch.id, "PLACED", num(args, "organizationId"), str(args, "reasonHash"), blockTime);
    return null;
  },
  BatchHoldReleased(w, { args, blockTime }) {
    const hold = w.batchHolds.get(str(args, "batchId"));
    if (!hold || hold.status !== "ON_HOLD") return `batch ${str(args, "batchId")} is not on hold`;
    endHold(w, hold, "RELEASED", blockTime, { released_by: num(args, "mahId"), release_reason_hash: str(args, "reasonHash") });
    return null;
  },
  RecallStarted(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    const level = RECALL_LEVELS.nameOf(num(args, "level"));
    w.recalls.put({
      batch_id: batch.id,
      level,
      status: "OPEN",
      started_by: num(args, "organizationId"),
      reason_hash: str(args, "reasonHash"),
      started_at: blockTime,
      closed_by: null,
      report_hash: null,
      closed_at: null,
    });
    w.batches.update(batch, { recall_status: "OPEN", recall_level: level });
    const hold = w.batchHolds.get(batch.id);
    if (hold?.status === "ON_HOLD") endHold(w, hold, "ESCALATED", blockTime);
    return null;
  },
  RecallAcknowledged(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    const holderId = num(args, "holderId");
    const holding = batch && w.holdings.get(batch.id, holderId);
    if (!batch || !holding) return `organization ${holderId} holds nothing of batch ${str(args, "batchId")}`;
    const [dispensed, destroyed, missing] = [num(args, "dispensedQuantity"), num(args, "destroyedQuantity"), num(args, "missingQuantity")];
    w.holdings.update(holding, { recall_acknowledged: 1 });
    w.recallAcknowledgements.put({
      batch_id: batch.id,
      holder_id: holderId,
      quarantined_quantity: num(args, "quarantinedQuantity"),
      dispensed_quantity: dispensed,
      destroyed_quantity: destroyed,
      missing_quantity: missing,
      acknowledged_at: blockTime,
    });
    // What the holder no longer has leaves its holding, counted where it went: the holding is its quarantined stock.
    w.batches.update(batch, { dispensed: batch.dispensed + dispensed, destroyed: batch.destroyed + destroyed, missing: batch.missing + missing });
    return moveStock(w, batch.id, holderId, -(dispensed + destroyed + missing));
  },
  RecallClosed(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    const recall = w.recalls.get(str(args, "batchId"));
    if (!batch || !recall) return `no recall of batch ${str(args, "batchId")}`;
    w.recalls.update(recall, {
      status: "CLOSED",
      closed_by: num(args, "mahId"),
      report_hash: str(args, "reportHash"),
      closed_at: blockTime,
    });
    w.batches.update(batch, { recall_status: "CLOSED" });
    return null;
  },
  AggregationCommitted(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    if (w.batchAggregations.get(batch.id)) return `batch ${batch.id} already has a committed aggregation`;
    w.batchAggregations.put({
      batch_id: batch.id,
      aggregation_root: str(args, "aggregationRoot"),
      containers: num(args, "containers"),
      packs: num(args, "packs"),
      committed_by: num(args, "cmoId"),
      committed_at: blockTime,
    });
    return null;
  },
  UnitsUnpacked(w, { args, blockTime }) {
    const batchId = str(args, "batchId");
    if (!w.batchAggregations.get(batchId)) return `batch ${batchId} has no committed aggregation`;
    const containerId = str(args, "containerId");
    for (const unit of args.units as string[]) {
      w.unpackedUnits.put({
        container_id: containerId,
        unit_id: unit,
        batch_id: batchId,
        organization_id: num(args, "organizationId"),
        unpacked_at: blockTime,
      });
    }
    return null;
  },

  // ----- AlertCases -----
  AlertTaken(w, { args, blockTime }) {
    const caseKey = str(args, "caseKey");
    const organizationId = num(args, "organizationId");
    const previousOwner = num(args, "previousOwnerId");
    const current = w.alertCases.get(caseKey);
    const revision = (current?.revision ?? 0) + 1;
    w.alertCases.put({
      case_key: caseKey,
      subject_id: current?.subject_id ?? num(args, "subjectId"),
      owner_id: organizationId,
      status: current?.status ?? "NEW",
      reason_hash: current?.reason_hash ?? null,
      revision,
      opened_at: current?.opened_at ?? blockTime,
      updated_at: blockTime,
      closed_at: null,
    });
    recordCaseStep(w, caseKey, revision, organizationId, "TAKEN", null, blockTime, previousOwner);
    return (current?.owner_id ?? 0) === previousOwner ? null : `alert case ${caseKey} was owned by ${current?.owner_id ?? 0}, not ${previousOwner}`;
  },
  AlertStatusChanged(w, { args, blockTime }) {
    const caseKey = str(args, "caseKey");
    const current = w.alertCases.get(caseKey);
    if (!current) return `no alert case ${caseKey}`;
    const status = CASE_STATUSES.nameOf(num(args, "status"));
    const reasonHash = str(args, "reasonHash");
    const revision = current.revision + 1;
    w.alertCases.update(current, {
      status,
      reason_hash: reasonHash,
      revision,
      updated_at: blockTime,
      closed_at: status === "CLOSED" ? blockTime : null,
    });
    recordCaseStep(w, caseKey, revision, num(args, "organizationId"), status, reasonHash, blockTime);
    return null;
  },
  SuspectReportFiled(w, { args, blockTime }) {
    const batch = w.batches.get(str(args, "batchId"));
    if (!batch) return unknownBatch(args);
    w.suspectReports.put({
      id: str(args, "reportId"),
      batch_id: batch.id,
      filed_by: num(args, "organizationId"),
      reason_hash: str(args, "reasonHash"),
      packs: JSON.stringify(args.packs as string[]),
      status: "OPEN",
      outcome: "NONE",
      terminated_by: null,
      termination_reason_hash: null,
      filed_at: blockTime,
      terminated_at: null,
    });
    return null;
  },
  SuspectReportTerminated(w, { args, blockTime }) {
    const report = w.suspectReports.get(str(args, "reportId"));
    if (!report || report.status !== "OPEN") return `no open suspect-product report ${str(args, "reportId")}`;
    w.suspectReports.update(report, {
      status: "TERMINATED",
      outcome: SUSPECT_OUTCOMES.nameOf(num(args, "outcome")),
      terminated_by: num(args, "regulatorId"),
      termination_reason_hash: str(args, "reasonHash"),
      terminated_at: blockTime,
    });
    return null;
  },
  ResponsiblePersonAppointed(w, { args, blockTime }) {
    w.responsiblePersons.put({
      product_id: str(args, "productId"),
      person_key: str(args, "personKey").toLowerCase(),
      mah_id: num(args, "mahId"),
      role: PERSON_ROLES.nameOf(num(args, "role")),
      name: str(args, "name"),
      revoked: 0,
      appointed_at: blockTime,
      revoked_at: null,
      revocation_reason_hash: null,
    });
    return null;
  },
  ResponsiblePersonRevoked(w, { args, blockTime }) {
    const person = w.responsiblePersons.get(str(args, "productId"), str(args, "personKey").toLowerCase());
    if (!person) return `${str(args, "personKey")} was never named for product ${str(args, "productId")}`;
    w.responsiblePersons.update(person, { revoked: 1, revoked_at: blockTime, revocation_reason_hash: str(args, "reasonHash") });
    return null;
  },
  ProductRiskClassified(w, { args, blockTime }) {
    w.productRiskClasses.put({
      product_id: str(args, "productId"),
      risk_class: RISK_CLASSES.nameOf(num(args, "riskClass")),
      classified_by: num(args, "mahId"),
      classified_at: blockTime,
    });
    return null;
  },
  SterileRecordsReferenced(w, { args, blockTime }) {
    recordBatchQuality(w, str(args, "batchId"), {
      environmental_monitoring_hash: str(args, "environmentalMonitoringHash"),
      cleaning_record_hash: str(args, "cleaningRecordHash"),
      sterile_records_at: blockTime,
    });
    return null;
  },
  TestCertificateIssued(w, { args, blockTime }) {
    recordBatchQuality(w, str(args, "batchId"), {
      laboratory_id: num(args, "laboratoryId"),
      testing_agreement_id: str(args, "agreementId"),
      certificate_hash: str(args, "certificateHash"),
      certificate_passed: args.passed === true ? 1 : 0,
      certified_at: blockTime,
    });
    return null;
  },
  CommunicationTermsAgreed(w, { args, blockTime }) {
    w.communicationTerms.put({
      agreement_id: str(args, "agreementId"),
      channels: num(args, "channels"),
      response_seconds: num(args, "responseSeconds"),
      terms_hash: str(args, "termsHash"),
      recorded_by: num(args, "mahId"),
      recorded_at: blockTime,
      countersigned_by: null,
      countersigned_at: null,
    });
    return null;
  },
  CommunicationTermsCountersigned(w, { args, blockTime }) {
    const terms = w.communicationTerms.get(str(args, "agreementId"));
    if (!terms) return `no communication terms for agreement ${str(args, "agreementId")}`;
    w.communicationTerms.update(terms, { countersigned_by: num(args, "cmoId"), countersigned_at: blockTime });
    return null;
  },
  ShortageListingChanged(w, { args, blockTime }) {
    w.shortageListings.put({
      product_id: str(args, "productId"),
      listed: args.listed === true ? 1 : 0,
      changed_by: num(args, "organizationId"),
      basis_hash: str(args, "basisHash"),
      changed_at: blockTime,
    });
    return null;
  },
  StopProductionReported(w, { args, blockTime }) {
    w.stopProductionReports.put({
      product_id: str(args, "productId"),
      stop_at: num(args, "stopAt"),
      mah_id: num(args, "mahId"),
      report_hash: str(args, "reportHash"),
      reported_at: blockTime,
    });
    return null;
  },
  RetainedSamplesRecorded(w, { args, blockTime }) {
    w.retainedSamples.put({
      batch_id: str(args, "batchId"),
      cmo_id: num(args, "cmoId"),
      quantity: num(args, "quantity"),
      retain_until: num(args, "retainUntil"),
      location: str(args, "location"),
      recorded_at: blockTime,
      approved_by: null,
      approval_hash: null,
      approved_at: null,
    });
    return null;
  },
  RetainedSamplesApproved(w, { args, blockTime }) {
    const samples = w.retainedSamples.get(str(args, "batchId"));
    if (!samples) return `no retained samples of batch ${str(args, "batchId")}`;
    w.retainedSamples.update(samples, { approved_by: num(args, "mahId"), approval_hash: str(args, "approvalHash"), approved_at: blockTime });
    return null;
  },
  QualityNoticeSent(w, { args, blockTime }) {
    w.qualityNotices.put({
      id: str(args, "noticeId"),
      agreement_id: str(args, "agreementId"),
      sender_id: num(args, "senderId"),
      recipient_id: num(args, "recipientId"),
      kind: NOTICE_KINDS.nameOf(num(args, "kind")),
      channel: num(args, "channel"),
      notice_hash: str(args, "noticeHash"),
      sent_at: blockTime,
      due_at: num(args, "dueAt"),
      acknowledged_at: null,
      response_hash: null,
    });
    return null;
  },
  QualityNoticeAcknowledged(w, { args, blockTime }) {
    const sent = w.qualityNotices.get(str(args, "noticeId"));
    if (!sent) return `unknown notice ${str(args, "noticeId")}`;
    w.qualityNotices.update(sent, { acknowledged_at: blockTime, response_hash: str(args, "responseHash") });
    return null;
  },
  QualityReviewFiled(w, { args, blockTime }) {
    w.qualityReviews.put({
      product_id: str(args, "productId"),
      year: num(args, "year"),
      quarter: num(args, "quarter"),
      mah_id: num(args, "mahId"),
      risk_level: RISK_LEVELS.nameOf(num(args, "riskLevel")),
      review_hash: str(args, "reviewHash"),
      filed_at: blockTime,
    });
    return null;
  },
};

const NO_QUALITY_RECORDS: Omit<BatchQualityRecordTable, "batch_id"> = {
  environmental_monitoring_hash: null,
  cleaning_record_hash: null,
  sterile_records_at: null,
  laboratory_id: null,
  testing_agreement_id: null,
  certificate_hash: null,
  certificate_passed: null,
  certified_at: null,
};

/** Adds to a batch's quality records (QualityDuties): sterile records or a laboratory's certificate. */
function recordBatchQuality(w: ReadModelWindow, batchId: string, changes: Partial<BatchQualityRecordTable>) {
  const current = w.batchQualityRecords.get(batchId) ?? { batch_id: batchId, ...NO_QUALITY_RECORDS };
  w.batchQualityRecords.put({ ...current, ...changes });
}

function placeHold(w: ReadModelWindow, batchId: string, cause: HoldCauseName, placedBy: number, reasonHash: string, placedAt: number) {
  w.batchHolds.put({
    batch_id: batchId,
    status: "ON_HOLD",
    cause,
    placed_by: placedBy,
    reason_hash: reasonHash,
    placed_at: placedAt,
    released_by: null,
    release_reason_hash: null,
    ended_at: null,
  });
  w.batches.update(w.batches.get(batchId)!, { hold_status: "ON_HOLD" });
}

/** Ends a hold: released by the MAH, or escalated to a recall. */
function endHold(w: ReadModelWindow, hold: BatchHoldTable, status: "RELEASED" | "ESCALATED", endedAt: number, release: Partial<BatchHoldTable> = {}) {
  w.batchHolds.update(hold, { ...release, status, ended_at: endedAt });
  const batch = w.batches.get(hold.batch_id);
  if (batch) w.batches.update(batch, { hold_status: status });
}

/** As ProductRegistry decides: a quality agreement with a CMO of another province awaits review. */
function approvalNeeded(w: ReadModelWindow, args: EventArgs): AgreementApprovalName {
  const [mah, counterparty] = [w.organizations.get(num(args, "mahId")), w.organizations.get(num(args, "counterpartyId"))];
  const quality = AGREEMENT_KINDS.nameOf(num(args, "kind")) === "QUALITY";
  const crossProvince = mah !== undefined && counterparty !== undefined && provinceOf(mah.region) !== provinceOf(counterparty.region);
  return quality && crossProvince ? "AWAITING_OPINION" : "NOT_REQUIRED";
}

function setOrganizationStatus(w: ReadModelWindow, { args }: AppliedEvent, status: OrganizationStatusName) {
  const organization = w.organizations.get(num(args, "organizationId"));
  if (!organization) return `unknown organization ${num(args, "organizationId")}`;
  w.organizations.update(organization, { status });
  return null;
}

function addKey(w: ReadModelWindow, address: string, organizationId: number, blockTime: number) {
  w.signingKeys.put({ address, organization_id: organizationId, revoked: 0, added_at: blockTime, revoked_at: null });
}

/** Adds `delta` (negative to remove) to a holding; stock received during a recall owes a new acknowledgement. */
function moveStock(w: ReadModelWindow, batchId: string, organizationId: number, delta: number): string | null {
  const holding = w.holdings.get(batchId, organizationId);
  const quantity = (holding?.quantity ?? 0) + delta;
  const recallOpen = w.batches.get(batchId)?.recall_status === "OPEN";
  const acknowledged = delta > 0 && recallOpen ? 0 : (holding?.recall_acknowledged ?? 0);
  w.holdings.put({ batch_id: batchId, organization_id: organizationId, quantity, recall_acknowledged: acknowledged });
  return quantity < 0 ? `holding of organization ${organizationId} in batch ${batchId} would be ${quantity}` : null;
}

function unknownBatch(args: EventArgs) {
  return `unknown batch ${str(args, "batchId")}`;
}

/** Appends one signed step to an alert case's history. */
function recordCaseStep(
  w: ReadModelWindow,
  caseKey: string,
  revision: number,
  organizationId: number,
  action: AlertCaseHistoryTable["action"],
  reasonHash: string | null,
  at: number,
  previousOwner: number | null = null,
) {
  w.alertCaseHistory.put({
    case_key: caseKey,
    revision,
    organization_id: organizationId,
    action,
    previous_owner_id: previousOwner,
    reason_hash: reasonHash,
    at,
  });
}
