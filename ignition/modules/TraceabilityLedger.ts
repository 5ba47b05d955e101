import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The three ledger contracts. `firstRegulator` is the regulator the deployer bootstraps (an
 * IConsortiumRegistry.Onboarding: role 5, region, licenceHash, signingKey, name); every later organization is
 * onboarded by a regulator's signed attestation.
 */
export default buildModule("TraceabilityLedger", (m) => {
  const firstRegulator = m.getParameter("firstRegulator");
  const registry = m.contract("ConsortiumRegistry", [firstRegulator]);
  const products = m.contract("ProductRegistry", [registry]);
  const batches = m.contract("BatchLedger", [registry, products]);
  return { registry, products, batches };
});
