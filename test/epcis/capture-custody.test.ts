import { afterAll, beforeAll, describe, it } from "vitest";
import { expect } from "chai";
import hre from "hardhat";
import type { HardhatNetworkHDAccountsConfig } from "hardhat/types";
import { HDNodeWallet, Mnemonic } from "ethers";
import request from "supertest";
import { createRelay } from "../../src/api/relay";
import type { Relay } from "../../src/api/relay";
import { withCheckDigit } from "../../src/codes";
import { epcisNames, EPCIS_CONTEXT } from "../../src/epcis/export";
import { encodeCall } from "../../src/ledger";
import type { SignedAttestation } from "../../src/ledger";
import { GTIN } from "../contracts/fixtures";
import type { Party } from "../contracts/fixtures";
import { deploymentOf } from "../indexer/chain";
import { apiHarness, HARNESS_PUBLIC_URL } from "../api/harness";
import type { ApiHarness } from "../api/harness";

type Json = Record<string, any>;

function hardhatAccountKey(index: number): string {
  const accounts = hre.config.networks.hardhat.accounts as HardhatNetworkHDAccountsConfig;
  return HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(accounts.mnemonic), `${accounts.path}/${index}`).privateKey;
}

const names = epcisNames(HARNESS_PUBLIC_URL);
const LOT = `https://id.gs1.org/01/${GTIN}/10/B-2024-001`;
const SSCC = withCheckDigit("06901234000000001");
const at = { eventTime: "2026-01-01T00:00:00Z", eventTimeZoneOffset: "+08:00" };
const documentOf = (...eventList: Json[]) => ({
  "@context": [EPCIS_CONTEXT],
  type: "EPCISDocument",
  schemaVersion: "2.0",
  creationDate: "2026-01-01T00:00:00Z",
  epcisBody: { eventList },
});
const shipping = (from: Party, to: Party, quantity: number) => ({
  type: "ObjectEvent",
  ...at,
  action: "OBSERVE",
  bizStep: "shipping",
  disposition: "in_transit",
  quantityList: [{ epcClass: LOT, quantity }],
  sourceList: [{ type: "possessing_party", source: names.party(from.id) }],
  destinationList: [{ type: "possessing_party", destination: names.party(to.id) }],
});
const aggregation = (action: "ADD" | "DELETE", packKeys: string[]) => ({
  type: "AggregationEvent",
  ...at,
  action,
  bizStep: action === "ADD" ? "packing" : "unpacking",
  parentID: `https://id.gs1.org/00/${SSCC}`,
  childEPCs: packKeys.map((key) => names.pack(key)),
});

