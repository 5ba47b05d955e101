import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import request from "supertest";
import { TypedDataEncoder } from "ethers";
import { attestationDigest } from "../../src/ledger";
import type { Deployment } from "../../src/indexer";
import { deploymentOf } from "../indexer/chain";
import { apiHarness } from "./harness";
import type { ApiHarness } from "./harness";

describe("GET /v1/ledger: deployment discovery", () => {
  let h: ApiHarness;
  let deployment: Deployment;

  beforeAll(async () => {
    h = await apiHarness();
    deployment = await deploymentOf(h.c);
  });
  afterAll(async () => {
    await h.close();
  });

  it("answers the chain, the contracts, their EIP-712 domains and the indexed block, to anyone", async () => {
    h.services.deployment = { ...deployment, startBlock: 0 };
    const { body } = await request(h.app).get("/v1/ledger").expect(200);
    const sync = await h.store.db.selectFrom("sync_state").select("block_number").executeTakeFirstOrThrow();
    expect(body).to.deep.include({ chainId: deployment.chainId, contracts: deployment.contracts, startBlock: 0, indexedBlock: sync.block_number });
    for (const contract of ["ConsortiumRegistry", "ProductRegistry", "BatchLedger"] as const) {
      expect(body.domains[contract]).to.deep.equal({
        name: contract,
        version: "1",
        chainId: deployment.chainId,
        verifyingContract: deployment.contracts[contract],
      });
    }
    // The domain answered is the one attestations are signed and verified against.
    const message = { organizationId: 1, nonce: 7n, signingKey: deployment.contracts.BatchLedger };
    const types = {
      SigningKeyAddition: [
        { name: "organizationId", type: "uint32" },
        { name: "nonce", type: "uint256" },
        { name: "signingKey", type: "address" },
      ],
    };
    const contract = "ConsortiumRegistry" as const;
    expect(TypedDataEncoder.hash(body.domains[contract], types, message)).to.equal(
      attestationDigest({
        domain: { contract, chainId: BigInt(deployment.chainId), verifyingContract: deployment.contracts[contract] },
        type: "SigningKeyAddition",
        message,
      }),
    );
    const document = (await request(h.app).get("/openapi.json").expect(200)).body;
    expect(document.paths["/v1/ledger"].get.responses).to.have.property("503");
  });

  it("answers 503 DEPLOYMENT_UNKNOWN when the API was started without its deployment", async () => {
    delete h.services.deployment;
    const { body } = await request(h.app).get("/v1/ledger").expect(503);
    expect(body.error.code).to.equal("DEPLOYMENT_UNKNOWN");
  });
});
