import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The ledger contracts (AggregationLedger: cases and pallets; QualityDuties: the MAH's quality duties;
 * SupervisionRecords: regulators' inspections and sampling; RelayBundle: attestations for several contracts in one
 * transaction). `firstRegulator` is the regulator the deployer bootstraps (an
 * IConsortiumRegistry.Onboarding: role 5, region, licenceHash, signingKey, name); every later organization is
 * onboarded by a regulator's signed attestation. `undoWindow` is how many seconds a dispensing, sample or export
 * may be undone by its setter (src/ledger/vocabulary.ts DEFAULT_UNDO_WINDOW, 10 days, when not given).
 */
export default buildModule("TraceabilityLedger", (m) => {
  const firstRegulator = m.getParameter("firstRegulator");
  const undoWindow = m.getParameter("undoWindow", 10 * 24 * 3600);
  const registry = m.contract("ConsortiumRegistry", [firstRegulator]);
  const products = m.contract("ProductRegistry", [registry]);
  const qualityDuties = m.contract("QualityDuties", [registry, products]);
  const batches = m.contract("BatchLedger", [registry, products, qualityDuties, undoWindow]);
  m.call(qualityDuties, "bindBatchLedger", [batches]);
  const aggregations = m.contract("AggregationLedger", [registry, batches]);
  const alertCases = m.contract("AlertCases", [registry, batches]);
  m.call(batches, "bindAlertCases", [alertCases]);
  const correctiveActions = m.contract("CorrectiveActions", [registry, batches]);
  const supervision = m.contract("SupervisionRecords", [registry, batches]);
  // Last in the deploy order, so every earlier contract keeps its address.
  const relayBundle = m.contract("RelayBundle", []);
  return { registry, products, qualityDuties, batches, aggregations, alertCases, correctiveActions, supervision, relayBundle };
});
