import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import http from "node:http";
import type { AddressInfo } from "node:net";
import hre from "hardhat";
import type { HardhatNetworkHDAccountsConfig } from "hardhat/types";
import { HDNodeWallet, id as hashText, JsonRpcProvider, keccak256, Mnemonic, Wallet, ZeroHash } from "ethers";
import type { BaseWallet } from "ethers";
import type { Api } from "../../src/api/app";
import request from "supertest";
import { createApp } from "../../src/api/app";
import { createRelay, relayRoutes } from "../../src/api/relay";
import type { Relay } from "../../src/api/relay";
import { AgreementKind, ATTESTATION_SPECS, CONTRACT_INTERFACES, PersonRole, ReleaseTester, Role } from "../../src/ledger";
import type { AttestationType, LedgerContract, SignedAttestation } from "../../src/ledger";
import { packId, packLeaf, withCheckDigit } from "../../src/codes";
import {
  agreementMessage,
  handOver,
  onboard,
  recordBatch,
  releasedBatch,
  signAgreementBy,
  suspendOrganization,
  ZHEJIANG,
} from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { deploymentOf } from "../indexer/chain";
import { apiHarness, packsFor } from "./harness";
import type { ApiHarness } from "./harness";

/** A funded account of the Hardhat network that is not the fixtures' deployer: the relayer. */
function hardhatAccountKey(index: number): string {
  const accounts = hre.config.networks.hardhat.accounts as HardhatNetworkHDAccountsConfig;
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(accounts.mnemonic), `${accounts.path}/${index}`).privateKey;
}

/** An attestation as a client sends it: JSON, with integers as decimal strings. */
type Body = { contract: string; type: string; message: Record<string, unknown>; signature: string; [extra: string]: unknown };
const asJson = (value: unknown) => JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type NodeFault = "none" | "refuse" | "lose-answer" | "down-after-send";

/**
 * A JSON-RPC proxy on loopback in front of the chain node, failing the relay's eth_sendRawTransaction as told:
 * refused by the node; taken by the node but its answer lost; taken, then the node unreachable. Records the
 * signed transactions it was handed.
 */