describe("EPCIS capture of packing, unpacking and dispensing, signed by the organization or by its custody key", () => {
  let h: ApiHarness;
  let relay: Relay;
  const bearer = async (party: Party) => `Bearer ${await h.tokenFor(party)}`;
  const capture = async (party: Party, document: object, status: number) =>
    (
      await request(h.app)
        .post("/epcis/capture")
        .set("authorization", await bearer(party))
        .send(document)
        .expect(status)
    ).body as Json;
  const custody = async (method: "put" | "get" | "delete", party: Party, status: number, body?: object) => {
    const req = request(h.app)
      [method]("/epcis/custody")
      .set("authorization", await bearer(party));
    return (await (method === "put" ? req.send(body ?? { keepSigningKey: true }) : req).expect(status)).body as Json;
  };
  const blockNumber = () => h.c.relayer.provider!.getBlockNumber();
  /** Signs a prepared attestation as the organization's own signer would, and sends it. */
  const signAndSend = async (party: Party, prepared: Json) => {
    const signature = await party.key.signTypedData(prepared.domain, prepared.types, prepared.message);
    const { domain, types: _types, eventIndex: _index, ...attestation } = prepared;
    await (
      await h.c.relayer.sendTransaction({ to: domain.verifyingContract, data: encodeCall({ ...attestation, signature } as SignedAttestation) })
    ).wait();
  };
  const events = (name: string) => h.store.db.selectFrom("ledger_events").selectAll().where("name", "=", name).execute();

  beforeAll(async () => {
    h = await apiHarness();
    relay = createRelay({ rpcUrl: h.chain.url, relayerKey: hardhatAccountKey(1), deployment: await deploymentOf(h.c), store: h.store });
    h.services.relay = relay;
    const { released } = h.batches;
    await h.services.codes.register({ batchId: released.batchId.toLowerCase(), codes: released.printed, by: h.c.cmo.id, now: h.services.now() });
  });
  afterAll(async () => {
    relay.close();
    await h.close();
  });

  it("answers dispensing by serial unsigned, with the packs' multiproof, for the dispenser's own signer", async () => {
    const { packs } = h.batches.released;
    const dispensing = {
      type: "ObjectEvent",
      ...at,
      action: "OBSERVE",
      bizStep: "dispensing",
      epcList: [packs[2]!.key, packs[3]!.key].map(names.pack),
    };
    const job = await capture(h.c.dispenser, documentOf(dispensing), 202);
    expect([job.status, job.transactions]).to.deep.equal(["ACCEPTED", []]);
    const [prepared] = job.attestations as Json[];
    expect([prepared!.contract, prepared!.type, prepared!.message.dispenserId, prepared!.message.packs.length]).to.deep.equal([
      "BatchLedger",
      "Dispensing",
      h.c.dispenser.id,
      2,
    ]);
    expect(prepared!.proofFlags).to.be.an("array");
    await signAndSend(h.c.dispenser, prepared!);
    await h.indexer.catchUp();
    expect((await events("PacksDispensed")).length, "the harness's two and these").to.equal(2);
  });

  it("refuses a TransactionEvent, and a dispensing of unknown serials, each with its index, nothing applied", async () => {
    const transaction = {
      type: "TransactionEvent",
      ...at,
      action: "ADD",
      bizStep: "shipping",
      bizTransactionList: [{ type: "po", bizTransaction: "urn:epcglobal:cbv:bt:0614141000005:PO-1" }],
      epcList: [names.pack(h.batches.released.packs[4]!.key)],
    };
    const unknown = { type: "ObjectEvent", ...at, action: "OBSERVE", bizStep: "dispensing", epcList: [`https://id.gs1.org/01/${GTIN}/21/NOSUCH1`] };
    const { error } = await capture(h.c.dispenser, documentOf(unknown, transaction), 422);
    expect([error.code, error.field]).to.deep.equal(["EPCIS_EVENTS_REJECTED", "epcisBody.eventList.0"]);
    expect(error.message).to.match(/event 0: \(01\)06901234567892\(21\)NOSUCH1 is not registered on this server/);
    expect(error.message).to.match(/event 1: a TransactionEvent is not captured: the ledger records a change of custody only with the goods/);
  });

  it("keeps no key until the organization chooses custody, and then a key sealed at rest that acts once registered", async () => {
    expect((await custody("get", h.c.cmo, 404)).error.code).to.equal("NO_CUSTODY_KEY");
    await request(h.app).put("/epcis/custody").send({ keepSigningKey: true }).expect(401);
    // Custody is chosen explicitly, never by an empty or other request.
    expect((await custody("put", h.c.cmo, 400, {})).error.field).to.equal("keepSigningKey");
    expect((await custody("put", h.c.cmo, 400, { keepSigningKey: "yes" })).error.code).to.equal("INVALID_INPUT");
    expect(await h.store.db.selectFrom("custody_keys").selectAll().execute()).to.deep.equal([]);
    const chosen = await custody("put", h.c.cmo, 200);
    expect([chosen.organizationId, chosen.registered]).to.deep.equal([h.c.cmo.id, false]);
    expect((await custody("put", h.c.cmo, 200)).address, "choosing again keeps the key").to.equal(chosen.address);
    const row = await h.store.db.selectFrom("custody_keys").selectAll().where("organization_id", "=", h.c.cmo.id).executeTakeFirstOrThrow();
    const signer = (await h.services.custody!.signerOf(h.c.cmo.id))!;
    expect(signer.address.toLowerCase()).to.equal(chosen.address);
    expect(row.sealed_key, "the key is not stored in the clear").not.to.include(signer.privateKey.slice(2));
    const { message, signature } = await h.c.sign("ConsortiumRegistry", "SigningKeyAddition", h.c.cmo.key, {
      organizationId: h.c.cmo.id,
      signingKey: chosen.address,
    });
    await h.c.registry.addSigningKey(message as never, signature);
    await h.indexer.catchUp();
    expect((await custody("get", h.c.cmo, 200)).registered).to.equal(true);
  });

  it("applies a custody capture that spans contracts as one transaction, or nothing when its last event fails", async () => {
    const { packs } = h.batches.released;
    const before = await blockNumber();
    const holding = async () => (await h.c.batches.holding(h.batches.released.batchId, h.c.cmo.id)).quantity;
    expect(await holding()).to.equal(2n);
    // The CMO holds 2; after shipping 1 it would pack 2: the aggregation ledger refuses the last event.
    const failing = await capture(
      h.c.cmo,
      documentOf(shipping(h.c.cmo, h.c.distributor2, 1), aggregation("ADD", [packs[6]!.key, packs[7]!.key])),
      422,
    );
    expect([failing.error.code, failing.error.field]).to.deep.equal(["EPCIS_EVENTS_REJECTED", "epcisBody.eventList.1"]);
    expect(failing.error.message).to.match(/nothing applied: event 1: AGGREGATION_EXCEEDS_HOLDING: its attestation/);
    expect(await blockNumber(), "nothing was sent").to.equal(before);
    expect(await holding(), "the shipment was not applied either").to.equal(2n);
    const captureID = /capture ([0-9a-f-]{36}) rejected/.exec(failing.error.message)![1];
    const job = await request(h.app)
      .get(`/epcis/capture/${captureID}`)
      .set("authorization", await bearer(h.c.cmo))
      .expect(200);
    expect([job.body.status, job.body.transactions]).to.deep.equal(["REJECTED", []]);

    const accepted = await capture(h.c.cmo, documentOf(shipping(h.c.cmo, h.c.distributor2, 1), aggregation("ADD", [packs[7]!.key])), 202);
    expect(accepted.status).to.equal("SUBMITTED");
    expect(accepted.transactions.map((t: Json) => [t.contract, t.attestations])).to.deep.equal([["RelayBundle", [0, 1]]]);
    expect((await h.c.relayer.provider!.getTransactionReceipt(accepted.transactions[0].hash))?.status).to.equal(1);
    await h.indexer.catchUp();
    const custodyAddress = (await custody("get", h.c.cmo, 200)).address;
    const committed = await events("AggregationCommitted");
    expect(committed.map((e) => [e.tx_hash, e.signer])).to.deep.equal([[accepted.transactions[0].hash, custodyAddress]]);
    expect(await holding()).to.equal(1n);
  });

  it("captures an unpacking against the registered cases, signed and sent with the custody key", async () => {
    const { packs, printed } = h.batches.released;
    await request(h.app)
      .post(`/v1/batches/${h.batches.released.batchId}/aggregation`)
      .set("authorization", await bearer(h.c.cmo))
      .send({ aggregates: [{ container: `(00)${SSCC}`, contents: [printed[7]] }] })
      .expect(201);
    const job = await capture(h.c.cmo, documentOf(aggregation("DELETE", [packs[7]!.key])), 202);
    expect([job.status, job.attestations.map((a: Json) => a.type)]).to.deep.equal(["SUBMITTED", ["Unpacking"]]);
    await h.indexer.catchUp();
    expect((await events("UnitsUnpacked")).length).to.equal(1);
  });

  it("answers unsigned again once the organization withdraws from custody", async () => {
    expect(await custody("delete", h.c.cmo, 200)).to.deep.equal({ organizationId: h.c.cmo.id, erased: true });
    expect((await custody("delete", h.c.cmo, 404)).error.code).to.equal("NO_CUSTODY_KEY");
    const job = await capture(h.c.cmo, documentOf(shipping(h.c.cmo, h.c.distributor2, 1)), 202);
    expect([job.status, job.attestations.length, job.transactions]).to.deep.equal(["ACCEPTED", 1, []]);
  });
});
