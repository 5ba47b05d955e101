import { z } from "zod";
import { domainOf, LEDGER_CONTRACTS, typedDataDomain } from "../ledger";
import type { LedgerContract } from "../ledger";
import { LedgerError } from "../ledger/errors";
import { defineRoute } from "./routes";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);

const domain = z.object({
  name: z.string().meta({ description: "the contract's name, as its EIP-712 domain spells it" }),
  version: z.string(),
  chainId: z.number().int(),
  verifyingContract: address,
});

const ledgerAnswer = z.object({
  chainId: z.number().int(),
  contracts: z.object({
    ConsortiumRegistry: address,
    ProductRegistry: address,
    BatchLedger: address,
    AggregationLedger: address,
    AlertCases: address,
    CorrectiveActions: address,
    QualityDuties: address,
    SupervisionRecords: address,
  }),
  startBlock: z.number().int().nullable().meta({ description: "the block the contracts were deployed in, where indexing starts" }),
  domains: z
    .object({
      ConsortiumRegistry: domain,
      ProductRegistry: domain,
      BatchLedger: domain,
      AggregationLedger: domain,
      AlertCases: domain,
      CorrectiveActions: domain,
      QualityDuties: domain,
      SupervisionRecords: domain,
    })
    .meta({ description: "the EIP-712 domain each contract verifies attestations against: sign with these" }),
  indexedBlock: z.number().int().nullable().meta({ description: "the block the read model has reached" }),
});

/**
 * Deployment discovery: a client that knows only the API's address learns from it where the ledger lives and what
 * to sign for, instead of needing a deployment file from whoever started the service.
 */
export const ledgerRoutes = [
  defineRoute({
    method: "get",
    path: "/v1/ledger",
    summary: "The chain, contract addresses and EIP-712 domains of the ledger this API serves, and the indexed block",
    tags: ["operations"],
    access: "public",
    response: ledgerAnswer,
    errors: { 503: "this API was started without its deployment (DEPLOYMENT_UNKNOWN)" },
    async handle({ services }) {
      const { deployment } = services;
      if (!deployment) {
        throw new LedgerError(
          "retry_later",
          "DEPLOYMENT_UNKNOWN",
          "this API server was started without the ledger's deployment; ask its operator for the deployment file",
        );
      }
      const sync = await services.store.db.selectFrom("sync_state").select("block_number").executeTakeFirst();
      const domainAnswer = (contract: LedgerContract) => ({ ...typedDataDomain(domainOf(deployment, contract)), chainId: deployment.chainId });
      return {
        chainId: deployment.chainId,
        contracts: Object.fromEntries(LEDGER_CONTRACTS.map((c) => [c, deployment.contracts[c]])) as Record<LedgerContract, string>,
        startBlock: deployment.startBlock ?? null,
        domains: Object.fromEntries(LEDGER_CONTRACTS.map((c) => [c, domainAnswer(c)])) as Record<LedgerContract, z.input<typeof domain>>,
        indexedBlock: sync ? Number(sync.block_number) : null,
      };
    },
  }),
];