async function faultyNode(target: string) {
  const state = { fault: "none" as NodeFault, down: false, signed: [] as string[] };
  const forward = async (body: string) => (await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body })).text();
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", async () => {
      if (state.down) return void req.socket.destroy();
      const call = JSON.parse(body) as { id: number; method: string; params: string[] };
      if (call.method === "eth_sendRawTransaction" && state.fault !== "none") {
        state.signed.push(call.params[0]!);
        if (state.fault === "refuse") {
          return void res.end(JSON.stringify({ jsonrpc: "2.0", id: call.id, error: { code: -32000, message: "transaction pool is full" } }));
        }
        await forward(body);
        state.down = state.fault === "down-after-send";
        return void req.socket.destroy();
      }
      res.setHeader("content-type", "application/json");
      res.end(await forward(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

describe("relay of signed attestations", () => {
  let h: ApiHarness;
  let app: Api;
  let relay: Relay;
  const following = new AbortController();
  let follow: Promise<void>;
  let stock: string;

  const provider = () => h.c.relayer.provider!;
  const blockNumber = () => provider().getBlockNumber();
  const post = (attestations: unknown[], wait?: boolean) =>
    request(app)
      .post("/v1/attestations")
      .send(wait === undefined ? { attestations } : { attestations, wait });

  /** Waits until the indexer (following the chain) has reached the chain's head. */
  async function indexed() {
    const head = await blockNumber();
    for (;;) {
      const sync = await h.store.db.selectFrom("sync_state").select("block_number").executeTakeFirst();
      if (sync && sync.block_number >= head) return;
      await sleep(20);
    }
  }

  async function signed<C extends LedgerContract>(
    contract: C,
    type: AttestationType<C>,
    party: Party | BaseWallet,
    message: Record<string, unknown>,
  ): Promise<Body> {
    const key = "key" in party ? party.key : party;
    const { message: full, signature } = await h.c.sign(contract, type, key, message);
    return { contract, type, message: asJson(full), signature };
  }

  const shipment = (from: Party, to: Party, batchId: string, quantity: number, signer: Party | BaseWallet = from) =>
    signed("BatchLedger", "Shipment", signer, { shipperId: from.id, batchId, recipientId: to.id, quantity: BigInt(quantity), codesRoot: ZeroHash });

  /** The market release of `batchId` signed by `party` as its MAH (whether or not it is). */
  const marketRelease = (party: Party, batchId: string, decision: string) =>
    signed("BatchLedger", "MarketRelease", party, {
      mahId: party.id,
      batchId,
      decisionHash: hashText(decision),
      signerRole: PersonRole.Organization,
      signerName: "",
    });

  /** Posts and expects a refusal that sent nothing to the chain. */
  async function refused(attestations: unknown[], status: number) {
    const before = await blockNumber();
    const res = await post(attestations);
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(await blockNumber(), "a refused request sends nothing").to.equal(before);
    return res.body.error as { code: string; message: string; field?: string };
  }

  beforeAll(async () => {
    h = await apiHarness();
    relay = createRelay({
      rpcUrl: h.chain.url,
      relayerKey: hardhatAccountKey(1),
      deployment: await deploymentOf(h.c),
      store: h.store,
      pollIntervalMs: 20,
    });
    app = createApp(h.services, relayRoutes(relay));
    // Stock the distributor ships from in these tests.
    stock = (await releasedBatch(h.c, "B-2024-009", 100n)).batchId;
    await handOver(h.c, h.c.cmo, h.c.distributor, stock, 60n);
    follow = h.indexer.follow(following.signal);
    await indexed();
  });
  afterAll(async () => {
    following.abort();
    await follow;
    relay.close();
    await h.close();
  });

  it("relays a shipment, waits until it is indexed and answers with its block", async () => {
    const attestation = await shipment(h.c.distributor, h.c.dispenser, stock, 1);
    const res = await post([attestation], true).expect(200);
    expect(res.body.status).to.equal("indexed");
    expect(res.body.transactions).to.have.length(1);
    const [sent] = res.body.transactions;
    expect([sent.contract, sent.attestations]).to.deep.equal(["BatchLedger", [0]]);
    const receipt = await provider().getTransactionReceipt(sent.hash);
    expect([receipt?.status, receipt?.blockNumber, receipt?.from]).to.deep.equal([1, sent.blockNumber, relay.relayer]);
    expect(res.body.indexedBlock).to.be.at.least(sent.blockNumber);
    // Answered only once the read model shows it, with the signer verified.
    const shipmentId = await h.c.batches.shipmentId(h.c.distributor.id, BigInt(attestation.message.nonce as string));
    const row = await h.store.db.selectFrom("shipments").selectAll().where("id", "=", shipmentId.toLowerCase()).executeTakeFirst();
    expect([row?.status, row?.quantity, row?.recipient_id]).to.deep.equal(["IN_TRANSIT", 1, h.c.dispenser.id]);
    const event = await h.store.db.selectFrom("ledger_events").selectAll().where("tx_hash", "=", sent.hash.toLowerCase()).executeTakeFirstOrThrow();
    expect([event.name, event.verification, event.signer]).to.deep.equal(["BatchShipped", "verified", h.c.distributor.key.address.toLowerCase()]);
    expect(res.body.established, "the new shipment's id, read back from the indexed event").to.deep.equal([
      { attestation: 0, event: "BatchShipped", batchId: stock.toLowerCase(), shipmentId: shipmentId.toLowerCase() },
    ]);
  });

  it("answers an onboarding with the new organization's id once indexed", async () => {
    const key = Wallet.createRandom();
    const attestation = await signed("ConsortiumRegistry", "Onboarding", h.c.regulator, {
      regulatorId: h.c.regulator.id,
      role: Role.Dispenser,
      region: ZHEJIANG,
      licenceHash: hashText("licence relayed pharmacy"),
      signingKey: key.address,
      name: "Relayed pharmacy",
    });
    const res = await post([attestation], true).expect(200);
    const [established] = res.body.established as { attestation: number; event: string; organizationId: number }[];
    expect([established!.attestation, established!.event]).to.deep.equal([0, "OrganizationOnboarded"]);
    const organization = await h.store.db
      .selectFrom("organizations")
      .select(["id", "name"])
      .where("id", "=", established!.organizationId)
      .executeTakeFirstOrThrow();
    expect(organization.name).to.equal("Relayed pharmacy");
    expect(Number(await h.c.registry.organizationCount())).to.equal(established!.organizationId);
  });

  it("answers 202 with the transaction hash when not asked to wait", async () => {
    const attestation = await shipment(h.c.distributor, h.c.dispenser, stock, 1);
    const res = await post([attestation]).expect(202);
    expect([res.body.status, res.body.indexedBlock, res.body.transactions[0].blockNumber]).to.deep.equal(["submitted", null, null]);
    expect(res.body.transactions[0].hash).to.match(/^0x[0-9a-f]{64}$/);
    let receipt = await provider().getTransactionReceipt(res.body.transactions[0].hash);
    while (!receipt) {
      await sleep(20);
      receipt = await provider().getTransactionReceipt(res.body.transactions[0].hash);
    }
    expect(receipt.status).to.equal(1);
    await indexed();
  });

  it("sends several attestations for one contract in one multicall transaction", async () => {
    const codes = await packsFor("B-2024-010", 4);
    const batchId = await recordBatch(h.c, "B-2024-010", { quantity: 4n, codesRoot: codes.tree.root });
    const attestations = [
      await signed("BatchLedger", "FactoryRelease", h.c.cmo, { cmoId: h.c.cmo.id, batchId, certificateHash: hashText("QA certificate") }),
      await marketRelease(h.c.mah, batchId, "release decision"),
      await shipment(h.c.cmo, h.c.distributor, batchId, 3),
    ];
    const res = await post(attestations, true).expect(200);
    expect(res.body.transactions.map((t: { contract: string; attestations: number[] }) => [t.contract, t.attestations])).to.deep.equal([
      ["BatchLedger", [0, 1, 2]],
    ]);
    const tx = await provider().getTransaction(res.body.transactions[0].hash);
    expect(tx?.data.slice(0, 10)).to.equal(CONTRACT_INTERFACES.BatchLedger.getFunction("multicall")!.selector);
    const events = await h.store.db
      .selectFrom("ledger_events")
      .select(["name", "verification"])
      .where("tx_hash", "=", res.body.transactions[0].hash.toLowerCase())
      .orderBy("log_index")
      .execute();
    expect(events).to.deep.equal([
      { name: "BatchFactoryReleased", verification: "verified" },
      { name: "BatchMarketReleased", verification: "verified" },
      { name: "BatchShipped", verification: "verified" },
    ]);
    const batch = await h.store.db
      .selectFrom("batches")
      .select(["state", "in_transit"])
      .where("id", "=", batchId.toLowerCase())
      .executeTakeFirstOrThrow();
    expect(batch).to.deep.equal({ state: "MARKET_RELEASED", in_transit: 3 });
    // Each attestation of the multicall is told its own event, matched by its signature.
    const shipmentId = await h.c.batches.shipmentId(h.c.cmo.id, BigInt(attestations[2]!.message.nonce as string));
    expect(res.body.established.map((e: Record<string, unknown>) => [e.attestation, e.event, e.batchId, e.shipmentId])).to.deep.equal([
      [0, "BatchFactoryReleased", batchId.toLowerCase(), undefined],
      [1, "BatchMarketReleased", batchId.toLowerCase(), undefined],
      [2, "BatchShipped", batchId.toLowerCase(), shipmentId.toLowerCase()],
    ]);
  });

  it("applies attestations for several contracts in one bundle transaction, and none of them when the last would fail", async () => {
    const suspension = await signed("ConsortiumRegistry", "Suspension", h.c.regulator, {
      regulatorId: h.c.regulator.id,
      organizationId: h.c.distributor2.id,
      reasonHash: hashText("GMP inspection failed"),
    });
    // The last attestation ships more than the distributor holds: BatchLedger refuses it, so the bundle reverts whole.
    const failing = [
      suspension,
      await shipment(h.c.distributor, h.c.dispenser, stock, 1),
      await shipment(h.c.distributor, h.c.dispenser, stock, 10_000),
    ];
    const error = await refused(failing, 422);
    expect(error.code).to.equal("INSUFFICIENT_HOLDING");
    expect(error.message).to.match(/^attestation 2/);
    expect((await h.c.registry.organization(h.c.distributor2.id)).status, "the suspension was not sent").to.equal(1n);
    // Without a relay bundle in its deployment, a relay refuses such a request before checking anything.
    const { relayBundle: _none, ...unbundled } = await deploymentOf(h.c);
    const plain = createRelay({ rpcUrl: h.chain.url, relayerKey: hardhatAccountKey(1), deployment: unbundled, store: h.store });
    try {
      await plain.relay(failing as unknown as SignedAttestation[]);
      expect.fail("refused");
    } catch (caught) {
      expect((caught as { code: string }).code).to.equal("BUNDLE_SPANS_CONTRACTS");
    } finally {
      plain.close();
    }
    // Whole: a registry attestation and a shipment in one transaction to the bundle.
    const together = [
      await signed("ConsortiumRegistry", "Onboarding", h.c.regulator, {
        regulatorId: h.c.regulator.id,
        role: Role.Dispenser,
        region: ZHEJIANG,
        licenceHash: hashText("licence bundled pharmacy"),
        signingKey: Wallet.createRandom().address,
        name: "Bundled pharmacy",
      }),
      await shipment(h.c.distributor, h.c.dispenser, stock, 1),
    ];
    const res = await post(together, true).expect(200);
    expect(res.body.transactions.map((t: { contract: string; attestations: number[] }) => [t.contract, t.attestations])).to.deep.equal([
      ["RelayBundle", [0, 1]],
    ]);
    expect(res.body.established.map((e: { event: string }) => e.event)).to.deep.equal(["OrganizationOnboarded", "BatchShipped"]);
  });

  it("relays an agreement signed by both parties and a dispensing with its multiproof", async () => {
    const terms = await agreementMessage(h.c, h.c.mah, h.c.distributor2, h.c.productId, {
      kind: AgreementKind.Storage,
      releaseTester: ReleaseTester.None,
    });
    const agreement = await signAgreementBy(h.c, h.c.mah, h.c.distributor2, terms);
    const { released } = h.batches;
    const keys = released.packs.slice(2, 4).map((pack) => pack.key);
    const multi = released.tree.multiProof(keys);
    const byLeaf = new Map(keys.map((key) => [packLeaf(key), key]));
    const dispensing = await signed("BatchLedger", "Dispensing", h.c.dispenser, {
      dispenserId: h.c.dispenser.id,
      batchId: released.batchId,
      packs: multi.leaves.map((leaf) => packId(byLeaf.get(leaf)!)),
    });
    // Enums by name or number: the signature covers the number.
    const signedAgreementBody = {
      contract: "ProductRegistry",
      type: "Agreement",
      message: { ...asJson(agreement.message), kind: "Storage", releaseTester: "None" },
      signature: agreement.mahSignature,
      counterpartySignature: agreement.counterpartySignature,
    };
    for (const [attestation, contract] of [
      [signedAgreementBody, "ProductRegistry"],
      [{ ...dispensing, proof: multi.proof, proofFlags: multi.proofFlags }, "BatchLedger"],
    ] as const) {
      const res = await post([attestation], true).expect(200);
      expect(res.body.transactions.map((t: { contract: string }) => t.contract)).to.deep.equal([contract]);
    }
    const signedAgreement = await h.store.db
      .selectFrom("agreements")
      .select(["kind", "counterparty_id"])
      .where("mah_id", "=", h.c.mah.id)
      .where("kind", "=", "STORAGE")
      .executeTakeFirst();
    expect(signedAgreement).to.deep.equal({ kind: "STORAGE", counterparty_id: h.c.distributor2.id });
    const packs = await h.store.db.selectFrom("pack_states").select("pack").where("batch_id", "=", released.batchId.toLowerCase()).execute();
    expect(packs).to.have.length(4);

    const byStranger = await signAgreementBy(h.c, h.c.mah, h.c.dispenser, { ...terms, nonce: h.c.nextNonce() });
    const forged = await refused(
      [
        {
          contract: "ProductRegistry",
          type: "Agreement",
          message: asJson({ ...terms, nonce: byStranger.message.nonce }),
          signature: byStranger.mahSignature,
          counterpartySignature: byStranger.counterpartySignature,
        },
      ],
      403,
    );
    expect(forged.code).to.equal("SIGNER_NOT_OF_ORGANIZATION");
    expect(forged.message).to.include(`names organization ${h.c.distributor2.id} (Shanghai Cold Chain Logistics)`);
  });

  it("refuses a malformed body with 400 and the offending field, sending nothing", async () => {
    const good = await shipment(h.c.distributor, h.c.dispenser, stock, 1);
    const cases: [string, unknown[], string][] = [
      ["no attestations", [], "attestations"],
      ["unknown type", [{ ...good, type: "Teleport" }], "attestations.0.type"],
      ["type of another contract", [{ ...good, contract: "ProductRegistry" }], "attestations.0.contract"],
      ["negative quantity", [{ ...good, message: { ...good.message, quantity: "-1" } }], "attestations.0.message.quantity"],
      ["quantity beyond uint64", [{ ...good, message: { ...good.message, quantity: (1n << 64n).toString() } }], "attestations.0.message.quantity"],
      ["batch id not bytes32", [{ ...good, message: { ...good.message, batchId: "0x1234" } }], "attestations.0.message.batchId"],
      ["missing field", [{ ...good, message: { ...good.message, recipientId: undefined } }], "attestations.0.message.recipientId"],
      ["unknown field", [{ ...good, message: { ...good.message, priority: 1 } }], "attestations.0.message"],
      ["no signature", [{ ...good, signature: undefined }], "attestations.0.signature"],
      ["proof on a shipment", [{ ...good, proof: [] }], "attestations.0"],
      ["second attestation bad", [good, { ...good, message: { ...good.message, shipperId: 0.5 } }], "attestations.1.message.shipperId"],
    ];
    for (const [what, attestations, field] of cases) {
      const error = await refused(attestations, 400);
      expect([what, error.code, error.field]).to.deep.equal([what, "INVALID_INPUT", field]);
    }
    const unreadable = await refused([{ ...good, signature: `0x${"00".repeat(65)}` }], 400);
    expect([unreadable.code, unreadable.field]).to.deep.equal(["INVALID_SIGNATURE", "attestations.0.signature"]);
  });

  it("reads at most 64 KB of an anonymous request; a signed-in organization may send more", async () => {
    // A dispensing of 1,500 packs by a key no organization registered: about 100 KB.
    const stranger = Wallet.createRandom();
    const packs = Array.from({ length: 1_500 }, (_, i) => hashText(`pack ${i}`));
    const large = {
      ...(await signed("BatchLedger", "Dispensing", stranger, { dispenserId: h.c.dispenser.id, batchId: stock, packs })),
      proof: [],
      proofFlags: [],
    };
    expect(JSON.stringify({ attestations: [large] }).length).to.be.within(64 * 1024, 2 * 1024 * 1024);
    const anonymous = await refused([large], 413);
    expect(anonymous).to.deep.equal({
      code: "BODY_TOO_LARGE",
      message: "an anonymous relay request may carry at most 64 KB; sign in (POST /v1/auth/challenge, then /v1/auth/token) to relay up to 2 MB",
    });
    const token = await h.tokenFor(h.c.dispenser);
    const before = await blockNumber();
    const signedIn = await request(app)
      .post("/v1/attestations")
      .set("authorization", `Bearer ${token}`)
      .send({ attestations: [large] });
    expect([signedIn.status, signedIn.body.error.code, signedIn.body.error.field]).to.deep.equal([403, "UNKNOWN_SIGNING_KEY", "attestations.0"]);
    expect(await blockNumber()).to.equal(before);
  });

  it("refuses a signature the contracts would refuse (v not 27 or 28, s in the upper half), sending nothing", async () => {
    const genuine = await shipment(h.c.distributor, h.c.dispenser, stock, 1);
    const order = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const [r, s, v] = [genuine.signature.slice(2, 66), BigInt(`0x${genuine.signature.slice(66, 130)}`), parseInt(genuine.signature.slice(130), 16)];
    // The same signature, malleated: s' = n - s and the other v recover the same key, which the contracts refuse.
    const malleated = `0x${r}${(order - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}`;
    const zeroV = `0x${genuine.signature.slice(2, 130)}${(v - 27).toString(16).padStart(2, "0")}`;
    for (const signature of [malleated, zeroV]) {
      const error = await refused([{ ...genuine, signature }], 400);
      expect([signature, error.code, error.field]).to.deep.equal([signature, "INVALID_SIGNATURE", "attestations.0.signature"]);
    }
    await post([genuine], true).expect(200);
  });

  it("refuses forged signatures, altered messages and another organization's key, sending nothing", async () => {
    const { batchId } = h.batches.released;
    const stranger = await refused([await shipment(h.c.distributor, h.c.dispenser, batchId, 1, Wallet.createRandom())], 403);
    expect(stranger.code).to.equal("UNKNOWN_SIGNING_KEY");
    expect(stranger.message).to.match(/not a registered signing key/);

    const genuine = await shipment(h.c.distributor, h.c.dispenser, batchId, 1);
    const altered = await refused([{ ...genuine, message: { ...genuine.message, quantity: "2" } }], 403);
    expect(altered.code).to.equal("UNKNOWN_SIGNING_KEY");

    const foreign = await refused([await shipment(h.c.distributor, h.c.dispenser, batchId, 1, h.c.dispenser)], 403);
    expect([foreign.code, foreign.field]).to.deep.equal(["SIGNER_NOT_OF_ORGANIZATION", "attestations.0"]);
    expect(foreign.message).to.include(`organization ${h.c.distributor.id} (Nanjing Wholesale)`);
  });

  it("refuses an attestation of a suspended organization", async () => {
    const carrier = await onboard(h.c, Role.Distributor, ZHEJIANG, "Ningbo Pharma Logistics");
    await suspendOrganization(h.c, carrier.id);
    await indexed();
    const error = await refused([await shipment(carrier, h.c.dispenser, stock, 1)], 403);
    expect(error.code).to.equal("ORGANIZATION_SUSPENDED");
    expect(error.message).to.include(`organization ${carrier.id} (Ningbo Pharma Logistics) is suspended`);
  });

  it("answers the contract's exact reason when it would refuse, sending nothing", async () => {
    const codes = await packsFor("B-2024-011", 4);
    const batchId = await recordBatch(h.c, "B-2024-011", { quantity: 4n, codesRoot: codes.tree.root });
    const deviation = await h.c.sign("BatchLedger", "DeviationReport", h.c.cmo.key, {
      organizationId: h.c.cmo.id,
      batchId,
      kind: 2,
      severity: 2,
      category: 5,
      reportHash: hashText("OOS assay"),
    });
    await h.c.batches.openDeviation(deviation.message as never, deviation.signature);
    await indexed();

    const release = [await signed("BatchLedger", "FactoryRelease", h.c.cmo, { cmoId: h.c.cmo.id, batchId, certificateHash: hashText("QA") })];
    const open = await refused(release, 422);
    expect([open.code, open.field]).to.deep.equal(["BATCH_HAS_OPEN_DEVIATIONS", "attestations.0"]);
    expect(open.message).to.include("batch B-2024-011 has 1 open deviation");

    const none = await refused([await shipment(h.c.distributor, h.c.dispenser, stock, 0)], 400);
    expect([none.code, none.field]).to.deep.equal(["ZERO_QUANTITY", "attestations.0.message.quantity"]);

    const tooMany = await refused([await shipment(h.c.distributor, h.c.dispenser, stock, 500)], 422);
    expect(tooMany.code).to.equal("INSUFFICIENT_HOLDING");
    expect(tooMany.message).to.match(/organization \d+ \(Nanjing Wholesale\) holds \d+ of batch B-2024-009, so it cannot ship 500/);

    const recalled = await refused([await shipment(h.c.distributor, h.c.dispenser, h.batches.recalled.batchId, 1)], 422);
    expect(recalled.code).to.equal("BATCH_RECALLED");
    expect(recalled.message).to.include("batch B-2024-002 is under a level II recall");

    const notMah = await refused([await marketRelease(h.c.regulator, batchId, "release")], 403);
    expect(notMah.code).to.equal("NOT_BATCH_MAH");
    expect(notMah.message).to.include(
      `organization ${h.c.regulator.id} (Jiangsu Medical Products Administration) is not the MAH of batch B-2024-011`,
    );

    const gtin = withCheckDigit("0690123456792");
    const wrongRole = await refused(
      [
        await signed("ProductRegistry", "ProductRegistration", h.c.cmo, {
          mahId: h.c.cmo.id,
          productCode: gtin,
          approvalNumber: "H1",
          name: "Not theirs",
        }),
      ],
      403,
    );
    expect(wrongRole.code).to.equal("ORGANIZATION_ROLE_MISMATCH");
    expect(wrongRole.message).to.include("(Hangzhou Contract Manufacturing) is a CMO; a ProductRegistration attestation must come from a MAH");
  });

  it("relays a regulator's hold, then refuses shipping the held batch with 422 BATCH_ON_HOLD and a distributor's hold with 403", async () => {
    const batchId = (await releasedBatch(h.c, "B-2024-013", 10n)).batchId;
    await handOver(h.c, h.c.cmo, h.c.distributor, batchId, 5n);
    const hold = await signed("BatchLedger", "HoldPlacement", h.c.regulator, {
      organizationId: h.c.regulator.id,
      batchId,
      reasonHash: hashText("complaints"),
    });
    expect((await post([hold], true).expect(200)).body.status).to.equal("indexed");
    expect(
      await h.store.db.selectFrom("batches").select("hold_status").where("id", "=", batchId.toLowerCase()).executeTakeFirstOrThrow(),
    ).to.deep.equal({ hold_status: "ON_HOLD" });
    const held = await refused([await shipment(h.c.distributor, h.c.dispenser, batchId, 1)], 422);
    expect([held.code, held.field]).to.deep.equal(["BATCH_ON_HOLD", "attestations.0"]);
    expect(held.message).to.include("batch B-2024-013 is on hold awaiting its MAH's decision");
    const byDistributor = await refused(
      [await signed("BatchLedger", "HoldPlacement", h.c.distributor, { organizationId: h.c.distributor.id, batchId, reasonHash: hashText("x") })],
      403,
    );
    expect(byDistributor.code).to.equal("NOT_HOLD_AUTHORITY");
  });

  it("names the attestation of a multicall that the contract would refuse", async () => {
    const { batchId } = h.batches.unreleased;
    const attestations = [
      await signed("BatchLedger", "FactoryRelease", h.c.cmo, { cmoId: h.c.cmo.id, batchId, certificateHash: hashText("QA") }),
      await shipment(h.c.cmo, h.c.distributor, batchId, 1),
      await marketRelease(h.c.mah, batchId, "release"),
    ];
    const error = await refused(attestations, 422);
    expect([error.code, error.field]).to.deep.equal(["BATCH_STATE_MISMATCH", "attestations.1"]);
    expect(error.message).to.include("batch B-2024-003 is released from the factory; this step needs it released to the market");
    const batch = await h.c.batches.batch(batchId);
    expect(Number(batch.state), "the first attestation was not sent either").to.equal(1);
  });

  it("refuses a replayed attestation with 409, whether replayed later or in the same request", async () => {
    const attestation = await shipment(h.c.distributor, h.c.dispenser, stock, 1);
    await post([attestation], true).expect(200);
    const replay = await refused([attestation], 409);
    expect(replay.code).to.equal("REPLAYED_ATTESTATION");
    expect(replay.message).to.include(`already used nonce ${attestation.message.nonce} on BatchLedger`);

    const twice = await shipment(h.c.distributor, h.c.dispenser, stock, 1);
    const duplicate = await refused([twice, twice], 409);
    expect([duplicate.code, duplicate.field]).to.deep.equal(["REPLAYED_ATTESTATION", "attestations.1"]);
  });

  describe("when the node fails while the transaction is sent", () => {
    let node: Awaited<ReturnType<typeof faultyNode>>;
    let viaNode: JsonRpcProvider;
    let faultyRelay: Relay;
    let faultyApp: Api;

    beforeAll(async () => {
      node = await faultyNode(h.chain.url);
      viaNode = new JsonRpcProvider(node.url, Number(h.c.chainId), { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
      faultyRelay = createRelay({
        provider: viaNode,
        relayerKey: hardhatAccountKey(1),
        deployment: await deploymentOf(h.c),
        store: h.store,
        pollIntervalMs: 20,
      });
      faultyApp = createApp(h.services, relayRoutes(faultyRelay));
    });
    afterAll(async () => {
      faultyRelay?.close();
      viaNode?.destroy();
      await node?.close();
    });

    async function relayThrough(fault: NodeFault) {
      Object.assign(node.state, { fault, down: false, signed: [] });
      try {
        return await request(faultyApp)
          .post("/v1/attestations")
          .send({ attestations: [await shipment(h.c.distributor, h.c.dispenser, stock, 1)] });
      } finally {
        Object.assign(node.state, { fault: "none", down: false });
      }
    }

    it("answers that nothing was sent when the node refused the transaction, without the signed transaction", async () => {
      const before = await blockNumber();
      const res = await relayThrough("refuse");
      expect([res.status, res.body.error.code]).to.deep.equal([503, "CHAIN_UNAVAILABLE"]);
      expect(res.body.error.message).to.equal("the chain node refused the transaction: transaction pool is full; nothing was sent; retry");
      expect(node.state.signed).to.have.length(1);
      expect(JSON.stringify(res.body)).not.to.include(node.state.signed[0]!.slice(2, 66));
      expect(await blockNumber()).to.equal(before);
    });

    it("answers with the transaction when the node took it but its answer was lost", async () => {
      const res = await relayThrough("lose-answer");
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      const [sent] = res.body.transactions;
      expect(sent.hash).to.equal(keccak256(node.state.signed[0]!));
      expect((await provider().getTransactionReceipt(sent.hash))?.status).to.equal(1);
      await indexed();
    });

    it("names the transaction whose fate it cannot know when the node goes away after taking it", async () => {
      const res = await relayThrough("down-after-send");
      const hash = keccak256(node.state.signed[0]!);
      expect([res.status, res.body.error.code]).to.deep.equal([504, "SENT_OUTCOME_UNKNOWN"]);
      expect(res.body.error.message).to.match(
        new RegExp(
          `^transaction ${hash} \\(attestation 0\\) was handed to the chain node, which then stopped answering \\(.+\\): ` +
            `it may be mined; look it up by its hash before sending again \\(a repeat of a mined attestation is refused as a replay\\)$`,
        ),
      );
      expect(JSON.stringify(res.body)).not.to.include(node.state.signed[0]!.slice(2, 66));
      expect((await provider().getTransactionReceipt(hash))?.status, "it was mined").to.equal(1);
      await indexed();
    });
  });

  it("says exactly what was mined when the ledger changed between the dry run and the block: the bundle reverted whole", async () => {
    const codes = await packsFor("B-2024-012", 4);
    const batchId = await recordBatch(h.c, "B-2024-012", { quantity: 4n, codesRoot: codes.tree.root });
    const factory = await h.c.sign("BatchLedger", "FactoryRelease", h.c.cmo.key, { cmoId: h.c.cmo.id, batchId, certificateHash: hashText("QA") });
    const attestations = [
      { contract: "BatchLedger", type: "FactoryRelease", message: asJson(factory.message), signature: factory.signature },
      await marketRelease(h.c.mah, batchId, "release decision"),
    ];
    const pending = await provider().getTransactionCount(relay.relayer, "pending");
    await hre.network.provider.send("evm_setAutomine", [false]);
    try {
      const answer = post(attestations, true).then((res) => res);
      while ((await provider().getTransactionCount(relay.relayer, "pending")) === pending) await sleep(20);
      // The same factory release reaches the block first, by another sender paying more.
      const gwei = 1_000_000_000n;
      await h.c.batches.releaseFromFactory(factory.message as never, factory.signature, {
        maxPriorityFeePerGas: 100n * gwei,
        maxFeePerGas: 1000n * gwei,
      });
      await hre.network.provider.send("evm_mine", []);
      const res = await answer;
      expect([res.status, res.body.error.code]).to.deep.equal([422, "TRANSACTION_REVERTED"]);
      const block = await blockNumber();
      expect(res.body.error.message).to.match(
        new RegExp(
          `^transaction 0x[0-9a-f]{64} \\(attestations 0, 1\\) was mined in block ${block} but reverted: none of its attestations took effect`,
        ),
      );
    } finally {
      await hre.network.provider.send("evm_setAutomine", [true]);
    }
    expect(Number((await h.c.batches.batch(batchId)).state), "factory released by the other sender, not market released").to.equal(2);
    await indexed();
  });

  it("rate-limits anonymous callers like the other public routes", async () => {
    const limited = createApp({ ...h.services, config: { ...h.services.config, publicRateLimit: 2 } }, relayRoutes(relay));
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await request(limited).post("/v1/attestations").send({ attestations: [] })).status);
    expect(statuses).to.deep.equal([400, 400, 429]);
  });

  it("documents the relay in the OpenAPI document", async () => {
    const res = await request(app).get("/openapi.json").expect(200);
    const operation = res.body.paths["/v1/attestations"].post;
    expect(Object.keys(operation.responses)).to.include.members(["202", "400", "403", "409", "422"]);
    expect(operation.requestBody.content["application/json"].schema.properties.attestations.items.oneOf).to.have.length(ATTESTATION_SPECS.length);
  });
});
